import { describe, expect, test } from "bun:test";
import { Resampler } from "../../lib/media/resampler.ts";

/** Sum of sinusoids (hz, amplitude) sampled at `sampleRate`; defined in continuous time, so comparable across rates. */
function sines(sampleRate: number, seconds: number, parts: [hz: number, amplitude: number][]): Int16Array {
  const out = new Int16Array(Math.round(sampleRate * seconds));
  for (let i = 0; i < out.length; i++) {
    const t = i / sampleRate;
    // Each part gets a different starting phase (k radians), so the parts do not all peak together.
    out[i] = Math.round(parts.reduce((sum, [hz, level], k) => sum + level * Math.sin(2 * Math.PI * hz * t + k), 0));
  }
  return out;
}

/** Broadband test signal below 5 kHz with incommensurate frequencies, so no lag but the right one lines up. */
const multiSine = (sampleRate: number, seconds: number) =>
  sines(sampleRate, seconds, [[217, 4000], [731, 3000], [1490, 3000], [2903, 2000], [4411, 1500]]);

function channel(pcm: Int16Array, index: number, channels: number): Int16Array {
  return pcm.filter((_, i) => i % channels === index);
}

/** Least-squares fit of a sinusoid of known frequency: its amplitude, and what is left after subtracting it. */
function fitTone(pcm: Int16Array, sampleRate: number, hz: number): { amplitude: number; residualRms: number } {
  let ss = 0;
  let sc = 0;
  let cc = 0;
  let xs = 0;
  let xc = 0;
  const w = (2 * Math.PI * hz) / sampleRate;
  for (let i = 0; i < pcm.length; i++) {
    const s = Math.sin(w * i);
    const c = Math.cos(w * i);
    ss += s * s;
    sc += s * c;
    cc += c * c;
    xs += pcm[i] * s;
    xc += pcm[i] * c;
  }
  const det = ss * cc - sc * sc;
  const a = (xs * cc - xc * sc) / det;
  const b = (xc * ss - xs * sc) / det;
  let residual = 0;
  for (let i = 0; i < pcm.length; i++) {
    residual += (pcm[i] - a * Math.sin(w * i) - b * Math.cos(w * i)) ** 2;
  }
  return { amplitude: Math.hypot(a, b), residualRms: Math.sqrt(residual / pcm.length) };
}

const dB = (ratio: number) => 20 * Math.log10(ratio);
/** Test tone amplitude, and its RMS for comparisons with RMS levels. */
const LEVEL = 10000;
const LEVEL_RMS = LEVEL / Math.SQRT2;

function rms(pcm: Int16Array): number {
  return Math.sqrt(pcm.reduce((sum, x) => sum + x * x, 0) / pcm.length);
}

/** Resamples a 1 s tone in 20 ms chunks, as the media path does, and drops the first 100 ms of filter settling. */
function resampleTone(inputRate: number, outputRate: number, hz: number): Int16Array {
  const resampler = new Resampler({ inputRate, outputRate });
  const input = sines(inputRate, 1, [[hz, LEVEL]]);
  const chunk = inputRate / 50;
  const parts: Int16Array[] = [];
  for (let offset = 0; offset < input.length; offset += chunk) {
    parts.push(resampler.process(input.subarray(offset, offset + chunk)));
  }
  resampler.free();
  return concat(parts).subarray(outputRate / 10);
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe("Resampler quality (Speex, quality 5)", () => {
  const cases: [inputRate: number, outputRate: number, tones: number[]][] = [
    [48000, 16000, [1000, 6000]],
    [16000, 48000, [1000, 6000]],
    [24000, 48000, [1000, 9000]],
  ];
  for (const [inputRate, outputRate, tones] of cases) {
    test(`${inputRate} -> ${outputRate}: passband tones keep their level within 0.5 dB, with nothing added`, () => {
      for (const hz of tones) {
        const { amplitude, residualRms } = fitTone(resampleTone(inputRate, outputRate, hz), outputRate, hz);
        expect(Math.abs(dB(amplitude / LEVEL))).toBeLessThan(0.5);
        // Everything that is not the tone (aliases, images, ripple): at least 80 dB below it.
        expect(dB(residualRms / LEVEL_RMS)).toBeLessThan(-80);
      }
    });
  }

  test("48 -> 16 kHz: a 10 kHz tone, which would alias to 6 kHz, is attenuated by more than 60 dB", () => {
    const output = resampleTone(48000, 16000, 10000);
    expect(dB(rms(output) / LEVEL_RMS)).toBeLessThan(-60);
  });

  test("output is time-aligned: resampled audio matches the same signal sampled at the new rate", () => {
    for (const [inputRate, outputRate] of [[48000, 16000], [16000, 48000], [24000, 48000]]) {
      const resampler = new Resampler({ inputRate, outputRate });
      const output = resampler.process(multiSine(inputRate, 1));
      resampler.free();
      const expected = multiSine(outputRate, 1);
      // The last filter half-length is still inside the resampler; compare what has come out, after 10 ms of settling.
      let error = 0;
      let signal = 0;
      for (let i = outputRate / 100; i < output.length; i++) {
        error += (output[i] - expected[i]) ** 2;
        signal += expected[i] ** 2;
      }
      expect(output.length).toBeGreaterThan(expected.length - outputRate / 100);
      expect(10 * Math.log10(signal / error)).toBeGreaterThan(60);
    }
  });

  test("stereo: each channel is resampled on its own", () => {
    const left = sines(48000, 0.5, [[1000, LEVEL]]);
    const right = sines(48000, 0.5, [[3000, LEVEL]]);
    const input = new Int16Array(left.length * 2);
    left.forEach((x, i) => (input[2 * i] = x));
    right.forEach((x, i) => (input[2 * i + 1] = x));
    const resampler = new Resampler({ inputRate: 48000, outputRate: 16000, channels: 2 });
    const output = resampler.process(input);
    resampler.free();
    const outLeft = channel(output, 0, 2).subarray(1600);
    const outRight = channel(output, 1, 2).subarray(1600);
    expect(outLeft.length).toBe(outRight.length);
    expect(Math.abs(dB(fitTone(outLeft, 16000, 1000).amplitude / LEVEL))).toBeLessThan(0.5);
    expect(Math.abs(dB(fitTone(outRight, 16000, 3000).amplitude / LEVEL))).toBeLessThan(0.5);
    expect(dB(fitTone(outLeft, 16000, 3000).amplitude / LEVEL)).toBeLessThan(-60);
    expect(dB(fitTone(outRight, 16000, 1000).amplitude / LEVEL)).toBeLessThan(-60);
  });
});

describe("Resampler streaming", () => {
  test("odd chunk sizes give exactly the one-shot output", () => {
    const sizes = [1, 7, 13, 97, 331, 960, 2049, 20000, 3];
    for (const [inputRate, outputRate, channels] of [[48000, 16000, 1], [16000, 48000, 1], [44100, 48000, 2]]) {
      const mono = multiSine(inputRate, 2);
      // Second channel: the same signal inverted and halved, so a channel mix-up changes the result.
      const input = Int16Array.from({ length: mono.length * channels }, (_, i) => {
        const x = mono[Math.floor(i / channels)];
        return i % channels === 0 ? x : -x >> 1;
      });
      const oneShot = new Resampler({ inputRate, outputRate, channels });
      const expected = oneShot.process(input);
      oneShot.free();
      const streaming = new Resampler({ inputRate, outputRate, channels });
      const parts: Int16Array[] = [];
      for (let offset = 0, k = 0; offset < input.length; k++) {
        const frames = sizes[k % sizes.length];
        parts.push(streaming.process(input.subarray(offset, offset + frames * channels)));
        offset += frames * channels;
      }
      streaming.free();
      expect(concat(parts)).toEqual(expected);
    }
  });

  test("output length follows the rate ratio over a long stream, without drift", () => {
    for (const [inputRate, outputRate] of [[48000, 16000], [16000, 48000], [44100, 48000], [48000, 44100]]) {
      const resampler = new Resampler({ inputRate, outputRate });
      const chunk = new Int16Array(inputRate / 100);
      let input = 0;
      let output = 0;
      const shortfall: number[] = [];
      for (let second = 1; second <= 60; second++) {
        for (let i = 0; i < 100; i++) {
          input += chunk.length;
          output += resampler.process(chunk).length;
        }
        shortfall.push((input * outputRate) / inputRate - output);
      }
      resampler.free();
      // A constant shortfall is the filter delay still inside the resampler (a few ms); drift would make it grow.
      expect(Math.max(...shortfall)).toBeLessThan(outputRate / 200);
      expect(Math.max(...shortfall) - Math.min(...shortfall)).toBeLessThanOrEqual(1);
    }
  });

  test("48 -> 16 kHz in 20 ms chunks gives 320 samples per chunk once the filter is primed", () => {
    const resampler = new Resampler({ inputRate: 48000, outputRate: 16000 });
    const lengths = Array.from({ length: 10 }, () => resampler.process(new Int16Array(960)).length);
    resampler.free();
    expect(lengths[0]).toBeLessThan(320);
    expect(lengths.slice(1)).toEqual(Array(9).fill(320));
  });
});

describe("Resampler edges", () => {
  test("equal rates pass through as a copy", () => {
    const resampler = new Resampler({ inputRate: 16000, outputRate: 16000 });
    const input = multiSine(16000, 0.02);
    const output = resampler.process(input);
    expect(output).toEqual(input);
    expect(output).not.toBe(input);
    resampler.free();
  });

  test("an empty chunk gives an empty result", () => {
    const resampler = new Resampler({ inputRate: 48000, outputRate: 16000 });
    expect(resampler.process(new Int16Array(0))).toHaveLength(0);
    resampler.free();
  });

  test("invalid options, partial frames and use after free() are rejected", () => {
    expect(() => new Resampler({ inputRate: 48000, outputRate: 16000, quality: 11 })).toThrow(RangeError);
    expect(() => new Resampler({ inputRate: 0, outputRate: 16000 })).toThrow(RangeError);
    expect(() => new Resampler({ inputRate: 48000, outputRate: 16000.5 })).toThrow(RangeError);
    const stereo = new Resampler({ inputRate: 48000, outputRate: 16000, channels: 2 });
    expect(() => stereo.process(new Int16Array(3))).toThrow(RangeError);
    stereo.free();
    stereo.free();
    expect(() => stereo.process(new Int16Array(2))).toThrow("after free()");
  });
});
