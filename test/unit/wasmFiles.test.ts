/**
 * Every bundled WASM file and the VAD model is checked before anything calls it. A wrong file in assetsDir stops the
 * start-up check with one line naming it and what is wrong, and no binding can reach it; a good replacement is
 * accepted and used; a pinned file whose bytes changed fails its hash check with both hashes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  BUNDLED_FILES,
  type BundledFile,
  bundledFile,
  BundledFileError,
  bundledFilePath,
  bundledModule,
  instantiateBundled,
  useBundledFileOverrides,
} from "../../lib/assets/bundledFiles.ts";
import { LIBAV_WASM } from "../../lib/media/libav.ts";
import { OPUS_WASM } from "../../lib/media/opus.ts";
import { SPEEX_WASM } from "../../lib/media/resampler.ts";
import { RNNOISE_WASM } from "../../lib/audio/filters/rnnoise.ts";
import { checkCodecFiles } from "../../lib/media/warmUp.ts";
import { loadSileroModel } from "../../lib/audio/vad/sileroModel.ts";
import { repoRoot } from "../../scripts/support/paths.ts";

afterEach(() => useBundledFileOverrides(undefined));

const NAMES = Object.keys(BUNDLED_FILES) as BundledFile[];
const npmFile = (spec: string) => join(repoRoot, "node_modules", spec);
const original = (name: BundledFile) => readFileSync(npmFile(BUNDLED_FILES[name].from));

/** A fresh assetsDir holding `files`. */
function assetsDir(files: Record<string, Uint8Array | string>): string {
  const dir = mkdtempSync(join(tmpdir(), "swrtc-assets-"));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

/** The error the start-up check stops with, with `dir` as assetsDir. */
function startupError(dir: string): BundledFileError {
  useBundledFileOverrides(dir);
  try {
    checkCodecFiles();
  } catch (error) {
    if (error instanceof BundledFileError) return error;
    throw error;
  }
  throw new Error(`the start-up check accepted ${dir}`);
}

describe("bundled files as pinned", () => {
  test("each matches its pinned SHA-256, and each module offers what its binding declares", () => {
    for (const name of NAMES) expect(bundledFile(name).length).toBeGreaterThan(10_000);
    for (const binding of [OPUS_WASM, SPEEX_WASM, LIBAV_WASM, RNNOISE_WASM]) {
      expect(bundledModule(binding)).toBeInstanceOf(WebAssembly.Module);
    }
    expect(checkCodecFiles()).toEqual([]);
  });

  test("a pinned file whose bytes changed fails its hash check, naming the file and both hashes", async () => {
    // A copy of lib/assets finds its files in the node_modules next to it: all the real ones, but a changed opus.
    const root = mkdtempSync(join(tmpdir(), "swrtc-pinned-"));
    mkdirSync(join(root, "lib/assets"), { recursive: true });
    for (const file of ["bundledFiles.ts", "wasmInterface.ts"]) {
      copyFileSync(join(repoRoot, "lib/assets", file), join(root, "lib/assets", file));
    }
    for (const name of NAMES) {
      const target = join(root, "node_modules", BUNDLED_FILES[name].from);
      mkdirSync(dirname(target), { recursive: true });
      if (name !== "opus.wasm") symlinkSync(npmFile(BUNDLED_FILES[name].from), target);
    }
    const changed = original("opus.wasm");
    changed[changed.length >> 1] ^= 1;
    const changedPath = join(root, "node_modules", BUNDLED_FILES["opus.wasm"].from);
    writeFileSync(changedPath, changed);
    type BundledFiles = typeof import("../../lib/assets/bundledFiles.ts");
    const copy: BundledFiles = await import(join(root, "lib/assets/bundledFiles.ts"));

    expect(copy.bundledFile("speex-resampler.wasm").length).toBe(original("speex-resampler.wasm").length);
    const actual = createHash("sha256").update(changed).digest("hex");
    expect(() => copy.bundledFile("opus.wasm")).toThrow(
      `${changedPath}: SHA-256 is ${actual}, expected ${BUNDLED_FILES["opus.wasm"].sha256}`,
    );
    expect(() => copy.bundledModule(OPUS_WASM)).toThrow(copy.BundledFileError);
  });
});

describe("files replaced through assetsDir", () => {
  test("the opus build under the resampler's name: one line naming the file and what it lacks, and no call", () => {
    const dir = assetsDir({ "speex-resampler.wasm": original("opus.wasm") });
    const error = startupError(dir);
    expect(error.message).toBe(
      `${dir}/speex-resampler.wasm: not a speex-resampler.wasm that this server can use: ` +
        "lacks exports c (memory), d, e, h, j, o, z, B, C; needs imports that are not supplied: " +
        "wasi_snapshot_preview1.proc_exit, env.emscripten_notify_memory_growth, wasi_snapshot_preview1.fd_close, " +
        "wasi_snapshot_preview1.fd_write, wasi_snapshot_preview1.fd_seek",
    );
    // The binding's only way to the module refuses it too, so nothing is ever called with the wrong pointers...
    expect(() => instantiateBundled(SPEEX_WASM)).toThrow(error.message);
    // ...while the pinned build, reached the same way, is called.
    useBundledFileOverrides(undefined);
    const speex = instantiateBundled(SPEEX_WASM);
    expect(speex.c.buffer.byteLength).toBeGreaterThan(0);
  });

  // One line (`.` stops at a line break) that names the file.
  const notWasm = (name: string) =>
    new RegExp(`^\\S+/${name.replaceAll(".", "\\.")}: not a valid WebAssembly module \\(.+\\)$`);
  test.each<{ what: string; name: BundledFile; bytes: () => Uint8Array | string; line: RegExp }>([
    {
      what: "a truncated file",
      name: "speex-resampler.wasm",
      bytes: () => original("speex-resampler.wasm").subarray(0, 10_000),
      line: notWasm("speex-resampler.wasm"),
    },
    {
      what: "a file that is not WASM",
      name: "opus.wasm",
      bytes: () => "#!/bin/sh\necho hi\n",
      line: notWasm("opus.wasm"),
    },
    {
      what: "a third-party module's replacement without its exports",
      name: "libav-vp8-opus.wasm",
      bytes: () => original("speex-resampler.wasm"),
      line: new RegExp(
        "^\\S+/libav-vp8-opus\\.wasm: not a libav-vp8-opus\\.wasm that this server can use: " +
          "lacks exports W \\(memory\\), X, Y, Z, _, \\$, aa, ba, ca, da and \\d+ more$",
      ),
    },
    {
      what: "the opus build under RNNoise's name",
      name: "rnnoise.wasm",
      bytes: () => original("opus.wasm"),
      line: new RegExp(
        "^\\S+/rnnoise\\.wasm: not a rnnoise\\.wasm that this server can use: lacks exports c \\(memory\\), d, f, g, " +
          "h, i, j; needs imports that are not supplied: wasi_snapshot_preview1\\.proc_exit, .+$",
      ),
    },
    {
      what: "onnxruntime's module, not WASM",
      name: "ort-wasm-simd-threaded.wasm",
      bytes: () => "not wasm",
      line: notWasm("ort-wasm-simd-threaded.wasm"),
    },
  ])("$what is one line naming it", ({ name, bytes, line }) => {
    const error = startupError(assetsDir({ [name]: bytes() }));
    expect(error.message).toMatch(line);
    expect(error.path).toEndWith(`/${name}`);
  });

  test("an assetsDir that is not a directory is one line", () => {
    const missing = join(tmpdir(), "swrtc-no-such-assets-dir");
    expect(startupError(missing).message).toBe(`${missing}: assetsDir is not a directory`);
  });

  test("good replacements are accepted and used: other builds for our own bindings, pinned third-party ones", () => {
    const dir = assetsDir({
      "opus.wasm": readFileSync(npmFile("@evan/opus/wasm/opus.wasm")),
      "speex-resampler.wasm": readFileSync(
        npmFile("@echogarden/speex-resampler-wasm/wasm/speex-resampler-nonsimd.wasm"),
      ),
      "libav-vp8-opus.wasm": original("libav-vp8-opus.wasm"),
    });
    useBundledFileOverrides(dir);
    expect(checkCodecFiles()).toEqual(["opus.wasm", "speex-resampler.wasm", "libav-vp8-opus.wasm"]);
    expect(bundledFilePath("opus.wasm")).toBe(join(dir, "opus.wasm"));
    // The non-SIMD opus build differs from the pinned one and still serves the binding.
    expect(createHash("sha256").update(readFileSync(join(dir, "opus.wasm"))).digest("hex")).not.toBe(
      BUNDLED_FILES["opus.wasm"].sha256,
    );
    const opus = instantiateBundled(OPUS_WASM);
    opus._initialize();
    expect(opus.opus_encoder_get_size(1)).toBeGreaterThan(1000);
  });

  test("a replaced VAD model is checked when it loads: not ONNX, or without Silero's inputs, is one line", async () => {
    useBundledFileOverrides(assetsDir({ "silero_vad_v5.onnx": "not a model" }));
    await expect(loadSileroModel()).rejects.toThrow(
      /^\S+\/silero_vad_v5\.onnx: onnxruntime cannot load the model \(.+\)$/,
    );
    const legacy = readFileSync(npmFile("@ricky0123/vad-web/dist/silero_vad_legacy.onnx"));
    useBundledFileOverrides(assetsDir({ "silero_vad_v5.onnx": legacy }));
    await expect(loadSileroModel()).rejects.toThrow(
      /^\S+\/silero_vad_v5\.onnx: not a Silero VAD v5 model: lacks input state, output stateN$/,
    );
    useBundledFileOverrides(undefined);
    const model = await loadSileroModel();
    const { probability } = await model.run(new Float32Array(576), new Float32Array(256), 16000);
    expect(probability).toBeGreaterThanOrEqual(0);
  }, 30_000);
});
