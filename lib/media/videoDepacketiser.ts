/**
 * Reassembles encoded video frames from RTP packets that arrive in sequence order (a JitterBuffer in front absorbs
 * reordering). A frame is every packet up to and including the one with the marker bit (RFC 3550 §5.1; RFC 7741
 * §4.1, RFC 6184 §5.1). Video frames depend on earlier ones, so after any gap or malformed frame nothing is emitted
 * until the next keyframe: a decoder fed a frame whose references are missing shows garbage, while a dropped frame
 * only freezes the picture until the keyframe the caller requests (PLI, RFC 4585 §6.3.1) arrives.
 */
import type { SequencedPacket } from "./jitterBuffer.ts";

export interface VideoRtpPacket extends SequencedPacket {
  /** RTP marker bit: the last packet of a frame. */
  marker: boolean;
}

/** What a payload format (VP8, H.264) contributes to the reassembly. */
export interface VideoPayloadFormat {
  /** Whether this payload is the first packet of a keyframe: the only place a decoder can start. */
  startsKeyframe(payload: Uint8Array): boolean;
  /** Joins a frame's payloads into decoder input; undefined when they do not form a well-formed frame. */
  assemble(payloads: Uint8Array[]): { data: Uint8Array; keyframe: boolean } | undefined;
}

export interface DepacketisedFrame {
  data: Uint8Array;
  keyframe: boolean;
  /** RTP timestamp shared by the frame's packets. */
  timestamp: number;
}

export interface DepacketiseResult {
  frame?: DepacketisedFrame;
  /** Send a keyframe request now: the stream cannot be decoded until one arrives. */
  requestKeyframe: boolean;
}

export interface VideoDepacketiserOptions {
  /**
   * While waiting for a keyframe, ask again after this many frames went by without one (the request or the
   * keyframe itself may have been lost). Default 15, about half a second at 30 fps.
   */
  keyframeRetryFrames?: number;
}

export interface VideoDepacketiserStats {
  frames: number;
  keyframes: number;
  /** Frames discarded because they were incomplete, malformed or not decodable without the keyframe they wait for. */
  droppedFrames: number;
  keyframeRequests: number;
}

const NOTHING: DepacketiseResult = Object.freeze({ requestKeyframe: false });
/** How far behind a packet may be and still be a straggler; JitterBuffer treats larger jumps as a new stream too. */
const STALE_DISTANCE = 1000;

export class VideoDepacketiser {
  readonly stats: VideoDepacketiserStats = { frames: 0, keyframes: 0, droppedFrames: 0, keyframeRequests: 0 };
  readonly #format: VideoPayloadFormat;
  readonly #retryFrames: number;
  /** 16-bit sequence number the next packet should carry; undefined before the first packet. */
  #expected: number | undefined;
  /** Payloads of the frame being collected, and its timestamp. */
  #payloads: Uint8Array[] = [];
  #timestamp = 0;
  /** False until a keyframe starts, and again after any loss: packets are discarded meanwhile. */
  #decodable = false;
  /** Frames discarded since the last keyframe request; undefined when no request is outstanding. */
  #framesSinceRequest: number | undefined;
  #lastDroppedTimestamp: number | undefined;

  constructor(format: VideoPayloadFormat, options: VideoDepacketiserOptions = {}) {
    this.#format = format;
    this.#retryFrames = options.keyframeRetryFrames ?? 15;
  }

  /** Whether frames are being discarded until a keyframe arrives. */
  get waitingForKeyframe(): boolean {
    return !this.#decodable;
  }

  push(packet: VideoRtpPacket): DepacketiseResult {
    const { sequenceNumber, timestamp, marker, payload } = packet;
    if (this.#expected !== undefined) {
      const ahead = (sequenceNumber - this.#expected) & 0xffff;
      // Just behind what was already seen: a duplicate or a straggler the jitter buffer gave up on. Nothing to undo.
      if (ahead >= 0x8000 && 0x10000 - ahead <= STALE_DISTANCE) return NOTHING;
      // A gap, or a sender that restarted its sequence numbers (further back than any straggler).
      if (ahead > 0) this.#lose();
    }
    this.#expected = (sequenceNumber + 1) & 0xffff;
    // Padding-only packets (bandwidth probes, RFC 3550 §5.1 P bit) take a sequence number but carry nothing.
    if (payload.length === 0) return NOTHING;
    // Contiguous sequence numbers but a new timestamp without a marker: the sender broke RFC 3550's framing.
    if (this.#payloads.length > 0 && timestamp !== this.#timestamp) this.#lose();

    if (this.#payloads.length === 0) {
      if (!this.#decodable && !this.#format.startsKeyframe(payload)) return this.#discard(timestamp, marker);
      this.#timestamp = timestamp;
    }
    this.#payloads.push(payload);
    if (!marker) return this.#pendingRequest();

    const assembled = this.#format.assemble(this.#payloads);
    if (!assembled || (!this.#decodable && !assembled.keyframe)) {
      this.#lose();
      return this.#discard(timestamp, true);
    }
    this.#payloads = [];
    this.#decodable = true;
    this.#framesSinceRequest = undefined;
    this.stats.frames++;
    if (assembled.keyframe) this.stats.keyframes++;
    return { frame: { ...assembled, timestamp }, requestKeyframe: false };
  }

  /**
   * Declares the stream undecodable until the next keyframe, e.g. because the decoder rejected a frame.
   * Returns whether to send a keyframe request (false while one is already outstanding).
   */
  needKeyframe(): boolean {
    this.#lose();
    return this.#pendingRequest().requestKeyframe;
  }

  #lose(): void {
    if (this.#payloads.length > 0) {
      this.#countDropped(this.#timestamp);
      // The keyframe being collected (probably the answer to our request) is broken: ask again at once.
      if (!this.#decodable) this.#framesSinceRequest = undefined;
    }
    this.#payloads = [];
    this.#decodable = false;
  }

  #discard(timestamp: number, marker: boolean): DepacketiseResult {
    this.#countDropped(timestamp);
    if (marker && this.#framesSinceRequest !== undefined) this.#framesSinceRequest++;
    return this.#pendingRequest();
  }

  /** Asks for a keyframe when none is outstanding, or when the last request went unanswered for too long. */
  #pendingRequest(): DepacketiseResult {
    // While a keyframe is being collected its remaining packets are on their way: no need to ask for another.
    if (this.#decodable || this.#payloads.length > 0) return NOTHING;
    if (this.#framesSinceRequest !== undefined && this.#framesSinceRequest < this.#retryFrames) return NOTHING;
    this.#framesSinceRequest = 0;
    this.stats.keyframeRequests++;
    return { requestKeyframe: true };
  }

  #countDropped(timestamp: number): void {
    if (timestamp === this.#lastDroppedTimestamp) return;
    this.#lastDroppedTimestamp = timestamp;
    this.stats.droppedFrames++;
  }
}
