/**
 * Entry of the VP8 codec thread that vp8Thread.ts starts: every session's VP8 encoders and decoders, with the colour
 * conversions they include, run here, one request at a time in the order they came, so a 5-10 ms encode never holds
 * up the main thread, which paces every session's audio.
 */
import { parentPort, workerData } from "node:worker_threads";
import { BundledFileError, useBundledFileOverrides } from "../assets/bundledFiles.ts";
import { Vp8Decoder, Vp8Encoder, warmUpVideo } from "./vp8.ts";
import type { Vp8Reply, Vp8Request, Vp8ThreadData } from "./vp8Thread.ts";

const port = parentPort;
if (!port) throw new Error("vp8Worker.ts runs as a worker thread, started by vp8Thread.ts");
useBundledFileOverrides((workerData as Vp8ThreadData).assetsDir);

const encoders = new Map<number, Vp8Encoder>();
const decoders = new Map<number, Vp8Decoder>();
let queue = Promise.resolve();

port.on("message", (request: Vp8Request) => {
  queue = queue.then(() => answer(request));
});

async function answer(request: Vp8Request): Promise<void> {
  const start = performance.now();
  try {
    const { reply, transfer } = await run(request);
    port!.postMessage({ id: request.id, ms: performance.now() - start, ...reply } satisfies Vp8Reply, transfer);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A libav.js file that fails its check stops the server at warm-up: the main thread needs the error's kind.
    const bundledFile = error instanceof BundledFileError ? { path: error.path, problem: error.problem } : undefined;
    const reply: Vp8Reply = { id: request.id, ms: performance.now() - start, error: message, bundledFile };
    port!.postMessage(reply);
  }
}

async function run(request: Vp8Request): Promise<{ reply: Partial<Vp8Reply>; transfer: ArrayBuffer[] }> {
  switch (request.op) {
    case "openEncoder":
      encoders.set(request.codec, await Vp8Encoder.create(request.options));
      return { reply: {}, transfer: [] };
    case "openDecoder":
      decoders.set(request.codec, await Vp8Decoder.create());
      return { reply: {}, transfer: [] };
    case "encode": {
      const frames = await codec(encoders, request.codec).encode(request.image, request.options);
      return { reply: { frames }, transfer: frames.map((frame) => frame.data.buffer as ArrayBuffer) };
    }
    case "decode": {
      const image = await codec(decoders, request.codec).decode(request.data, request.format);
      return { reply: { image }, transfer: image ? [image.data.buffer as ArrayBuffer] : [] };
    }
    case "close":
      encoders.get(request.codec)?.close();
      decoders.get(request.codec)?.close();
      encoders.delete(request.codec);
      decoders.delete(request.codec);
      return { reply: {}, transfer: [] };
    case "warmUp":
      await warmUpVideo(request.milliseconds);
      return { reply: {}, transfer: [] };
  }
}

function codec<T>(codecs: Map<number, T>, id: number): T {
  const found = codecs.get(id);
  if (!found) throw new Error(`VP8 codec ${id} is not open in the codec thread`);
  return found;
}
