/**
 * Client video in: RTP -> reorder buffer -> depacketiser -> decoder -> RGB or I420 pictures. Decoding is
 * asynchronous (VP8 in the codec thread) and bounded: when the decoder falls behind, waiting frames are dropped and a
 * keyframe is requested, because a VP8 or H.264 frame cannot be skipped without breaking the ones that refer to it.
 */
import type { Logger } from "../log/logger.ts";
import { recordCodecTime } from "./codecTime.ts";
import { H264Decoder } from "./h264.ts";
import { H264Depacketiser } from "./h264Rtp.ts";
import { JitterBuffer } from "./jitterBuffer.ts";
import type { DepacketisedFrame, VideoDepacketiser, VideoRtpPacket } from "./videoDepacketiser.ts";
import { ThreadedVp8Decoder } from "./vp8Thread.ts";
import { Vp8Depacketiser } from "./vp8Rtp.ts";
import { i420ToRgb, type ImageFormat, type RawImage } from "./yuv.ts";

export type VideoCodecName = "VP8" | "H264";

interface Decoder {
  decode(frame: Uint8Array, format: ImageFormat): Promise<RawImage | undefined>;
  close(): void;
}

export interface VideoReceiverStats {
  /** Frames handed to the decoder. */
  decodedFrames: number;
}

export interface VideoReceiverOptions {
  codec: VideoCodecName;
  /** Pixel layout of the pictures handed to `onImage`; default RGB. */
  format?: ImageFormat;
  onImage: (image: RawImage) => void;
  /** Ask the sender for a keyframe (send an RTCP PLI). */
  requestKeyframe: () => void;
  logger: Logger;
  /** Counters to add to (shared by the receivers of one source); default: the receiver's own. */
  stats?: VideoReceiverStats;
}

export interface RtpVideoPacket {
  header: { sequenceNumber: number; timestamp: number; marker: boolean };
  payload: Uint8Array;
}

/** Encoded frames allowed to wait for the decoder before the backlog is dropped. */
const MAX_WAITING_FRAMES = 3;

export function videoCodecName(mimeType: string): VideoCodecName | undefined {
  const name = mimeType.split("/")[1]?.toUpperCase();
  return name === "VP8" || name === "H264" ? name : undefined;
}

export class VideoReceiver {
  readonly stats: VideoReceiverStats;
  readonly #options: VideoReceiverOptions;
  // A keyframe is often 60-100 packets: the buffer must hold one whole, and wait a little longer than for audio.
  readonly #jitter = new JitterBuffer<VideoRtpPacket>({ maxPackets: 400, maxWaitMs: 80 });
  readonly #depacketiser: VideoDepacketiser;
  readonly #decoder: Promise<Decoder>;
  #waiting: DepacketisedFrame[] = [];
  #decoding = false;
  #closed = false;

  constructor(options: VideoReceiverOptions) {
    this.#options = options;
    this.stats = options.stats ?? { decodedFrames: 0 };
    this.#depacketiser = options.codec === "VP8" ? new Vp8Depacketiser() : new H264Depacketiser();
    this.#decoder = options.codec === "VP8" ? ThreadedVp8Decoder.create() : h264Decoder();
    this.#decoder.catch((error) => options.logger.error("video decoder failed to start", { error }));
    // Start from a keyframe now instead of waiting for the sender's next periodic one.
    options.requestKeyframe();
  }

  receive(rtp: RtpVideoPacket): void {
    if (this.#closed) return;
    const packet: VideoRtpPacket = {
      sequenceNumber: rtp.header.sequenceNumber,
      timestamp: rtp.header.timestamp,
      marker: rtp.header.marker,
      payload: rtp.payload,
    };
    for (const event of this.#jitter.push(packet, performance.now())) {
      // A loss shows in the sequence numbers of the next packet; the depacketiser handles it from there.
      if (event.kind !== "packet") continue;
      const result = this.#depacketiser.push(event.packet);
      if (result.requestKeyframe) this.#options.requestKeyframe();
      if (result.frame) this.#enqueue(result.frame);
    }
  }

  /** After frames were skipped (e.g. while the track was disabled): resume from the next keyframe. */
  resync(): void {
    this.#waiting = [];
    if (this.#depacketiser.needKeyframe()) this.#options.requestKeyframe();
  }

  close(): void {
    this.#closed = true;
    this.#waiting = [];
    void this.#decoder.then((decoder) => decoder.close(), () => {});
  }

  #enqueue(frame: DepacketisedFrame): void {
    if (this.#waiting.length >= MAX_WAITING_FRAMES) {
      this.#options.logger.debug("video decoder behind; dropping frames until a keyframe");
      this.resync();
      return;
    }
    this.#waiting.push(frame);
    if (!this.#decoding) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#decoding = true;
    try {
      const decoder = await this.#decoder;
      for (let frame = this.#waiting.shift(); frame && !this.#closed; frame = this.#waiting.shift()) {
        try {
          // Decoders record their own codec time: VP8's is spent in the codec thread.
          this.stats.decodedFrames++;
          const image = await decoder.decode(frame.data, this.#options.format ?? "RGB");
          if (image && !this.#closed) this.#options.onImage(image);
        } catch {
          this.resync();
        }
      }
    } catch {
      // The decoder never started; the error was logged when it failed.
    } finally {
      this.#decoding = false;
    }
  }
}

/** The H.264 decoder (on this thread) gives I420 only: RGB is converted from its copy. */
async function h264Decoder(): Promise<Decoder> {
  const decoder = await H264Decoder.create();
  return {
    async decode(frame, format) {
      const start = performance.now();
      const i420 = await decoder.decode(frame);
      const image = i420 && format === "RGB" ? i420ToRgb(i420) : i420;
      recordCodecTime("h264", "decode", performance.now() - start);
      return image;
    },
    close: () => decoder.close(),
  };
}
