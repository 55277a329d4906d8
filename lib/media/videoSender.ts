/**
 * Bot video out: the latest picture is VP8-encoded on a steady frame clock and sent as RTP. A picture is encoded
 * when it changed, and the last one is re-sent once a second otherwise, so a still image costs almost nothing while
 * a late-joining decoder still gets a picture. Keyframes are sent when the client asks for one (PLI). With a size
 * set, every picture is sent at that size, scaled when it has another one.
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
  /**
   * Size every picture is sent at, given together with `height`; a picture of another size is stretched to it.
   * Absent: each picture goes out at its own size (a size change costs a keyframe).
   */
  width?: number;
  height?: number;
}

const REFRESH_MS = 1000;
const VIDEO_CLOCK = 90_000;
/** VP8 keyframe headers carry 14-bit dimensions (RFC 6386 §9.1). */
const VP8_MAX_SIZE = 16383;

export class VideoSender {
  readonly #options: VideoSenderOptions;
  readonly #pacer: Pacer;
  readonly #packetiser = new Vp8Packetiser();
  readonly #encoder: Promise<ThreadedVp8Encoder>;
  readonly #scaler?: ImageScaler;
  readonly #timestampBase = crypto.getRandomValues(new Uint32Array(1))[0];
  #sequenceNumber = crypto.getRandomValues(new Uint16Array(1))[0];
  #image?: RawImage;
  #changed = false;
  #lastSentAt = -Infinity;
  #encoding = false;
  #closed = false;

  constructor(options: VideoSenderOptions) {
    const { width, height } = options;
    const problem = videoSizeProblem(width, height);
    if (problem) throw new RangeError(`video sender: ${problem}`);
    if (width !== undefined && height !== undefined) this.#scaler = new ImageScaler(width, height);
    this.#options = options;
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

  /** The picture to show from the next frame on. */
  setImage(image: RawImage): void {
    this.#image = image;
    this.#changed = true;
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
    const image = this.#image;
    const now = tick.scheduledAt;
    // One encode at a time: a tick that finds the encoder busy is skipped rather than queued.
    if (!image || this.#encoding || (!this.#changed && now - this.#lastSentAt < REFRESH_MS)) return;
    this.#encoding = true;
    this.#changed = false;
    this.#lastSentAt = now;
    try {
      const encoder = await this.#encoder;
      const timestamp = (this.#timestampBase + Math.round((tick.index * VIDEO_CLOCK) / this.#options.framerate)) >>> 0;
      // Scaling counts as encoding time, as the colour conversion inside encode() does (the encoder records its own).
      const start = performance.now();
      const picture = this.#scaler ? this.#scaler.scale(image) : image;
      if (this.#scaler) recordCodecTime("vp8", "encode", performance.now() - start);
      const frames = await encoder.encode(picture, { timestampMs: now });
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
