/**
 * Bot video out: pictures are VP8-encoded on a steady frame clock and sent as RTP, in one of Pipecat's two modes
 * (TransportParams `videoOutIsLive`):
 * - still (the default): the latest picture is shown. A new one goes out on the next tick (pictures the bot replaces
 *   before their tick are never sent); an unchanged one is re-sent once a second, so a decoder that joins late or
 *   lost a frame gets it. Pipecat repeats it on every tick, but a repeat is a full encode (7-10 ms of the codec thread
 *   at 640x480, a quarter of a core at 30 fps) and a client keeps showing the last frame it decoded anyway.
 * - live: every picture is a frame of a stream, sent once, one per tick, in order; nothing is repeated. A bounded
 *   queue absorbs bursts; when the bot outruns the frame rate the oldest waiting picture is dropped (and counted), so
 *   the delay stays under LIVE_QUEUE_SECONDS.
 * Keyframes are sent when the client asks for one (PLI). With a size set, every picture is sent at that size, scaled
 * when it has another one.
 */
import type { Logger } from "../log/logger.ts";
import { type Clock, realClock } from "./clock.ts";
import { recordCodecTime } from "./codecTime.ts";
import { ImageScaler } from "./imageScaler.ts";
import { Pacer, type Tick } from "./pacer.ts";
import { ThreadedVp8Encoder } from "./vp8Thread.ts";
import { Vp8Packetiser } from "./vp8Rtp.ts";
import type { RawImage } from "./yuv.ts";

export interface OutgoingVideoRtp {
  payload: Uint8Array;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

export interface VideoSenderOptions {
  framerate: number;
  bitrate: number;
  send: (packet: OutgoingVideoRtp) => void;
  logger: Logger;
  clock?: Clock;
  /** Send each picture once, as a live stream, rather than repeat the latest; default false. */
  live?: boolean;
  /**
   * Size every picture is sent at, given together with `height`; a picture of another size is stretched to it.
   * Absent: each picture goes out at its own size (a size change costs a keyframe).
   */
  width?: number;
  height?: number;
}

/** Still: how often an unchanged picture is re-sent. */
const STILL_REFRESH_SECONDS = 1;
/** Live pictures allowed to wait, in seconds of video: the most a live stream lags behind the bot. */
const LIVE_QUEUE_SECONDS = 0.2;
const VIDEO_CLOCK = 90_000;
/** VP8 keyframe headers carry 14-bit dimensions (RFC 6386 §9.1). */
const VP8_MAX_SIZE = 16383;

/** Process-wide, for /metrics. */
export const videoSenderStats = { droppedImages: 0 };

export interface VideoSenderStats {
  /** Pictures encoded and sent, repeats included. */
  sentFrames: number;
  /** Live pictures dropped unsent because the bot pushed them faster than the frame rate. */
  droppedImages: number;
}

export class VideoSender {
  readonly stats: VideoSenderStats = { sentFrames: 0, droppedImages: 0 };
  readonly #options: VideoSenderOptions;
  readonly #pacer: Pacer;
  readonly #packetiser = new Vp8Packetiser();
  readonly #encoder: Promise<ThreadedVp8Encoder>;
  readonly #scaler?: ImageScaler;
  readonly #timestampBase = crypto.getRandomValues(new Uint32Array(1))[0];
  #sequenceNumber = crypto.getRandomValues(new Uint16Array(1))[0];
  readonly #maxQueued: number;
  /** Live: the pictures waiting for their tick. */
  #queue: RawImage[] = [];
  /** Still: the picture on show, and its scaled copy once made (the scaler's buffer, rewritten only for a new one). */
  #image?: RawImage;
  #prepared?: RawImage;
  /** Still: whether the picture on show was not sent yet, and the tick that last sent it. */
  #changed = false;
  #lastSentTick = -Infinity;
  readonly #refreshTicks: number;
  #encoding = false;
  #closed = false;

  constructor(options: VideoSenderOptions) {
    const { width, height } = options;
    const problem = videoSizeProblem(width, height);
    if (problem) throw new RangeError(`video sender: ${problem}`);
    if (width !== undefined && height !== undefined) this.#scaler = new ImageScaler(width, height);
    this.#options = options;
    this.#maxQueued = Math.max(2, Math.ceil(options.framerate * LIVE_QUEUE_SECONDS));
    this.#refreshTicks = Math.max(1, Math.round(options.framerate * STILL_REFRESH_SECONDS));
    this.#encoder = ThreadedVp8Encoder.create({ bitrate: options.bitrate, framerate: options.framerate });
    this.#encoder.catch((error) => options.logger.error("video encoder failed to start", { error }));
    this.#pacer = new Pacer({
      intervalMs: 1000 / options.framerate,
      clock: options.clock ?? realClock,
      onTick: (tick) => void this.#tick(tick),
    });
  }

  start(): void {
    if (!this.#closed) this.#pacer.start();
  }

  /** Live pictures waiting to be sent. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Still: the picture to show from the next frame on. Live: the next frame of the stream. */
  setImage(image: RawImage): void {
    if (!this.#options.live) {
      this.#image = image;
      this.#prepared = undefined;
      this.#changed = true;
      return;
    }
    this.#queue.push(image);
    if (this.#queue.length > this.#maxQueued) {
      this.#queue.shift();
      this.stats.droppedImages++;
      videoSenderStats.droppedImages++;
    }
  }

  /** Drops the live pictures not sent yet (an interruption); a still picture stays on show. */
  clear(): void {
    this.#queue = [];
  }

  requestKeyframe(): void {
    void this.#encoder.then((encoder) => encoder.requestKeyframe(), () => {});
  }

  close(): void {
    this.#closed = true;
    this.#pacer.stop();
    void this.#encoder.then((encoder) => encoder.close(), () => {});
  }

  async #tick(tick: Tick): Promise<void> {
    // One encode at a time: a tick that finds the encoder busy is skipped rather than queued (a live picture waits).
    if (this.#encoding) return;
    const picture = this.#options.live ? this.#queue.shift() : this.#stillDue(tick.index);
    if (!picture) return;
    this.#encoding = true;
    try {
      const encoder = await this.#encoder;
      const timestamp = (this.#timestampBase + Math.round((tick.index * VIDEO_CLOCK) / this.#options.framerate)) >>> 0;
      const frames = await encoder.encode(this.#prepare(picture), { timestampMs: tick.scheduledAt });
      if (frames.length > 0 && !this.#closed) this.stats.sentFrames++;
      for (const frame of frames) {
        if (this.#closed) return;
        const payloads = this.#packetiser.packetise(frame.data);
        payloads.forEach((payload, i) => {
          this.#sequenceNumber = (this.#sequenceNumber + 1) & 0xffff;
          this.#options.send({ payload, sequenceNumber: this.#sequenceNumber, timestamp, marker: i === payloads.length - 1 });
        });
      }
    } catch (error) {
      this.#options.logger.warn("video frame not sent", { error });
    } finally {
      this.#encoding = false;
    }
  }

  /** Still: the picture on show when it is new or due for its refresh, which this tick then sends. */
  #stillDue(tick: number): RawImage | undefined {
    if (!this.#image || (!this.#changed && tick - this.#lastSentTick < this.#refreshTicks)) return undefined;
    this.#changed = false;
    this.#lastSentTick = tick;
    return this.#image;
  }

  /** The picture at the size to send, scaled once per still picture rather than on every repeat. */
  #prepare(picture: RawImage): RawImage {
    if (!this.#scaler) return picture;
    if (picture === this.#image && this.#prepared) return this.#prepared;
    // Scaling counts as encoding time, as the colour conversion inside encode() does (the encoder records its own).
    const start = performance.now();
    const scaled = this.#scaler.scale(picture);
    recordCodecTime("vp8", "encode", performance.now() - start);
    if (picture === this.#image) this.#prepared = scaled;
    return scaled;
  }
}

/** Why `width` x `height` cannot be the size of bot video, or undefined when it can (or when neither is set). */
export function videoSizeProblem(width: number | undefined, height: number | undefined): string | undefined {
  if (width === undefined && height === undefined) return undefined;
  if (isVp8Size(width) && isVp8Size(height)) return undefined;
  return `width and height must be whole numbers from 1 to ${VP8_MAX_SIZE}, got ${width}x${height}`;
}

function isVp8Size(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= VP8_MAX_SIZE;
}
