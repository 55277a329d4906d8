/**
 * Start-up work for the codecs. Before the server listens, every file that `assetsDir` replaces is checked, so a bad
 * one stops it with one line instead of failing the first call. After it listens, the codecs are exercised once: JSC
 * runs WASM about 2x slower until its optimising tier kicks in (after roughly 400 ms of codec work), in slices of
 * 20 ms that yield to the event loop between them, so a client that connects during warm-up is never held up.
 */
import { type BundledFile, checkBundledFiles } from "../assets/bundledFiles.ts";
import { RNNOISE_WASM } from "../audio/filters/rnnoise.ts";
import { LIBAV_WASM } from "./libav.ts";
import { OPUS_WASM, warmUpOpus } from "./opus.ts";
import { SPEEX_WASM } from "./resampler.ts";

const SLICE_MS = 20;

/** Checks the files that `assetsDir` replaces (see checkBundledFiles) and returns their names. */
export function checkCodecFiles(): BundledFile[] {
  return checkBundledFiles([OPUS_WASM, SPEEX_WASM, LIBAV_WASM, RNNOISE_WASM]);
}

export async function warmUpAudio(totalMs = 400): Promise<void> {
  for (let spent = 0; spent < totalMs; spent += SLICE_MS) {
    warmUpOpus(SLICE_MS);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
