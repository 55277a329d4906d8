/**
 * Binary files (WASM modules, the VAD model) that the media stack loads at run time. From source they are read out
 * of node_modules; `scripts/build` embeds the same files in the binary under `/$bunfs/root/assets`, because a Bun
 * binary freezes module paths at build time and would otherwise look for them on the build machine.
 * Only `node:fs` is used, so this works unchanged under Bun, Deno and inside the compiled binary.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Embedded name -> npm path it comes from. `scripts/build` copies exactly these. */
export const BUNDLED_FILES = {
  "opus.wasm": "@evan/opus/wasm/simd.wasm",
  "speex-resampler.wasm": "@echogarden/speex-resampler-wasm/wasm/speex-resampler-simd.wasm",
  "libav-vp8-opus.wasm": "@libav.js/variant-vp8-opus/dist/libav-6.10.9.0-vp8-opus.wasm.wasm",
  "ort-wasm-simd-threaded.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
  "silero_vad_v5.onnx": "@ricky0123/vad-web/dist/silero_vad_v5.onnx",
} as const;

export type BundledFile = keyof typeof BUNDLED_FILES;

/** Where `bun build --compile --asset <dir>/assets` puts the files inside the binary. */
export const EMBEDDED_ROOT = "/$bunfs/root/assets";

const cache = new Map<BundledFile, Uint8Array<ArrayBuffer>>();
let overrideDir: string | undefined;

/**
 * Makes files in `dir` (same names as above) replace the embedded ones, e.g. a self-built libav.js: LGPL components
 * stay replaceable without rebuilding the binary. Call before any codec is created.
 */
export function useBundledFileOverrides(dir: string | undefined): void {
  overrideDir = dir;
  cache.clear();
}

export function bundledFile(name: BundledFile): Uint8Array<ArrayBuffer> {
  let bytes = cache.get(name);
  if (!bytes) {
    bytes = new Uint8Array(readFileSync(bundledFilePath(name)));
    cache.set(name, bytes);
  }
  return bytes;
}

export function bundledFilePath(name: BundledFile): string {
  if (overrideDir && existsSync(join(overrideDir, name))) return join(overrideDir, name);
  const embedded = `${EMBEDDED_ROOT}/${name}`;
  if (existsSync(embedded)) return embedded;
  return nodeModulesPath(BUNDLED_FILES[name]);
}

/** Looks the file up in the nearest node_modules by path: package "exports" maps do not list these files. */
function nodeModulesPath(spec: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", spec);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`bundled file ${spec} is missing: run npm ci`);
  }
}
