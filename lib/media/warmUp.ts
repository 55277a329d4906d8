/**
 * JSC runs WASM about 2x slower until its optimising tier kicks in (after roughly 400 ms of codec work), so the
 * codecs are exercised once at start-up. It runs after the server listens, in slices of 20 ms that yield to the
 * event loop between them, so a client that connects during warm-up is never held up behind it.
 */
import { warmUpOpus } from "./opus.ts";

const SLICE_MS = 20;

export async function warmUpAudio(totalMs = 400): Promise<void> {
  for (let spent = 0; spent < totalMs; spent += SLICE_MS) {
    warmUpOpus(SLICE_MS);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
