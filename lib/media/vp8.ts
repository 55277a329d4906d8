/**
 * VP8 encoder and decoder (libvpx through the shared libav.js instance). Each encoder or decoder is one codec context
 * inside that instance. Calls run synchronously on the caller's thread; sessions use them through the codec thread
 * (vp8Thread.ts), which has the same async API.
 */
import {
  AV_PIX_FMT_YUV420P,
  AVERROR_EAGAIN,
  check,
  type LibAV,
  readI420Frame,
  readRgbFrame,
  sharedLibAV,
  writeFrame,
} from "./libav.ts";
import type { I420Image, ImageFormat, RawImage, RgbImage } from "./yuv.ts";

export interface Vp8EncoderOptions {
  /** Target bits per second. Default 800 000: a clean 640x480 at 30 fps for camera-like content. */
  bitrate?: number;
  /** Frame rate the rate control assumes until timestamps say otherwise. Default 30. */
  framerate?: number;
  /**
   * At most this many frames between keyframes, on top of requested ones, so a receiver whose keyframe request got
   * lost recovers by itself. Default 300 (10 s at 30 fps).
   */
  keyframeInterval?: number;
  /** libvpx speed for quality, 0-16; higher is faster. Default 8, where 4-16 measured alike on camera content. */
  cpuUsed?: number;
}

export interface Vp8EncodeOptions {
  /** Force a keyframe, e.g. for a PLI (RFC 4585 §6.3.1). */
  keyframe?: boolean;
  /** Capture time in ms. Rate control spends the bitrate over real time; default: one frame period after the last. */
  timestampMs?: number;
}

export interface EncodedVideoFrame {
  data: Uint8Array;
  keyframe: boolean;
}

/** AV_PICTURE_TYPE_I: libvpxenc turns it into VPX_EFLAG_FORCE_KF. */
const PICTURE_TYPE_I = 1;
const AV_PKT_FLAG_KEY = 1;

interface Contexts {
  context: number;
  frame: number;
  packet: number;
}

// A codec context holds megabytes of the shared heap: free those of codecs that were dropped without close().
const orphans = new FinalizationRegistry<{ libav: LibAV; contexts: Contexts }>(({ libav, contexts }) =>
  libav.ff_free_encoder_sync(contexts.context, contexts.frame, contexts.packet),
);

/** Owns at most one set of contexts at a time and frees them on replacement, close() or garbage collection. */
abstract class Vp8Codec {
  #contexts: Contexts | undefined;
  #closed = false;

  protected constructor(protected readonly libav: LibAV) {}

  protected get contexts(): Contexts | undefined {
    return this.#contexts;
  }

  protected replaceContexts(contexts: Contexts | undefined): void {
    if (this.#contexts) {
      orphans.unregister(this);
      // ff_free_decoder is ff_free_encoder with its arguments swapped.
      this.libav.ff_free_encoder_sync(this.#contexts.context, this.#contexts.frame, this.#contexts.packet);
    }
    this.#contexts = contexts;
    if (contexts) orphans.register(this, { libav: this.libav, contexts }, this);
  }

  protected assertOpen(operation: string): void {
    if (this.#closed) throw new Error(`${this.constructor.name}.${operation} after close()`);
  }

  /** Frees the codec context. Idempotent; any later call rejects. */
  close(): void {
    this.#closed = true;
    this.replaceContexts(undefined);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export class Vp8Encoder extends Vp8Codec {
  readonly #options: Required<Vp8EncoderOptions>;
  #width = 0;
  #height = 0;
  #lastTimestamp: number | undefined;
  #keyframeRequested = false;

  private constructor(libav: LibAV, options: Vp8EncoderOptions) {
    super(libav);
    this.#options = { bitrate: 800_000, framerate: 30, keyframeInterval: 300, cpuUsed: 8, ...options };
  }

  static async create(options: Vp8EncoderOptions = {}): Promise<Vp8Encoder> {
    return new Vp8Encoder(await sharedLibAV(), options);
  }

  /** The next encoded frame will be a keyframe. */
  requestKeyframe(): void {
    this.#keyframeRequested = true;
  }

  /**
   * Encodes one picture; the result is empty when rate control drops the frame. A new size re-creates the encoder,
   * so its first frame is a keyframe (the decoder picks the new size up from it).
   */
  encode(image: RawImage, options: Vp8EncodeOptions = {}): Promise<EncodedVideoFrame[]> {
    return new Promise((resolve) => resolve(this.#encode(image, options)));
  }

  #encode(image: RawImage, options: Vp8EncodeOptions): EncodedVideoFrame[] {
    this.assertOpen("encode");
    const contexts = this.#contextsFor(image.width, image.height);
    const { libav } = this;
    // An RGB picture is converted straight into the encoder's frame: no I420 copy on the JS side.
    writeFrame(libav, contexts.frame, image);
    // libvpx needs strictly increasing timestamps; a jittery capture clock must not make it reject a frame.
    const last = this.#lastTimestamp;
    const wanted = Math.round(options.timestampMs ?? (last === undefined ? 0 : last + 1000 / this.#options.framerate));
    const timestamp = last === undefined ? wanted : Math.max(wanted, last + 1);
    this.#lastTimestamp = timestamp;
    libav.AVFrame_pts_s_sync(contexts.frame, timestamp);
    const keyframe = options.keyframe || this.#keyframeRequested;
    this.#keyframeRequested = false;
    libav.AVFrame_pict_type_s_sync(contexts.frame, keyframe ? PICTURE_TYPE_I : 0);
    check(libav, libav.avcodec_send_frame_sync(contexts.context, contexts.frame), "VP8 encode");
    const out: EncodedVideoFrame[] = [];
    for (;;) {
      const result = libav.avcodec_receive_packet_sync(contexts.context, contexts.packet);
      if (result === AVERROR_EAGAIN) return out;
      check(libav, result, "VP8 encode");
      const packet = libav.ff_copyout_packet_sync(contexts.packet);
      libav.av_packet_unref_sync(contexts.packet);
      out.push({ data: packet.data, keyframe: ((packet.flags ?? 0) & AV_PKT_FLAG_KEY) !== 0 });
    }
  }

  #contextsFor(width: number, height: number): Contexts {
    if (this.contexts && width === this.#width && height === this.#height) return this.contexts;
    this.replaceContexts(undefined);
    const contexts = openEncoder(this.libav, width, height, this.#options);
    this.replaceContexts(contexts);
    this.#width = width;
    this.#height = height;
    return contexts;
  }
}

/**
 * Opens libvpx's VP8 encoder. Options are set one by one rather than through ff_init_encoder's dictionary, which
 * ignores names it does not know: a misspelt setting must fail here, not silently fall back to a default.
 */
function openEncoder(libav: LibAV, width: number, height: number, options: Required<Vp8EncoderOptions>): Contexts {
  const { bitrate, framerate, keyframeInterval, cpuUsed } = options;
  const settings: Record<string, string> = {
    b: String(bitrate),
    // Real-time settings as WebRTC senders use them: no look-ahead (every frame out at once), fastest deadline.
    deadline: "realtime",
    "cpu-used": String(cpuUsed),
    "lag-in-frames": "0",
    "error-resilient": "1",
    g: String(keyframeInterval),
    // Constant bitrate over a 1 s buffer starting half full (libwebrtc's VP8 settings): an average over minutes is
    // useless on a link that queues everything above its capacity.
    minrate: String(bitrate),
    maxrate: String(bitrate),
    bufsize: String(bitrate),
    rc_init_occupancy: String(bitrate / 2),
    "undershoot-pct": "100",
    "overshoot-pct": "15",
    // Caps a keyframe at 3x an average frame, so a requested keyframe does not stall the stream for a second.
    "max-intra-rate": "300",
  };
  const codec = libav.avcodec_find_encoder_by_name_sync("libvpx");
  if (codec === 0) throw new Error("libav.js build has no libvpx VP8 encoder");
  const context = libav.avcodec_alloc_context3_sync(codec);
  try {
    libav.AVCodecContext_width_s_sync(context, width);
    libav.AVCodecContext_height_s_sync(context, height);
    libav.AVCodecContext_pix_fmt_s_sync(context, AV_PIX_FMT_YUV420P);
    // Millisecond timestamps (Vp8EncodeOptions.timestampMs).
    libav.AVCodecContext_time_base_s_sync(context, 1, 1000);
    libav.AVCodecContext_framerate_num_s_sync(context, framerate);
    libav.AVCodecContext_framerate_den_s_sync(context, 1);
    for (const [name, value] of Object.entries(settings)) {
      check(libav, libav.av_opt_set_sync(context, name, value, libav.AV_OPT_SEARCH_CHILDREN), `VP8 option ${name}`);
    }
    check(libav, libav.avcodec_open2_js_sync(context, codec, 0), "VP8 encoder open");
  } catch (error) {
    libav.avcodec_free_context_js_sync(context);
    throw error;
  }
  return { context, frame: libav.av_frame_alloc_sync(), packet: libav.av_packet_alloc_sync() };
}

export class Vp8Decoder extends Vp8Codec {
  private constructor(libav: LibAV) {
    super(libav);
    const [, context, packet, frame] = libav.ff_init_decoder_sync("libvpx");
    this.replaceContexts({ context, frame, packet });
  }

  static async create(): Promise<Vp8Decoder> {
    return new Vp8Decoder(await sharedLibAV());
  }

  /**
   * Decodes one complete frame (as a depacketiser emits them). Resolves to undefined when the frame shows no picture
   * (a hidden alt-ref frame); rejects when libvpx rejects the data, after which the caller should ask for a keyframe.
   * Size changes are picked up from keyframes. With `format` "RGB" the picture is converted straight from the
   * decoder's buffers, with no I420 copy in between.
   */
  decode(frame: Uint8Array, format?: "I420"): Promise<I420Image | undefined>;
  decode(frame: Uint8Array, format: "RGB"): Promise<RgbImage | undefined>;
  decode(frame: Uint8Array, format: ImageFormat): Promise<RawImage | undefined>;
  decode(frame: Uint8Array, format: ImageFormat = "I420"): Promise<RawImage | undefined> {
    return new Promise((resolve) => resolve(this.#decode(frame, format)));
  }

  #decode(data: Uint8Array, format: ImageFormat): RawImage | undefined {
    this.assertOpen("decode");
    const contexts = this.contexts!;
    // An empty packet would be read as "end of stream" and flush the decoder.
    if (data.length === 0) throw new Error("VP8 decode: empty frame");
    const { libav } = this;
    libav.ff_copyin_packet_sync(contexts.packet, { data });
    const sent = libav.avcodec_send_packet_sync(contexts.context, contexts.packet);
    libav.av_packet_unref_sync(contexts.packet);
    check(libav, sent, "VP8 decode");
    let image: RawImage | undefined;
    for (;;) {
      const result = libav.avcodec_receive_frame_sync(contexts.context, contexts.frame);
      if (result === AVERROR_EAGAIN) return image;
      check(libav, result, "VP8 decode");
      image = format === "RGB" ? readRgbFrame(libav, contexts.frame) : readI420Frame(libav, contexts.frame);
      libav.av_frame_unref_sync(contexts.frame);
    }
  }
}

/**
 * Creates the shared libav.js instance (about 100 ms) and runs the VP8 codecs and colour conversions on moving
 * 640x480 content for `milliseconds`, so the first session neither waits for the WASM compile nor runs at JSC's slow
 * tier (measured: Bun runs WebAssembly about 2x slower for its first 1-2 s of work). Call once at start-up.
 */
export async function warmUpVideo(milliseconds = 500): Promise<void> {
  const width = 640;
  const height = 480;
  const encoder = await Vp8Encoder.create();
  const decoder = await Vp8Decoder.create();
  try {
    const data = new Uint8Array(width * height * 3);
    const start = performance.now();
    for (let n = 0; performance.now() - start < milliseconds; n++) {
      // A drifting gradient under a checkerboard that scrolls the other way: motion for the encoder's search.
      for (let y = 0, i = 0; y < height; y++) {
        for (let x = 0; x < width; x++, i += 3) {
          const square = (((x + n * 4) >> 5) ^ ((y - n * 2) >> 5)) & 1;
          data[i] = (x + n * 3) & 255;
          data[i + 1] = square ? 220 : y & 255;
          data[i + 2] = square ? 40 : (x + y) & 255;
        }
      }
      for (const frame of await encoder.encode({ format: "RGB", width, height, data })) {
        await decoder.decode(frame.data, "RGB");
      }
    }
  } finally {
    encoder.close();
    decoder.close();
  }
}
