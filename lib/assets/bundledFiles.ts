/**
 * Binary files (WASM modules, the VAD model) that the media stack loads at run time, handed out only after a check.
 * From source they are read out of node_modules; `scripts/build` embeds the same files in the binary under
 * `/$bunfs/root/assets`, because a Bun binary freezes module paths at build time and would otherwise look for them on
 * the build machine. `assetsDir` can replace any of them (LGPL libav.js must stay replaceable).
 *
 * A wrong file would be called with wrong pointers, so none is used unchecked: a file that is not replaced must match
 * the SHA-256 pinned below, and a replaced WASM file that differs from its pin must offer the interface its binding
 * needs (see wasmInterface.ts). Each file is checked once per process; a failure is one BundledFileError line.
 * Only `node:` modules are used, so this works unchanged under Bun, Deno and inside the compiled binary.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  declaredInterface,
  interfaceOf,
  interfaceProblem,
  type WasmBinding,
  type WasmExportDeclarations,
  type WasmExports,
  type WasmInterface,
} from "./wasmInterface.ts";

/**
 * Embedded name -> the npm file it comes from, and that file's SHA-256: the very build its binding was written
 * against. `scripts/build` copies exactly these. A dependency update that changes a file stops the server until its
 * binding has been checked against the new build and the hash updated here.
 */
export const BUNDLED_FILES = {
  "opus.wasm": {
    from: "@evan/opus/wasm/simd.wasm",
    sha256: "47705009f5a81ccf6b091d45b6e8f75d3f419ff27b75145c6c9a85d9dbd6f51c",
  },
  "speex-resampler.wasm": {
    from: "@echogarden/speex-resampler-wasm/wasm/speex-resampler-simd.wasm",
    sha256: "8d8cc15131ea449400338b15e2ec5eef79c9329ca2b96c5759fa0304f4d4b57c",
  },
  "libav-vp8-opus.wasm": {
    from: "@libav.js/variant-vp8-opus/dist/libav-6.10.9.0-vp8-opus.wasm.wasm",
    sha256: "38fb807eb5119bcfa086d68ffa1799a2fb4f452027c4c45d639ce1a918462e4e",
  },
  "ort-wasm-simd-threaded.wasm": {
    from: "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    sha256: "3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2",
  },
  "rnnoise.wasm": {
    from: "@jitsi/rnnoise-wasm/dist/rnnoise.wasm",
    sha256: "677147b9248aedc0a00de79dc090d1ecead37c08c8bb773a790da16109d2c487",
  },
  "silero_vad_v5.onnx": {
    from: "@ricky0123/vad-web/dist/silero_vad_v5.onnx",
    sha256: "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f",
  },
} as const;

export type BundledFile = keyof typeof BUNDLED_FILES;

/** Where `bun build --compile --asset <dir>/assets` puts the files inside the binary. */
export const EMBEDDED_ROOT = "/$bunfs/root/assets";

/** A bundled file that must not be used: `path` names it, `problem` says what is wrong, on one line. */
export class BundledFileError extends Error {
  override name = "BundledFileError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

let overrideDir: string | undefined;
const checked = new Set<BundledFile>();
/** Compiled modules of files that a binding instantiates, so that no file is compiled twice. */
const modules = new Map<BundledFile, WebAssembly.Module>();

/**
 * Makes files in `dir` (same names as above) replace the embedded ones, e.g. a self-built libav.js: LGPL components
 * stay replaceable without rebuilding the binary. Call before any codec is created.
 */
export function useBundledFileOverrides(dir: string | undefined): void {
  overrideDir = dir;
  checked.clear();
  modules.clear();
}

/** The directory given to useBundledFileOverrides, for a worker thread to use the same files. */
export function bundledFileOverrides(): string | undefined {
  return overrideDir;
}

/**
 * Checks every file that `assetsDir` replaces, before the server listens, so a bad one stops it at once rather than
 * at the first call. A replaced WASM file is compiled for that, and the module kept for its binding among
 * `bindings`. The pinned files are left to their first load, which hashes the bytes it reads anyway: scripts/build
 * hashed them before embedding them, and reading all 18 MB back out of the binary at start-up took 190-400 ms.
 * Returns the names of the replaced files.
 */
export function checkBundledFiles(bindings: readonly WasmBinding[]): BundledFile[] {
  if (overrideDir !== undefined && !statSync(overrideDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new BundledFileError(overrideDir, "assetsDir is not a directory");
  }
  const replacedFiles: BundledFile[] = [];
  for (const name of Object.keys(BUNDLED_FILES) as BundledFile[]) {
    const { path, replaced } = locate(name);
    if (!replaced) continue;
    replacedFiles.push(name);
    if (checked.has(name)) continue;
    const binding = bindings.find((candidate) => candidate.file === name);
    const module = check(name, path, replaced, readFileSync(path), binding);
    checked.add(name);
    if (module && binding) modules.set(name, module);
  }
  return replacedFiles;
}

/** The file's bytes, checked first. For the files that third-party code compiles or parses itself. */
export function bundledFile(name: BundledFile): Uint8Array<ArrayBuffer> {
  const { path, replaced } = locate(name);
  const bytes = new Uint8Array(readFileSync(path));
  if (!checked.has(name)) check(name, path, replaced, bytes);
  checked.add(name);
  return bytes;
}

/** The file's compiled module, checked first and compiled once per process. */
export function bundledModule(binding: WasmBinding): WebAssembly.Module {
  const cached = modules.get(binding.file);
  if (cached) return cached;
  const { path, bytes, module } = checkForBinding(binding);
  return keep(binding, path, module ?? compile(path, bytes));
}

/** Like `bundledModule`, but compiles off the main thread: for libav.js, which takes about 150 ms to compile. */
export async function compileBundledModule(binding: WasmBinding): Promise<WebAssembly.Module> {
  const cached = modules.get(binding.file);
  if (cached) return cached;
  const { path, bytes, module } = checkForBinding(binding);
  return keep(binding, path, module ?? (await WebAssembly.compile(bytes).catch((error) => notWasm(path, error))));
}

/** Instantiates our own binding with the imports it declares, and returns the exports typed as it declares them. */
export function instantiateBundled<D extends WasmExportDeclarations>(
  binding: Required<WasmBinding<D>>,
): WasmExports<D> {
  const module = bundledModule(binding);
  try {
    return new WebAssembly.Instance(module, binding.imports).exports as unknown as WasmExports<D>;
  } catch (error) {
    if (!(error instanceof WebAssembly.LinkError)) throw error;
    throw new BundledFileError(locate(binding.file).path, `cannot be linked: ${oneLine(error)}`);
  }
}

export function bundledFilePath(name: BundledFile): string {
  return locate(name).path;
}

function locate(name: BundledFile): { path: string; replaced: boolean } {
  if (overrideDir && existsSync(join(overrideDir, name))) return { path: join(overrideDir, name), replaced: true };
  return { path: originalPath(name), replaced: false };
}

function originalPath(name: BundledFile): string {
  const embedded = `${EMBEDDED_ROOT}/${name}`;
  return existsSync(embedded) ? embedded : nodeModulesPath(BUNDLED_FILES[name].from);
}

/** Looks the file up in the nearest node_modules by path: package "exports" maps do not list these files. */
function nodeModulesPath(spec: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", spec);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new BundledFileError(spec, "missing from node_modules: run npm ci");
  }
}

/** Reads, and checks unless checked before, the file of `binding`; `module` is set when checking compiled it. */
function checkForBinding(binding: WasmBinding): {
  path: string;
  bytes: Uint8Array<ArrayBuffer>;
  module?: WebAssembly.Module;
} {
  const { path, replaced } = locate(binding.file);
  const bytes = readFileSync(path);
  const module = checked.has(binding.file) ? undefined : check(binding.file, path, replaced, bytes, binding);
  checked.add(binding.file);
  return { path, bytes, module };
}

/** Holds our own bindings to their declaration on every load (cheap once compiled), then keeps the module. */
function keep(binding: WasmBinding, path: string, module: WebAssembly.Module): WebAssembly.Module {
  const declared = declaredInterface(binding);
  const problem = declared && interfaceProblem(module, declared);
  if (problem) throw new BundledFileError(path, `not a ${binding.file} that this server can use: ${problem}`);
  modules.set(binding.file, module);
  return module;
}

/**
 * A file that is not replaced must match its pin. A replaced file that matches it is the original; one that does
 * not must, if it is WASM, offer what `binding` declares, or else what the pinned original offers (a replaced model
 * is checked when it loads: lib/audio/vad/sileroModel.ts). Returns the module when it had to compile it.
 */
function check(
  name: BundledFile,
  path: string,
  replaced: boolean,
  bytes: Uint8Array<ArrayBuffer>,
  binding?: WasmBinding,
): WebAssembly.Module | undefined {
  const pin = BUNDLED_FILES[name].sha256;
  const actual = sha256(bytes);
  if (actual === pin) return undefined;
  if (!replaced) throw new BundledFileError(path, `SHA-256 is ${actual}, expected ${pin}`);
  if (!name.endsWith(".wasm")) return undefined;
  const module = compile(path, bytes);
  const problem = interfaceProblem(module, (binding && declaredInterface(binding)) ?? originalInterface(name));
  if (problem) throw new BundledFileError(path, `not a ${name} that this server can use: ${problem}`);
  return module;
}

/** What the pinned original exports and imports: third-party glue was written against exactly that. */
function originalInterface(name: BundledFile): WasmInterface {
  const path = originalPath(name);
  const bytes = readFileSync(path);
  check(name, path, false, bytes);
  return interfaceOf(compile(path, bytes));
}

function compile(path: string, bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes);
  } catch (error) {
    return notWasm(path, error);
  }
}

function notWasm(path: string, error: unknown): never {
  throw new BundledFileError(path, `not a valid WebAssembly module (${oneLine(error)})`);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
}
