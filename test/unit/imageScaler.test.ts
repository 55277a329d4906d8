import { describe, expect, test } from "bun:test";
import { ImageScaler } from "../../lib/media/imageScaler.ts";
import { i420ByteLength, type I420Image, i420ToRgb, type RgbImage } from "../../lib/media/yuv.ts";

/** An I420 picture whose luma is `luma(x, y)` and whose chroma planes are flat `u` and `v`. */
function i420(width: number, height: number, luma: (x: number, y: number) => number, u = 128, v = 128): I420Image {
  const data = new Uint8Array(i420ByteLength(width, height));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = luma(x, y);
  const chroma = ((width + 1) >> 1) * ((height + 1) >> 1);
  data.fill(u, width * height, width * height + chroma);
  data.fill(v, width * height + chroma);
  return { format: "I420", width, height, data };
}

function scaled(scaler: ImageScaler, image: I420Image | RgbImage): I420Image {
  const out = scaler.scale(image);
  if (out.format !== "I420") throw new Error("expected an I420 picture");
  return out;
}

function lumaRow(image: I420Image, y: number): number[] {
  return [...image.data.subarray(y * image.width, (y + 1) * image.width)];
}

function lumaColumn(image: I420Image, x: number): number[] {
  return Array.from({ length: image.height }, (_, y) => image.data[y * image.width + x]);
}

/** The three planes as [width, height, bytes]. */
function planes(image: I420Image): [number, number, Uint8Array][] {
  const { width, height, data } = image;
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const luma = width * height;
  return [
    [width, height, data.subarray(0, luma)],
    [cw, ch, data.subarray(luma, luma + cw * ch)],
    [cw, ch, data.subarray(luma + cw * ch, luma + 2 * cw * ch)],
  ];
}

describe("ImageScaler", () => {
  test("a picture that already has the target size comes back as it is, not copied", () => {
    const scaler = new ImageScaler(64, 48);
    const yuv = i420(64, 48, (x) => x);
    const rgb: RgbImage = { format: "RGB", width: 64, height: 48, data: new Uint8Array(64 * 48 * 3) };
    expect(scaler.scale(yuv)).toBe(yuv);
    expect(scaler.scale(rgb)).toBe(rgb);
  });

  test("a 2x2 checker enlarged 4x: bilinear between the four centres, edges keep their values", () => {
    const checker = i420(2, 2, (x, y) => ((x + y) & 1 ? 40 : 200));
    const out = scaled(new ImageScaler(8, 8), checker);
    // Target pixel i is centred on source position (i + 0.5) / 4; source centres are at 0.5 and 1.5.
    const first = [200, 200, 180, 140, 100, 60, 40, 40];
    const second = first.map((value) => 240 - value);
    expect(lumaRow(out, 0)).toEqual(first);
    expect(lumaRow(out, 7)).toEqual(second);
    expect(lumaColumn(out, 0)).toEqual(first);
    expect(lumaColumn(out, 7)).toEqual(second);
    // Inside, both directions blend: row 3 is 5/8 of row 0 and 3/8 of row 7.
    expect(lumaRow(out, 3)).toEqual(first.map((a, i) => Math.round((5 * a + 3 * second[i]) / 8)));
    // Flat chroma stays exactly flat.
    expect([...out.data.subarray(64)].every((value) => value === 128)).toBe(true);
  });

  for (const [from, to] of [
    [256, 1000],
    [256, 64],
    [255, 37],
  ]) {
    test(`a ramp scaled from ${from} to ${to} samples keeps its ends and stays a straight ramp`, () => {
      const step = 255 / (from - 1);
      // Only the width changes, then only the height: the other pass keeps its samples as they are.
      const across = scaled(new ImageScaler(to, 3), i420(from, 3, (x) => Math.round(x * step)));
      const down = scaled(new ImageScaler(3, to), i420(3, from, (_, y) => Math.round(y * step)));
      for (const line of [lumaRow(across, 0), lumaRow(across, 2), lumaColumn(down, 0), lumaColumn(down, 2)]) {
        expect(line).toHaveLength(to);
        // Enlarging keeps the end pixels exactly; shrinking averages a few pixels near each end.
        const slack = to > from ? 0 : Math.ceil((2 * from) / to);
        expect(line[0]).toBeLessThanOrEqual(slack);
        expect(line[to - 1]).toBeGreaterThanOrEqual(255 - slack);
        for (let i = 1; i < to; i++) expect(line[i]).toBeGreaterThanOrEqual(line[i - 1]);
        // Away from the ends, a symmetric kernel reproduces a straight line: target i sits at source (i + 0.5) * scale.
        const scale = from / to;
        const margin = Math.ceil(Math.max(scale, 1) / scale) + 1;
        for (let i = margin; i < to - margin; i++) {
          expect(Math.abs(line[i] - ((i + 0.5) * scale - 0.5) * step)).toBeLessThanOrEqual(1);
        }
      }
    });
  }

  test("shrinking 3x averages one-pixel stripes to grey instead of picking every third one", () => {
    // Sampling between the two nearest pixels would land on every third stripe exactly: 0, 255, 0, ...
    const stripes = i420(240, 8, (x) => (x & 1 ? 255 : 0));
    const out = scaled(new ImageScaler(80, 2), stripes);
    for (const value of out.data.subarray(0, 160)) expect(Math.abs(value - 127.5)).toBeLessThan(16);
  });

  for (const [width, height, toWidth, toHeight] of [
    [33, 17, 50, 25],
    [7, 5, 3, 3],
    [1, 1, 3, 2],
    [5, 3, 1, 1],
    [640, 480, 641, 480],
  ]) {
    test(`${width}x${height} -> ${toWidth}x${toHeight}: planes of the odd sizes, every byte written`, () => {
      const out = scaled(new ImageScaler(toWidth, toHeight), i420(width, height, () => 77, 99, 201));
      expect([out.width, out.height, out.data.length]).toEqual([toWidth, toHeight, i420ByteLength(toWidth, toHeight)]);
      const [[, , luma], [chromaWidth, chromaHeight, u], [, , v]] = planes(out);
      expect([chromaWidth, chromaHeight]).toEqual([(toWidth + 1) >> 1, (toHeight + 1) >> 1]);
      // A flat picture stays exactly flat, so any byte left unwritten or read from the wrong plane shows.
      expect([...new Set(luma), ...new Set(u), ...new Set(v)]).toEqual([77, 99, 201]);
    });
  }

  test("flat pictures stay exactly flat at any ratio: weights sum to one, so white never wraps round to black", () => {
    for (const value of [0, 1, 254, 255]) {
      for (let from = 2; from < 400; from += 7) {
        for (const to of [1, 3, 7, 50, 301, 999]) {
          const out = scaled(new ImageScaler(to, 1), i420(from, 1, () => value, value, value));
          const wrong = out.data.findIndex((sample) => sample !== value);
          if (wrong >= 0) throw new Error(`${value} became ${out.data[wrong]} at ${wrong}, scaling ${from} to ${to}`);
        }
      }
    }
  });

  test("odd widths: the last chroma column holds the colour of the picture's right edge", () => {
    // Left half U 60, right half U 200 (whole chroma columns), scaled to an odd width.
    const source = i420(16, 4, () => 100);
    const [, , u] = planes(source)[1];
    for (let i = 0; i < u.length; i++) u[i] = i % 8 < 4 ? 60 : 200;
    const out = scaled(new ImageScaler(21, 5), source);
    const [chromaWidth, , chromaU] = planes(out)[1];
    expect(chromaWidth).toBe(11);
    for (let row = 0; row < 3; row++) {
      expect(chromaU[row * chromaWidth]).toBe(60);
      expect(chromaU[row * chromaWidth + chromaWidth - 1]).toBe(200);
    }
  });

  test("odd widths: colour edges stay on the brightness edges (chroma scales by the luma ratio)", () => {
    // 9 pixels wide: luma 0-3 dark, 4-8 bright; chroma (5 columns, two pixels each) 0-1 and 2-4 likewise.
    const source = i420(9, 2, (x) => (x < 4 ? 50 : 200));
    const [, , u] = planes(source)[1];
    u.set([60, 60, 200, 200, 200]);
    const out = scaled(new ImageScaler(18, 4), source);
    // Doubled, the edge lies between target luma 7 and 8, so between chroma columns 3 and 4: equally far from both.
    expect(lumaRow(out, 0).slice(6, 10)).toEqual([50, 88, 163, 200]);
    const [, , chromaU] = planes(out)[1];
    expect([...chromaU.subarray(2, 6)]).toEqual([60, 95, 165, 200]);
  });

  test("RGB pictures are converted and scaled: the colours stay where they were", () => {
    // Left half red, right half blue, in whole 2x2 chroma blocks.
    const data = new Uint8Array(32 * 16 * 3);
    for (let p = 0; p < 32 * 16; p++) data.set(p % 32 < 16 ? [230, 20, 20] : [20, 20, 230], p * 3);
    const out = i420ToRgb(scaled(new ImageScaler(48, 24), { format: "RGB", width: 32, height: 16, data }));
    for (const [x, colour] of [
      [0, [230, 20, 20]],
      [47, [20, 20, 230]],
    ] as const) {
      const pixel = out.data.subarray((12 * 48 + x) * 3, (12 * 48 + x) * 3 + 3);
      for (let c = 0; c < 3; c++) expect(Math.abs(pixel[c] - colour[c])).toBeLessThanOrEqual(3);
    }
  });

  test("reuses its output buffer from frame to frame, whatever the source size", () => {
    const scaler = new ImageScaler(20, 10);
    const first = scaled(scaler, i420(40, 20, () => 10));
    const second = scaled(scaler, i420(40, 20, () => 20));
    const third = scaled(scaler, i420(10, 5, () => 30));
    expect(second.data).toBe(first.data);
    expect(third.data).toBe(first.data);
    expect(third.data[0]).toBe(30);
  });

  test("bad sizes and short buffers are refused with one clear line", () => {
    expect(() => new ImageScaler(0, 10)).toThrow(
      "image scaler: target size must be whole numbers above zero, got 0x10",
    );
    expect(() => new ImageScaler(10.5, 10)).toThrow(RangeError);
    const scaler = new ImageScaler(10, 10);
    expect(() => scaler.scale({ format: "I420", width: 0, height: 4, data: new Uint8Array(0) })).toThrow(
      "image scaler: cannot scale a 0x4 picture",
    );
    expect(() => scaler.scale({ format: "I420", width: 4, height: 4, data: new Uint8Array(10) })).toThrow(
      "image scaler: I420 buffer has 10 bytes, needs 24",
    );
    expect(() => scaler.scale({ format: "RGB", width: 4, height: 4, data: new Uint8Array(10) })).toThrow(RangeError);
  });
});
