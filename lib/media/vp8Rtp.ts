/**
 * VP8 RTP payload format (RFC 7741): the payload descriptor, a packetiser for our outgoing frames and a depacketiser
 * for incoming ones. Own code rather than werift's Vp8RtpPayload: that parser skips the TID/KEYIDX octet only when
 * L or K is set (not for T alone) and builds bit strings per packet.
 */
import { type VideoDepacketiserOptions, VideoDepacketiser, type VideoPayloadFormat } from "./videoDepacketiser.ts";

export interface Vp8Descriptor {
  /** S bit: the packet starts a VP8 partition. */
  start: boolean;
  /** PID: which partition the packet belongs to (0 = the first, holding the frame header). */
  partitionIndex: number;
  /** 7- or 15-bit PictureID when present. */
  pictureId?: number;
  /** Bytes of descriptor before the VP8 data. */
  length: number;
}

/** Parses the payload descriptor (RFC 7741 §4.2); undefined when the payload is too short for what it announces. */
export function parseVp8Descriptor(payload: Uint8Array): Vp8Descriptor | undefined {
  if (payload.length === 0) return undefined;
  const first = payload[0];
  let length = 1;
  let pictureId: number | undefined;
  if (first & 0x80) {
    // X: an extension octet with I (PictureID), L (TL0PICIDX), T (TID) and K (KEYIDX) flags follows.
    const extension = payload[length++];
    if (extension & 0x80) {
      const high = payload[length++];
      // M: the PictureID has 15 bits, spread over two octets.
      pictureId = high & 0x80 ? ((high & 0x7f) << 8) | payload[length++] : high;
    }
    if (extension & 0x40) length++;
    // TID/Y/KEYIDX share one octet, present when either T or K is set.
    if (extension & 0x30) length++;
  }
  if (length > payload.length) return undefined;
  return { start: (first & 0x10) !== 0, partitionIndex: first & 0x07, pictureId, length };
}

/** VP8's 3-byte frame tag: bit 0 of the first byte is 0 on keyframes (RFC 6386 §9.1; RFC 7741 §4.3, the P bit). */
function isKeyframeData(payload: Uint8Array, offset: number): boolean {
  return payload.length > offset && (payload[offset] & 0x01) === 0;
}

const VP8_FORMAT: VideoPayloadFormat = {
  startsKeyframe(payload) {
    const descriptor = parseVp8Descriptor(payload);
    if (!descriptor?.start || descriptor.partitionIndex !== 0) return false;
    return isKeyframeData(payload, descriptor.length);
  },

  assemble(payloads) {
    const descriptors: Vp8Descriptor[] = [];
    let size = 0;
    for (const payload of payloads) {
      const descriptor = parseVp8Descriptor(payload);
      if (!descriptor) return undefined;
      descriptors.push(descriptor);
      size += payload.length - descriptor.length;
    }
    // The frame must begin with the start of partition 0 and hold at least its 3-byte frame tag.
    if (!descriptors[0].start || descriptors[0].partitionIndex !== 0 || size < 3) return undefined;
    // Partitions follow each other in the packets, so the frame is the payloads' VP8 data end to end.
    const data = new Uint8Array(size);
    let offset = 0;
    payloads.forEach((payload, i) => {
      data.set(payload.subarray(descriptors[i].length), offset);
      offset += payload.length - descriptors[i].length;
    });
    return { data, keyframe: isKeyframeData(data, 0) };
  },
};

/** Incoming VP8: RTP packets in, complete frames out. */
export class Vp8Depacketiser extends VideoDepacketiser {
  constructor(options?: VideoDepacketiserOptions) {
    super(VP8_FORMAT, options);
  }
}

export interface Vp8PacketiserOptions {
  /** Largest RTP payload, descriptor included. Default 1100: leaves room for RTP/SRTP headers and extensions, and
   * TURN over TCP/TLS framing, within a 1200-byte datagram. */
  maxPayloadSize?: number;
  /** First PictureID (15 bits). Default random, as RFC 7741 §4.2 recommends. */
  pictureId?: number;
}

const DESCRIPTOR_LENGTH = 4;

/** Outgoing VP8: one encoded frame in, RTP payloads out. */
export class Vp8Packetiser {
  readonly maxPayloadSize: number;
  #pictureId: number;

  constructor(options: Vp8PacketiserOptions = {}) {
    this.maxPayloadSize = options.maxPayloadSize ?? 1100;
    if (this.maxPayloadSize <= DESCRIPTOR_LENGTH) {
      throw new RangeError(`maxPayloadSize ${this.maxPayloadSize} leaves no room for VP8 data`);
    }
    this.#pictureId = (options.pictureId ?? Math.floor(Math.random() * 0x8000)) & 0x7fff;
  }

  /**
   * Splits a frame into payloads of near-equal size (no runt last packet), each with the 4-octet descriptor that
   * libwebrtc sends: X=1, I=1 with a 15-bit PictureID (SFUs and browsers use it to spot lost frames), S=1 on the
   * first packet, PID 0. The caller sends them in order with the frame's timestamp and sets the marker on the last.
   */
  packetise(frame: Uint8Array): Uint8Array[] {
    if (frame.length === 0) throw new RangeError("cannot packetise an empty VP8 frame");
    const pictureId = this.#pictureId;
    this.#pictureId = (pictureId + 1) & 0x7fff;
    const count = Math.ceil(frame.length / (this.maxPayloadSize - DESCRIPTOR_LENGTH));
    const base = Math.floor(frame.length / count);
    const larger = frame.length % count;
    const payloads: Uint8Array[] = [];
    for (let i = 0, offset = 0; i < count; i++) {
      const size = base + (i < larger ? 1 : 0);
      const payload = new Uint8Array(DESCRIPTOR_LENGTH + size);
      payload[0] = i === 0 ? 0x90 : 0x80;
      payload[1] = 0x80;
      payload[2] = 0x80 | (pictureId >> 8);
      payload[3] = pictureId & 0xff;
      payload.set(frame.subarray(offset, offset + size), DESCRIPTOR_LENGTH);
      payloads.push(payload);
      offset += size;
    }
    return payloads;
  }
}
