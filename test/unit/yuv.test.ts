import { describe, expect, test } from "bun:test";
import {
  i420ByteLength,
  type I420Planes,
  i420ToRgb,
  planesToRgb,
  type RgbImage,
  rgbToI420,
  rgbToPlanes,
} from "../../lib/media/yuv.ts";
import { psnr } from "../support/syntheticVideo.ts";

/** A smooth image (gentle slopes, whatever the size), so little but conversion error remains after 4:2:0. */
function smoothRgb(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round(20 + x / 3);
      data[i + 1] = Math.round(230 - y / 2.5);
      data[i + 2] = Math.round(128 + 100 * Math.sin((x + y) / 40));
    }
  }
  return { format: "RGB", width, height, data };
}

/** Fills 8x8 patches (whole chroma blocks) with the given colours, left to right. */
function patches(colours: [number, number, number][]): RgbImage {
  const width = 8 * colours.length;
  const data = new Uint8Array(width * 8 * 3);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < width; x++) data.set(colours[x >> 3], (y * width + x) * 3);
  }
  return { format: "RGB", width, height: 8, data };
}

describe("BT.601 I420 <-> RGB24", () => {
  test("round trip of a smooth 640x480 image stays above 40 dB", () => {
    const rgb = smoothRgb(640, 480);
    const back = i420ToRgb(rgbToI420(rgb));
    expect(back.width).toBe(640);
    expect(back.height).toBe(480);
    expect(psnr(rgb.data, back.data)).toBeGreaterThan(40);
  });

  test("odd sizes: chroma planes round up and the last row and column survive", () => {
    const rgb = smoothRgb(33, 17);
    const i420 = rgbToI420(rgb);
    expect(i420.data.length).toBe(33 * 17 + 2 * 17 * 9);
    expect(i420ByteLength(33, 17)).toBe(i420.data.length);
    const back = i420ToRgb(i420);
    expect(psnr(rgb.data, back.data)).toBeGreaterThan(40);
    // The bottom-right pixel is its chroma block on its own, so it must come back almost exactly.
    const last = (33 * 17 - 1) * 3;
    for (let c = 0; c < 3; c++) expect(Math.abs(back.data[last + c] - rgb.data[last + c])).toBeLessThanOrEqual(2);
  });

  test("pure colours map to the BT.601 studio-swing values and back", () => {
    // Expected Y, U, V from the BT.601 equations, rounded (red: Y = 16 + 0.256788 * 255 = 81.5 -> 81).
    const cases: { rgb: [number, number, number]; yuv: [number, number, number] }[] = [
      { rgb: [255, 0, 0], yuv: [81, 90, 240] },
      { rgb: [0, 255, 0], yuv: [145, 54, 34] },
      { rgb: [0, 0, 255], yuv: [41, 240, 110] },
      { rgb: [128, 128, 128], yuv: [126, 128, 128] },
      { rgb: [255, 255, 255], yuv: [235, 128, 128] },
      { rgb: [0, 0, 0], yuv: [16, 128, 128] },
    ];
    const image = patches(cases.map((c) => c.rgb));
    const i420 = rgbToI420(image);
    const { width } = image;
    const uBase = width * 8;
    const vBase = uBase + (width / 2) * 4;
    cases.forEach(({ rgb, yuv }, n) => {
      const x = n * 8 + 3;
      expect([i420.data[3 * width + x], i420.data[uBase + width + (x >> 1)], i420.data[vBase + width + (x >> 1)]])
        .toEqual(yuv);
      const back = i420ToRgb(i420).data.subarray((3 * width + x) * 3, (3 * width + x) * 3 + 3);
      for (let c = 0; c < 3; c++) expect(Math.abs(back[c] - rgb[c])).toBeLessThanOrEqual(1);
    });
  });

  test("writes into caller buffers and rejects short ones", () => {
    const rgb = smoothRgb(16, 16);
    const out = new Uint8Array(i420ByteLength(16, 16));
    expect(rgbToI420(rgb, out).data).toBe(out);
    expect(() => rgbToI420(rgb, new Uint8Array(10))).toThrow(RangeError);
    expect(() => i420ToRgb({ format: "I420", width: 16, height: 16, data: new Uint8Array(100) })).toThrow(RangeError);
  });

  test("strided planes, as a codec's frame buffers lay them out, convert exactly as packed ones", () => {
    // Odd size, rows padded past the width, and planes out of order in one buffer: nothing may read the padding.
    const rgb = smoothRgb(33, 17);
    const packed = rgbToI420(rgb);
    const memory = new Uint8Array(4096).fill(7);
    const planes: I420Planes = {
      width: 33,
      height: 17,
      y: memory.subarray(1000),
      u: memory.subarray(100),
      v: memory.subarray(3000),
      yStride: 48,
      uvStride: 24,
    };
    rgbToPlanes(rgb, planes);
    expect(planesToRgb(planes).data).toEqual(i420ToRgb(packed).data);
    for (let row = 0; row < 17; row++) {
      expect(planes.y.subarray(row * 48, row * 48 + 33)).toEqual(packed.data.subarray(row * 33, row * 33 + 33));
      // The padding after each row is left alone.
      expect(planes.y.subarray(row * 48 + 33, row * 48 + 48).every((byte) => byte === 7)).toBe(true);
    }
    const u = packed.data.subarray(33 * 17);
    for (let row = 0; row < 9; row++) {
      expect(planes.u.subarray(row * 24, row * 24 + 17)).toEqual(u.subarray(row * 17, row * 17 + 17));
    }
  });
});
