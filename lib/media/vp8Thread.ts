/**
 * VP8 off the main thread. The main thread paces every session's audio on its event loop, and a VP8 encode takes
 * 5-10 ms of a 640x480 frame (a decode 3-5 ms): run there, each one delays every packet due meanwhile. One codec
 * thread (vp8Worker.ts, with its own libav.js instance) serves every session's encoders and decoders, and the
 * operating system shares the cores between it and the main thread, which keeps only RTP.
 *
 * ThreadedVp8Encoder and ThreadedVp8Decoder have the API of Vp8Encoder and Vp8Decoder. A thread that dies (a crash
 * inside libvpx) fails the calls waiting on it; the next call opens its codec again on a new thread, so an encoder
 * carries on from a keyframe and a decoder rejects until the caller's keyframe request is answered.
 */
import { Worker } from "node:worker_threads";
import { BundledFileError, bundledFileOverrides } from "../assets/bundledFiles.ts";
import { recordCodecTime } from "./codecTime.ts";
import type { EncodedVideoFrame, Vp8EncodeOptions, Vp8EncoderOptions } from "./vp8.ts";
import type { I420Image, ImageFormat, RawImage, RgbImage } from "./yuv.ts";

/** What the codec thread is started with. */
export interface Vp8ThreadData {
  /** useBundledFileOverrides' directory: the thread loads the same libav.js as the main thread. */
  assetsDir?: string;
}

export type Vp8Request = { id: number } & (
  | { op: "openEncoder"; codec: number; options: Vp8EncoderOptions }
  | { op: "openDecoder"; codec: number }
  | { op: "encode"; codec: number; image: RawImage; options: Vp8EncodeOptions }
  | { op: "decode"; codec: number; data: Uint8Array; format: ImageFormat }
  | { op: "close"; codec: number }
  | { op: "warmUp"; milliseconds: number }
);

export interface Vp8Reply {
  id: number;
  /** Time the thread spent on the request. */
  ms: number;
  error?: string;
  /** Set when the error was a BundledFileError, which is rebuilt on this side. */
  bundledFile?: { path: string; problem: string };
  frames?: EncodedVideoFrame[];
  image?: RawImage;
}

type Call = Vp8Request extends infer R ? (R extends Vp8Request ? Omit<R, "id"> : never) : never;

/**
 * Where the worker's entry is. From source, next to this file. In a `bun build --compile` binary every module is
 * bundled into one, so import.meta.url names the binary itself; scripts/build embeds the entry as a second entry
 * point, under its path from the repository root.
 */
function workerUrl(): URL | string {
  if (import.meta.url.startsWith("file:///$bunfs/")) return "/$bunfs/root/lib/media/vp8Worker.ts";
  return new URL("./vp8Worker.ts", import.meta.url);
}

/** One codec thread and the calls waiting on it. */
class Vp8Thread {
  static #current?: Vp8Thread;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (reply: Vp8Reply) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #failure?: Error;

  /** The thread new codecs open on: the running one, or a new one when there is none or it died. */
  static current(): Vp8Thread {
    if (!Vp8Thread.#current?.alive) Vp8Thread.#current = new Vp8Thread();
    return Vp8Thread.#current;
  }

  private constructor() {
    const workerData: Vp8ThreadData = { assetsDir: bundledFileOverrides() };
    this.#worker = new Worker(workerUrl(), { workerData });
    // An idle codec thread must not keep the process alive.
    this.#worker.unref();
    this.#worker.on("message", (reply: Vp8Reply) => {
      const call = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.error === undefined) call?.resolve(reply);
      else if (reply.bundledFile) call?.reject(new BundledFileError(reply.bundledFile.path, reply.bundledFile.problem));
      else call?.reject(new Error(reply.error));
    });
    this.#worker.on("error", (error: Error) => this.#fail(error));
    this.#worker.on("exit", (code) => this.#fail(new Error(`VP8 codec thread exited with code ${code}`)));
  }

  get alive(): boolean {
    return this.#failure === undefined;
  }

  /** A number for a new codec, unique within this thread. */
  newCodec(): number {
    return this.#nextId++;
  }

  call(call: Call, transfer: ArrayBuffer[] = []): Promise<Vp8Reply> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const reply = new Promise<Vp8Reply>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#worker.postMessage({ ...call, id }, transfer);
    return reply;
  }

  /** Ends the thread (tests use it to stand for a crash). */
  terminate(): Promise<number> {
    return this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const call of this.#pending.values()) call.reject(this.#failure);
    this.#pending.clear();
  }
}

/** A codec opened on the current thread, and opened again on a new one when that thread died. */
abstract class ThreadedCodec {
  #opened?: Promise<{ thread: Vp8Thread; codec: number }>;
  #closed = false;

  protected abstract open(thread: Vp8Thread, codec: number): Promise<unknown>;

  /** The thread and number the codec has there, opening it first when needed. */
  protected opened(operation: string): Promise<{ thread: Vp8Thread; codec: number }> {
    if (this.#closed) return Promise.reject(new Error(`${this.constructor.name}.${operation} after close()`));
    const opened = this.#opened;
    if (opened) return opened.then(({ thread }) => (thread.alive ? opened : this.#open()), () => this.#open());
    return this.#open();
  }

  protected async call(operation: string, call: (codec: number) => Call, transfer?: ArrayBuffer[]): Promise<Vp8Reply> {
    const { thread, codec } = await this.opened(operation);
    return await thread.call(call(codec), transfer);
  }

  /** Frees the codec in its thread. Idempotent; any later call rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#opened?.then(({ thread, codec }) => thread.call({ op: "close", codec })).catch(() => {});
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(): Promise<{ thread: Vp8Thread; codec: number }> {
    const thread = Vp8Thread.current();
    const codec = thread.newCodec();
    this.#opened = this.open(thread, codec).then(() => ({ thread, codec }));
    return this.#opened;
  }
}

/** Vp8Encoder in the codec thread. */
export class ThreadedVp8Encoder extends ThreadedCodec {
  readonly #options: Vp8EncoderOptions;
  #keyframeRequested = false;
  /** Pictures on their way to the thread (shared, so posting it copies nothing). */
  #shared = new Uint8Array(new SharedArrayBuffer(0));
  #previous: Promise<unknown> = Promise.resolve();

  private constructor(options: Vp8EncoderOptions) {
    super();
    this.#options = options;
  }

  /** Opens the encoder in the codec thread (starting the thread when none runs). */
  static async create(options: Vp8EncoderOptions = {}): Promise<ThreadedVp8Encoder> {
    const encoder = new ThreadedVp8Encoder(options);
    await encoder.opened("create");
    return encoder;
  }

  protected override open(thread: Vp8Thread, codec: number): Promise<unknown> {
    return thread.call({ op: "openEncoder", codec, options: this.#options });
  }

  /** The next encoded frame will be a keyframe. */
  requestKeyframe(): void {
    this.#keyframeRequested = true;
  }

  /**
   * As Vp8Encoder.encode; the caller keeps its picture. The picture is copied into memory this encoder shares with the
   * thread, which reads it from there: a fresh buffer per frame, or a structured clone, cost the main thread 0.5-2 ms a
   * 640x480 frame (page faults), where copying into memory already in use costs a few microseconds. One encode at a
   * time uses that memory: calls made meanwhile wait their turn.
   */
  encode(image: RawImage, options: Vp8EncodeOptions = {}): Promise<EncodedVideoFrame[]> {
    const keyframe = options.keyframe || this.#keyframeRequested;
    this.#keyframeRequested = false;
    const encoded = this.#previous.then(() => this.#encode(image, { ...options, keyframe }));
    this.#previous = encoded.catch(() => {});
    return encoded;
  }

  async #encode(image: RawImage, options: Vp8EncodeOptions): Promise<EncodedVideoFrame[]> {
    const length = image.data.length;
    if (this.#shared.length < length) this.#shared = new Uint8Array(new SharedArrayBuffer(length));
    const data = this.#shared.subarray(0, length);
    data.set(image.data);
    const reply = await this.call("encode", (codec) => ({ op: "encode", codec, image: { ...image, data }, options }));
    recordCodecTime("vp8", "encode", reply.ms);
    return reply.frames ?? [];
  }
}

/** Vp8Decoder in the codec thread. */
export class ThreadedVp8Decoder extends ThreadedCodec {
  /** Opens the decoder in the codec thread (starting the thread when none runs). */
  static async create(): Promise<ThreadedVp8Decoder> {
    const decoder = new ThreadedVp8Decoder();
    await decoder.opened("create");
    return decoder;
  }

  protected override open(thread: Vp8Thread, codec: number): Promise<unknown> {
    return thread.call({ op: "openDecoder", codec });
  }

  /**
   * As Vp8Decoder.decode. The frame's buffer is handed to the thread when the frame spans all of it (a depacketiser's
   * output does): the caller must not use it afterwards.
   */
  decode(frame: Uint8Array, format?: "I420"): Promise<I420Image | undefined>;
  decode(frame: Uint8Array, format: "RGB"): Promise<RgbImage | undefined>;
  decode(frame: Uint8Array, format: ImageFormat): Promise<RawImage | undefined>;
  async decode(frame: Uint8Array, format: ImageFormat = "I420"): Promise<RawImage | undefined> {
    const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
    const data = whole ? frame : frame.slice();
    const reply = await this.call(
      "decode",
      (codec) => ({ op: "decode", codec, data, format }),
      [data.buffer as ArrayBuffer],
    );
    recordCodecTime("vp8", "decode", reply.ms);
    return reply.image;
  }
}

/** Warms up the codec thread's VP8 (see warmUpVideo), starting the thread: call once at start-up. */
export async function warmUpVideoThread(milliseconds?: number): Promise<void> {
  await Vp8Thread.current().call({ op: "warmUp", milliseconds: milliseconds ?? 500 });
}

/** Ends the codec thread, as a crash would: its codecs open again on a new thread at their next call. */
export async function terminateVp8Thread(): Promise<void> {
  await Vp8Thread.current().terminate();
}
