/**
 * RNNoise: our binding on the bundled rnnoise.wasm, and RNNoiseFilter, which the input transport runs on client audio.
 * Noise gets much quieter while speech keeps its energy; frames of the wrong size are refused; destroyed states go
 * back to the heap; the filter keeps every call's length and a constant delay, also across FilterEnableFrame.
 */
import { describe, expect, test } from "bun:test";
import {
  RNNOISE_FRAME_SAMPLES,
  RNNOISE_WASM,
  RNNoiseDenoiser,
  rnnoiseHeapBytes,
} from "../../lib/audio/filters/rnnoise.ts";
import { RNNoiseFilter } from "../../lib/audio/filters/rnnoiseFilter.ts";
import { bundledModule } from "../../lib/assets/bundledFiles.ts";
import { FilterEnableFrame } from "../../lib/pipeline/frames.ts";
import { readWav, resample, rms } from "../../scripts/support/audio.ts";
import { pinkNoiseWav, speechWav } from "../../scripts/support/media.ts";

const decibels = (pcm: Int16Array) => 20 * Math.log10(Math.max(rms(pcm), 1e-3) / 32768);

/** `pcm` through one denoiser, frame by frame (the output is one frame late, so it is shifted back). */
function denoise(pcm: Int16Array): Int16Array {
  using denoiser = new RNNoiseDenoiser();
  const out = new Int16Array(pcm.length);
  const frame = new Int16Array(RNNOISE_FRAME_SAMPLES);
  for (let i = 0; i + RNNOISE_FRAME_SAMPLES <= pcm.length; i += RNNOISE_FRAME_SAMPLES) {
    denoiser.process(pcm.subarray(i, i + RNNOISE_FRAME_SAMPLES), frame);
    if (i > 0) out.set(frame, i - RNNOISE_FRAME_SAMPLES);
  }
  return out;
}

/** `pcm` through a started filter in calls of `chunk` samples; every call must return as many as it was given. */
function filterAll(filter: RNNoiseFilter, pcm: Int16Array, chunk: number, onChunk?: (index: number) => void) {
  const out = new Int16Array(pcm.length);
  for (let i = 0, index = 0; i + chunk <= pcm.length; i += chunk, index++) {
    onChunk?.(index);
    const filtered = filter.filter(pcm.subarray(i, i + chunk));
    expect(filtered.length).toBe(chunk);
    out.set(filtered, i);
  }
  return out;
}

/** The lag (in samples, up to `maxLag`) at which `output` best matches `input`. */
function lagOf(input: Int16Array, output: Int16Array, maxLag: number): number {
  let best = -Infinity;
  let bestLag = -1;
  const end = output.length - maxLag;
  for (let lag = 0; lag <= maxLag; lag++) {
    let sum = 0;
    for (let i = 0; i < end; i++) sum += input[i] * output[i + lag];
    if (sum > best) [best, bestLag] = [sum, lag];
  }
  return bestLag;
}

describe("the RNNoise binding", () => {
  test("the bundled module offers what the binding declares", () => {
    expect(bundledModule(RNNOISE_WASM)).toBeInstanceOf(WebAssembly.Module);
  });

  test("pink noise comes out more than 20 dB quieter once RNNoise has heard a second of it", async () => {
    const noise = readWav(await pinkNoiseWav()).pcm;
    const out = denoise(noise);
    const before = decibels(noise.subarray(48000));
    const after = decibels(out.subarray(48000, noise.length - RNNOISE_FRAME_SAMPLES));
    console.log(`pink noise: ${before.toFixed(1)} dBFS in, ${after.toFixed(1)} dBFS out`);
    expect(before).toBeGreaterThan(-35);
    expect(after).toBeLessThan(before - 20);
  });

  test("clean speech keeps its energy within 1 dB", async () => {
    const speech = readWav(await speechWav()).pcm;
    const out = denoise(speech);
    const [before, after] = [decibels(speech), decibels(out)];
    console.log(`speech: ${before.toFixed(2)} dBFS in, ${after.toFixed(2)} dBFS out`);
    expect(Math.abs(after - before)).toBeLessThan(1);
  });

  test("a frame that is not 480 samples is refused with one line saying so", () => {
    using denoiser = new RNNoiseDenoiser();
    const frame = new Int16Array(RNNOISE_FRAME_SAMPLES);
    expect(() => denoiser.process(new Int16Array(320), frame)).toThrow(
      new RangeError("RNNoiseDenoiser.process: a frame is 480 samples (10 ms at 48 kHz), got 320 in and 480 out"),
    );
    expect(() => denoiser.process(frame, new Int16Array(960))).toThrow("got 480 in and 960 out");
    // The same denoiser still works with whole frames.
    expect(denoiser.process(frame, frame)).toBeGreaterThanOrEqual(0);
  });

  test("destroy() returns the state to the heap: the same number of new states then fits without growing it", () => {
    const count = 600;
    const make = () => Array.from({ length: count }, () => new RNNoiseDenoiser());
    const before = rnnoiseHeapBytes();
    const first = make();
    const grown = rnnoiseHeapBytes();
    // Positive control: live states do take heap, beyond what the module started with.
    expect(grown).toBeGreaterThan(before);
    for (const denoiser of first) denoiser.destroy();
    const second = make();
    expect(rnnoiseHeapBytes()).toBe(grown);
    for (const denoiser of second) denoiser.destroy();

    const frame = new Int16Array(RNNOISE_FRAME_SAMPLES);
    first[0].destroy();
    expect(() => first[0].process(frame, frame)).toThrow("RNNoiseDenoiser.process after destroy()");
  });
});

describe("RNNoiseFilter", () => {
  test("at 48 kHz: 20 ms in, 20 ms out, delayed exactly 10 ms; disabled, the samples themselves", async () => {
    const speech = readWav(await speechWav()).pcm;
    const filter = new RNNoiseFilter({ enabled: false });
    filter.start(48000);
    const out = filterAll(filter, speech, 960);
    filter.stop();
    expect(Array.from(out.subarray(480, 96_480))).toEqual(Array.from(speech.subarray(0, 96_000)));
  });

  test("at 16 kHz: every call keeps its length, and the delay is a constant 15 ms, enabled or not", async () => {
    const speech = resample(readWav(await speechWav()).pcm, 48000, 16000);
    for (const enabled of [false, true]) {
      const filter = new RNNoiseFilter({ enabled });
      filter.start(16000);
      const out = filterAll(filter, speech, 320);
      filter.stop();
      const half = speech.length >> 1;
      // The same lag in each half of the speech: the delay neither drifts nor jumps.
      expect(lagOf(speech.subarray(0, half), out.subarray(0, half), 800)).toBe(240);
      expect(lagOf(speech.subarray(half), out.subarray(half), 800)).toBe(240);
    }
  });

  test("other frame sizes and rates keep every call's length (44.1 kHz, 10 ms and odd chunks)", async () => {
    const speech = readWav(await speechWav()).pcm;
    for (const [rate, chunk] of [[44100, 441], [16000, 160], [24000, 333], [8000, 160]]) {
      const filter = new RNNoiseFilter();
      filter.start(rate);
      filterAll(filter, resample(speech.subarray(0, 96_000), 48000, rate), chunk);
      filter.stop();
    }
  });

  test("FilterEnableFrame switches it mid-call: noise is loud only while off, and not a sample is lost", async () => {
    const noise = readWav(await pinkNoiseWav()).pcm;
    const filter = new RNNoiseFilter();
    filter.start(48000);
    // 4 s in 20 ms calls: on for the first second, off for the second, on again for the rest.
    const out = filterAll(filter, noise, 960, (index) => {
      if (index === 50) filter.processFrame(new FilterEnableFrame(false));
      if (index === 100) filter.processFrame(new FilterEnableFrame(true));
    });
    filter.stop();
    const second = (n: number) => out.subarray(n * 48000 + 4800, (n + 1) * 48000);
    const [on, off, onAgain] = [decibels(second(0)), decibels(second(1)), decibels(second(2))];
    console.log(`on ${on.toFixed(1)}, off ${off.toFixed(1)}, on again ${onAgain.toFixed(1)} dBFS`);
    expect(off).toBeGreaterThan(on + 20);
    expect(off).toBeGreaterThan(onAgain + 20);
    // While off, the output is the input itself 10 ms late: the switch dropped and repeated nothing.
    const whileOff = Array.from(out.subarray(50 * 960 + 480, 100 * 960));
    expect(whileOff).toEqual(Array.from(noise.subarray(50 * 960, 100 * 960 - 480)));
    expect(filter.enabled).toBe(true);
  });

  test("turned on mid-call, its first frames carry on from the unfiltered ones: none repeated or skipped", async () => {
    const speech = readWav(await speechWav()).pcm;
    for (const switchAt of [40, 60, 80, 100]) {
      const filter = new RNNoiseFilter({ enabled: false });
      filter.start(48000);
      const out = filterAll(filter, speech, 960, (index) => {
        if (index === switchAt) filter.processFrame(new FilterEnableFrame(true));
      });
      filter.stop();
      // RNNoise keeps speech nearly as it is, so the first 20 ms filtered match the input 10 ms earlier closely (9 to
      // 17 dB measured); had the fresh state been primed with the wrong frame, a frame would repeat (about 0 dB).
      const delayed = speech.subarray(switchAt * 960 - 480, switchAt * 960 + 480);
      const filtered = out.subarray(switchAt * 960, switchAt * 960 + 960);
      const error = filtered.map((sample, i) => sample - delayed[i]);
      expect(decibels(delayed) - decibels(error)).toBeGreaterThan(6);
    }
  });

  test("one filter per transport: a second start, or audio before start, is a clear error", () => {
    const filter = new RNNoiseFilter();
    expect(() => filter.filter(new Int16Array(320))).toThrow("RNNoiseFilter.filter before start()");
    filter.start(16000);
    expect(() => filter.start(16000)).toThrow("RNNoiseFilter is already started: make one filter per transport");
    filter.stop();
    filter.start(16000);
    expect(filter.filter(new Int16Array(320)).length).toBe(320);
    filter.stop();
    expect(() => new RNNoiseFilter().start(0)).toThrow(
      "RNNoiseFilter: sample rate must be a whole number of Hz from 8000 to 192000, got 0",
    );
  });
});
