/**
 * Deterministic synthetic video for codec tests: a smooth colour gradient that drifts, a moving checkered disc and a
 * fixed fine texture, so motion search, flat areas and detail are all exercised. Pure integer maths: the same pixels
 * on every runtime, which the committed H.264 fixture (test/fixtures/pattern-*.h264) depends on.
 */
import type { I420Image, RgbImage } from "../../lib/media/yuv.ts";

export function syntheticRgb(width: number, height: number, frameIndex: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const cx = ((frameIndex * 5) % (width + 80)) - 40;
  const cy = (height >> 1) + (((frameIndex * 3) % 40) - 20);
  const radius = Math.max(8, Math.min(width, height) >> 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      let r = ((x + frameIndex * 2) * 255) / (width + 1);
      let g = (y * 255) / (height + 1);
      let b = 128 + ((((x + y + frameIndex) >> 3) & 7) << 3);
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx + dy * dy < radius * radius) {
        const on = ((x >> 3) + (y >> 3)) & 1;
        r = on ? 240 : 20;
        g = on ? 220 : 40;
        b = on ? 30 : 200;
      }
      data[i] = r & 255;
      data[i + 1] = g & 255;
      data[i + 2] = b & 255;
    }
  }
  return { format: "RGB", width, height, data };
}

/** Peak signal-to-noise ratio over the first `length` bytes (all when omitted), in dB; Infinity when identical. */
export function psnr(a: Uint8Array, b: Uint8Array, length = Math.min(a.length, b.length)): number {
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return sum === 0 ? Infinity : 10 * Math.log10((255 * 255 * length) / sum);
}

/** PSNR of the luma planes only: what codec comparisons usually quote. */
export function psnrY(a: I420Image, b: I420Image): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`size mismatch: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  return psnr(a.data, b.data, a.width * a.height);
}
