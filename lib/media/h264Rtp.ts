/**
 * H.264 RTP payload format (RFC 6184), receive side, packetization-mode 1 (what browsers offer): single NAL unit
 * packets, STAP-A aggregates and FU-A fragments, turned into Annex B access units (start code before every NAL unit)
 * for the decoder. Own code rather than werift's H264RtpPayload, which re-concatenates a growing Buffer for every
 * fragment and throws on malformed input instead of reporting it.
 */
import { type VideoDepacketiserOptions, VideoDepacketiser, type VideoPayloadFormat } from "./videoDepacketiser.ts";

const NAL_IDR = 5;
const NAL_SPS = 7;
const STAP_A = 24;
const FU_A = 28;
const START_CODE = Uint8Array.of(0, 0, 0, 1);

/**
 * An IDR slice that is the first of its picture: first_mb_in_slice, the ue(v) right after the NAL header, is 0
 * exactly when its first bit is 1 (H.264 §7.3.3, §9.1). Later slices of the same picture do not start a keyframe.
 */
function isFirstIdrSlice(nalType: number, firstSliceByte: number | undefined): boolean {
  return nalType === NAL_IDR && firstSliceByte !== undefined && (firstSliceByte & 0x80) !== 0;
}

const H264_FORMAT: VideoPayloadFormat = {
  /** An access unit that starts with its SPS (browsers send SPS and PPS before every IDR) or its first IDR slice. */
  startsKeyframe(payload) {
    const type = payload[0] & 0x1f;
    if (type === NAL_SPS || isFirstIdrSlice(type, payload[1])) return true;
    if (type === FU_A) return (payload[1] & 0x80) !== 0 && isFirstIdrSlice(payload[1] & 0x1f, payload[2]);
    if (type !== STAP_A) return false;
    for (let offset = 1; offset + 2 < payload.length; offset += 2 + ((payload[offset] << 8) | payload[offset + 1])) {
      const nal = offset + 2;
      if ((payload[nal] & 0x1f) === NAL_SPS || isFirstIdrSlice(payload[nal] & 0x1f, payload[nal + 1])) return true;
    }
    return false;
  },

  assemble(payloads) {
    const parts: Uint8Array[] = [];
    let size = 0;
    let keyframe = false;
    let inFragment = false;
    const add = (part: Uint8Array) => {
      parts.push(part);
      size += part.length;
    };
    const startNal = (header: number) => {
      add(START_CODE);
      if ((header & 0x1f) === NAL_IDR) keyframe = true;
    };
    for (const payload of payloads) {
      if (payload.length === 0) return undefined;
      const type = payload[0] & 0x1f;
      if (type === FU_A) {
        // FU indicator (F, NRI, 28), FU header (S, E, R, the NAL type), then a piece of the NAL unit's body (§5.8).
        if (payload.length < 3) return undefined;
        const fuHeader = payload[1];
        if (fuHeader & 0x80) {
          if (inFragment) return undefined;
          const header = (payload[0] & 0xe0) | (fuHeader & 0x1f);
          startNal(header);
          add(Uint8Array.of(header));
          inFragment = true;
        } else if (!inFragment) {
          return undefined;
        }
        add(payload.subarray(2));
        if (fuHeader & 0x40) inFragment = false;
        continue;
      }
      // Anything else in the middle of a fragmented NAL unit means its end never came.
      if (inFragment) return undefined;
      if (type >= 1 && type <= 23) {
        startNal(payload[0]);
        add(payload);
      } else if (type === STAP_A) {
        // A STAP-A header, then (16-bit size, NAL unit) pairs (§5.7.1).
        for (let offset = 1; offset < payload.length; ) {
          if (offset + 2 > payload.length) return undefined;
          const length = (payload[offset] << 8) | payload[offset + 1];
          offset += 2;
          if (length === 0 || offset + length > payload.length) return undefined;
          startNal(payload[offset]);
          add(payload.subarray(offset, offset + length));
          offset += length;
        }
      } else if (type !== 0 && type < 30) {
        // STAP-B, MTAP16/24 and FU-B exist only in the interleaved mode, which we never negotiate (§6.3).
        return undefined;
      }
      // Types 0, 30 and 31 are reserved and must be ignored (§5.2).
    }
    if (inFragment || size === 0) return undefined;
    const data = new Uint8Array(size);
    let offset = 0;
    for (const part of parts) {
      data.set(part, offset);
      offset += part.length;
    }
    return { data, keyframe };
  },
};

/** Incoming H.264: RTP packets in, Annex B access units out. */
export class H264Depacketiser extends VideoDepacketiser {
  constructor(options?: VideoDepacketiserOptions) {
    super(H264_FORMAT, options);
  }
}
