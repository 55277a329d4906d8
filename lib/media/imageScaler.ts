/**
 * Brings bot pictures to the one size the video output sends (TransportParams `videoOutWidth` x `videoOutHeight`).
 * As in Pipecat's output transport, a picture of another size is stretched to fill the target (the aspect ratio is not
 * kept) and a picture that already has the size passes through untouched.
 *
 * Scaling runs on I420, after the colour conversion the VP8 encoder needs anyway: 1.5 bytes a pixel instead of RGB's 3,
 * and the conversion runs at the source size. When enlarging, colour detail then stays at the source's 4:2:0
 * resolution instead of being rebuilt from full-resolution RGB: the trade for about half the work.
 *
 * The filter is a triangle (linear) kernel, widened by the reduction factor when shrinking, as Pillow's BILINEAR:
 * bilinear interpolation when enlarging, and a weighted average of every source pixel a target pixel covers when
 * shrinking, so a large reduction does not alias. Taps that would fall outside the picture are dropped and the rest
 * re-weighted, so edges keep their values. Weights are 14-bit fixed point summing exactly to one: a flat area stays
 * exactly flat and no result exceeds 255.
 */
import { i420ByteLength, type I420Image, type RawImage, rgbToI420 } from "./yuv.ts";

const WEIGHT_BITS = 14;
const WEIGHT_ONE = 1 << WEIGHT_BITS;
const ROUNDING = WEIGHT_ONE >> 1;

/** Per axis: target sample `i` reads `count` source samples from `first[i]` on, weighted by `weights[i*count + k]`. */
interface Kernel {
  readonly count: number;
  readonly first: Int32Array;
  readonly weights: Int32Array;
}

/** Where one plane lies in a packed I420 buffer. */
interface PlaneLayout {
  readonly width: number;
  readonly height: number;
  readonly offset: number;
}

/** One of the three planes: where it lies in the source and target buffers, and its two kernels. */
interface PlanePlan {
  readonly source: PlaneLayout;
  readonly target: PlaneLayout;
  readonly x: Kernel;
  readonly y: Kernel;
}

/** Everything that depends on the source size, built once per size. */
interface Plan {
  readonly width: number;
  readonly height: number;
  readonly planes: readonly PlanePlan[];
  /** The horizontal pass's output: target width by source height, enough for the largest plane. */
  readonly rows: Uint8Array;
  /** RGB sources are converted here first. */
  converted?: Uint8Array;
}

/** Scales pictures to one target size, reusing its buffers from frame to frame. */
export class ImageScaler {
  readonly width: number;
  readonly height: number;
  readonly #output: I420Image;
  #plan?: Plan;

  constructor(width: number, height: number) {
    if (!isSize(width) || !isSize(height)) {
      throw new RangeError(`image scaler: target size must be whole numbers above zero, got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.#output = { format: "I420", width, height, data: new Uint8Array(i420ByteLength(width, height)) };
  }

  /**
   * `image` itself when it already has the target size (no copy). Otherwise the scaled picture as I420, in a buffer
   * that the next call overwrites.
   */
  scale(image: RawImage): RawImage {
    const { width, height } = image;
    if (width === this.width && height === this.height) return image;
    if (!isSize(width) || !isSize(height)) {
      throw new RangeError(`image scaler: cannot scale a ${width}x${height} picture`);
    }
    const plan = this.#planFor(width, height);
    let source = image.data;
    if (image.format === "RGB") {
      plan.converted ??= new Uint8Array(i420ByteLength(width, height));
      source = rgbToI420(image, plan.converted).data;
    } else if (source.length < i420ByteLength(width, height)) {
      const needed = i420ByteLength(width, height);
      throw new RangeError(`image scaler: I420 buffer has ${source.length} bytes, needs ${needed}`);
    }
    for (const plane of plan.planes) scalePlane(source, this.#output.data, plane, plan.rows);
    return this.#output;
  }

  #planFor(width: number, height: number): Plan {
    if (this.#plan?.width === width && this.#plan.height === height) return this.#plan;
    // Chroma planes scale by the luma ratio: with odd sizes their own ratio would shift colour against brightness.
    const scaleX = width / this.width;
    const scaleY = height / this.height;
    const targets = planeLayout(this.width, this.height);
    const planes = planeLayout(width, height).map((source, i): PlanePlan => ({
      source,
      target: targets[i],
      x: kernel(source.width, targets[i].width, scaleX),
      y: kernel(source.height, targets[i].height, scaleY),
    }));
    this.#plan = { width, height, planes, rows: new Uint8Array(this.width * height) };
    return this.#plan;
  }
}

function isSize(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

/** Y, U and V of a packed I420 picture: chroma planes are `ceil(width/2) x ceil(height/2)`. */
function planeLayout(width: number, height: number): PlaneLayout[] {
  const chromaWidth = (width + 1) >> 1;
  const chromaHeight = (height + 1) >> 1;
  const luma = width * height;
  return [
    { width, height, offset: 0 },
    { width: chromaWidth, height: chromaHeight, offset: luma },
    { width: chromaWidth, height: chromaHeight, offset: luma + chromaWidth * chromaHeight },
  ];
}

/**
 * The kernel mapping `sourceLength` samples onto `targetLength`, `scale` source samples per target sample. Sample `j`
 * spans [j, j+1), so target sample `i` is centred on source position (i + 0.5) * scale.
 */
function kernel(sourceLength: number, targetLength: number, scale: number): Kernel {
  const radius = Math.max(scale, 1);
  const lows = new Int32Array(targetLength);
  const highs = new Int32Array(targetLength);
  let taps = 1;
  for (let i = 0; i < targetLength; i++) {
    const centre = (i + 0.5) * scale;
    // The samples whose centres lie strictly inside the triangle, clipped to the picture.
    lows[i] = Math.max(0, Math.floor(centre - radius - 0.5) + 1);
    highs[i] = Math.min(sourceLength - 1, Math.ceil(centre + radius - 0.5) - 1);
    taps = Math.max(taps, highs[i] - lows[i] + 1);
  }
  // Two and four taps have unrolled loops (about 1.5x faster in Bun than the general one), so three pads to four.
  const count = Math.min(sourceLength, taps <= 2 ? 2 : taps <= 4 ? 4 : taps);
  const first = new Int32Array(targetLength);
  const weights = new Int32Array(targetLength * count);
  const exact = new Float64Array(count);
  for (let i = 0; i < targetLength; i++) {
    const centre = (i + 0.5) * scale;
    // Near the far edge the window starts earlier; the samples it gains get weight zero.
    const start = Math.min(lows[i], sourceLength - count);
    let sum = 0;
    for (let k = 0; k < count; k++) {
      const j = start + k;
      exact[k] = j < lows[i] || j > highs[i] ? 0 : 1 - Math.abs(j + 0.5 - centre) / radius;
      sum += exact[k];
    }
    const base = i * count;
    let total = 0;
    let largest = base;
    for (let k = 0; k < count; k++) {
      weights[base + k] = Math.round((exact[k] / sum) * WEIGHT_ONE);
      total += weights[base + k];
      if (weights[base + k] > weights[largest]) largest = base + k;
    }
    // Rounding may leave the sum a few units off (enough for white to wrap to black); the largest weight absorbs it.
    weights[largest] += WEIGHT_ONE - total;
    first[i] = start;
  }
  return { count, first, weights };
}

/** Horizontal pass into `rows`, then vertical pass into the target. */
function scalePlane(source: Uint8Array, target: Uint8Array, plane: PlanePlan, rows: Uint8Array): void {
  const { source: from, target: to, x, y } = plane;
  const input = source.subarray(from.offset, from.offset + from.width * from.height);
  const output = target.subarray(to.offset, to.offset + to.width * to.height);
  scaleRows(input, from.width, from.height, x, rows, to.width);
  scaleColumns(rows, to.width, y, output, to.height);
}

/** Resamples each of `height` rows from `sourceWidth` to `targetWidth` samples. */
function scaleRows(
  source: Uint8Array,
  sourceWidth: number,
  height: number,
  { count, first, weights: w }: Kernel,
  target: Uint8Array,
  targetWidth: number,
): void {
  for (let y = 0; y < height; y++) {
    const row = y * sourceWidth;
    const out = y * targetWidth;
    if (count === 2) {
      for (let x = 0; x < targetWidth; x++) {
        const s = row + first[x];
        const k = x * 2;
        target[out + x] = (source[s] * w[k] + source[s + 1] * w[k + 1] + ROUNDING) >> WEIGHT_BITS;
      }
    } else if (count === 4) {
      for (let x = 0; x < targetWidth; x++) {
        const s = row + first[x];
        const k = x * 4;
        target[out + x] =
          (source[s] * w[k] + source[s + 1] * w[k + 1] + source[s + 2] * w[k + 2] + source[s + 3] * w[k + 3] +
            ROUNDING) >> WEIGHT_BITS;
      }
    } else {
      for (let x = 0; x < targetWidth; x++) {
        const s = row + first[x];
        const k = x * count;
        let sum = ROUNDING;
        for (let t = 0; t < count; t++) sum += source[s + t] * w[k + t];
        target[out + x] = sum >> WEIGHT_BITS;
      }
    }
  }
}

/** Resamples each column of a `width`-wide picture to `targetHeight` samples. */
function scaleColumns(
  source: Uint8Array,
  width: number,
  { count, first, weights: w }: Kernel,
  target: Uint8Array,
  targetHeight: number,
): void {
  for (let y = 0; y < targetHeight; y++) {
    const a = first[y] * width;
    const out = y * width;
    const k = y * count;
    if (count === 2) {
      const b = a + width;
      const wa = w[k];
      const wb = w[k + 1];
      for (let x = 0; x < width; x++) {
        target[out + x] = (source[a + x] * wa + source[b + x] * wb + ROUNDING) >> WEIGHT_BITS;
      }
    } else if (count === 4) {
      const b = a + width;
      const c = b + width;
      const d = c + width;
      const wa = w[k];
      const wb = w[k + 1];
      const wc = w[k + 2];
      const wd = w[k + 3];
      for (let x = 0; x < width; x++) {
        target[out + x] =
          (source[a + x] * wa + source[b + x] * wb + source[c + x] * wc + source[d + x] * wd + ROUNDING) >>
          WEIGHT_BITS;
      }
    } else {
      for (let x = 0; x < width; x++) {
        let sum = ROUNDING;
        for (let t = 0; t < count; t++) sum += source[a + t * width + x] * w[k + t];
        target[out + x] = sum >> WEIGHT_BITS;
      }
    }
  }
}
