/**
 * The picture size an H.264 sequence parameter set declares (H.264 §7.3.2.1.1, §7.4.2.1.1). Decoders work in whole
 * 16x16 macroblocks and the SPS crops the result: 640x360, which browsers send under load, is coded as 640x368.
 * tinyh264 returns the uncropped macroblock picture, so the crop is read here.
 */

export interface SpsPictureSize {
  /** Size of the decoded picture in whole macroblocks. */
  codedWidth: number;
  codedHeight: number;
  /** The visible rectangle inside it. */
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Profiles whose SPS carries chroma format, bit depth and scaling lists (§7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/**
 * Reads the size from an SPS NAL unit (header byte included). Undefined for High-family profiles, whose extra fields
 * are not parsed because tinyh264 cannot decode those streams anyway, and for truncated data.
 */
export function parseSpsPictureSize(nal: Uint8Array): SpsPictureSize | undefined {
  const bits = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profile = bits.u(8);
  bits.u(16); // constraint flags, level_idc
  bits.ue(); // seq_parameter_set_id
  if (HIGH_PROFILES.has(profile)) return undefined;
  bits.ue(); // log2_max_frame_num_minus4
  const pocType = bits.ue();
  if (pocType === 0) {
    bits.ue(); // log2_max_pic_order_cnt_lsb_minus4
  } else if (pocType === 1) {
    bits.u(1); // delta_pic_order_always_zero_flag
    bits.se(); // offset_for_non_ref_pic
    bits.se(); // offset_for_top_to_bottom_field
    const cycle = bits.ue();
    for (let i = 0; i < cycle; i++) bits.se(); // offset_for_ref_frame
  }
  bits.ue(); // max_num_ref_frames
  bits.u(1); // gaps_in_frame_num_value_allowed_flag
  const widthInMbs = bits.ue() + 1;
  const heightInMapUnits = bits.ue() + 1;
  const frameMbsOnly = bits.u(1);
  if (!frameMbsOnly) bits.u(1); // mb_adaptive_frame_field_flag
  bits.u(1); // direct_8x8_inference_flag
  const codedWidth = widthInMbs * 16;
  const codedHeight = heightInMapUnits * 16 * (2 - frameMbsOnly);
  let [left, right, top, bottom] = [0, 0, 0, 0];
  if (bits.u(1)) {
    // Crop offsets count chroma samples: 2 luma columns, and 2 rows per field (4:2:0, §7.4.2.1.1).
    const unitY = 2 * (2 - frameMbsOnly);
    left = 2 * bits.ue();
    right = 2 * bits.ue();
    top = unitY * bits.ue();
    bottom = unitY * bits.ue();
  }
  if (bits.overrun || left + right >= codedWidth || top + bottom >= codedHeight) return undefined;
  return { codedWidth, codedHeight, left, top, width: codedWidth - left - right, height: codedHeight - top - bottom };
}

/** Removes emulation prevention bytes: 00 00 03 xx in the NAL unit stands for 00 00 xx (§7.4.1). */
function unescapeRbsp(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let length = 0;
  let zeros = 0;
  for (const byte of data) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[length++] = byte;
  }
  return out.subarray(0, length);
}

/** MSB-first reader of fixed-width and Exp-Golomb fields (§9.1). Reading past the end yields zeros, sets overrun. */
class BitReader {
  #position = 0;
  overrun = false;

  constructor(private readonly data: Uint8Array) {}

  u(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) value = value * 2 + this.#bit();
    return value;
  }

  ue(): number {
    let leadingZeros = 0;
    while (this.#bit() === 0) {
      // 32 zeros would overflow any field the SPS holds: the data is corrupt (or we ran off the end).
      if (++leadingZeros > 31) {
        this.overrun = true;
        return 0;
      }
    }
    return 2 ** leadingZeros - 1 + this.u(leadingZeros);
  }

  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -k / 2;
  }

  #bit(): number {
    const byte = this.#position >> 3;
    if (byte >= this.data.length) {
      this.overrun = true;
      return 0;
    }
    return (this.data[byte] >> (7 - (this.#position++ & 7))) & 1;
  }
}
