import { afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundledFile, bundledFilePath, useBundledFileOverrides } from "../../lib/assets/bundledFiles.ts";

afterEach(() => useBundledFileOverrides(undefined));

describe("bundled files", () => {
  test("every file resolves from node_modules when running from source", () => {
    expect(bundledFile("opus.wasm").length).toBeGreaterThan(100_000);
    expect(bundledFilePath("silero_vad_v5.onnx")).toContain("node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx");
  });

  test("an override directory replaces the files it holds (to swap the LGPL libav.js build) and only those", () => {
    const dir = mkdtempSync(join(tmpdir(), "swrtc-assets-"));
    copyFileSync(bundledFilePath("libav-vp8-opus.wasm"), join(dir, "libav-vp8-opus.wasm"));
    useBundledFileOverrides(dir);
    expect(bundledFilePath("libav-vp8-opus.wasm")).toBe(join(dir, "libav-vp8-opus.wasm"));
    expect(bundledFilePath("opus.wasm")).toContain("node_modules");
  });
});
