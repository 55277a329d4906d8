/** Audio helpers for tests and benchmarks: WAV reading, levels, and finding an echo inside a recording. */
import { readFileSync } from "node:fs";
import { Resampler } from "../../lib/media/resampler.ts";

/** Samples of a 16-bit PCM mono WAV file (the format media.ts writes). */
export function readWav(path: string): { pcm: Int16Array; sampleRate: number } {
  return parseWav(readFileSync(path), path);
}

/** Samples of a 16-bit PCM mono WAV held in memory; `what` names it in errors. */
export function parseWav(data: Uint8Array, what = "the WAV"): { pcm: Int16Array; sampleRate: number } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 12;
  let sampleRate = 0;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString("ascii", offset, offset + 4);
    const size = view.getUint32(offset + 4, true);
    if (id === "fmt ") sampleRate = view.getUint32(offset + 12, true);
    if (id === "data") {
      const pcm = new Int16Array(size / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = view.getInt16(offset + 8 + i * 2, true);
      return { pcm, sampleRate };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error(`${what} has no data chunk`);
}

export function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const sample of pcm) sum += sample * sample;
  return Math.sqrt(sum / Math.max(1, pcm.length));
}

/**
 * Amplitude of the `hz` component of `pcm`, by a Goertzel filter over a Hann window (so louder neighbours a few bins
 * away leak little into it): a sine of amplitude A at `hz` reads about A.
 */
export function toneAmplitude(pcm: ArrayLike<number>, hz: number, sampleRate: number): number {
  const n = pcm.length;
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / sampleRate);
  let previous = 0;
  let beforePrevious = 0;
  for (let i = 0; i < n; i++) {
    const windowed = pcm[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
    const current = windowed + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  // The window's coherent gain is 1/2, and a sine's bin holds half its amplitude times n.
  return (4 * Math.sqrt(Math.max(0, power))) / n;
}

/** `pcm` at `inputRate` resampled to `outputRate`, properly (any ratio). */
export function resample(pcm: Int16Array, inputRate: number, outputRate: number): Int16Array {
  const resampler = new Resampler({ inputRate, outputRate });
  try {
    return resampler.process(pcm);
  } finally {
    resampler.free();
  }
}

/** Takes every `factor`-th sample after a crude box low-pass (integer factors); enough to compare speech envelopes. */
export function decimate(pcm: Int16Array, factor: number): Int16Array {
  const out = new Int16Array(Math.floor(pcm.length / factor));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let j = 0; j < factor; j++) sum += pcm[i * factor + j];
    out[i] = sum / factor;
  }
  return out;
}

/** Loudness envelope: RMS of consecutive windows. */
export function envelope(pcm: Int16Array, window: number): Float64Array {
  const out = new Float64Array(Math.floor(pcm.length / window));
  for (let i = 0; i < out.length; i++) out[i] = rms(pcm.subarray(i * window, (i + 1) * window));
  return out;
}

/** Pearson correlation of `a` with `b` shifted left by `lag` (b[i + lag] against a[i]). */
export function correlationAt(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  const n = Math.min(a.length, b.length - lag);
  if (n <= 1) return 0;
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i], y = b[i + lag];
    sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y;
  }
  const cov = sab - (sa * sb) / n;
  const den = Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
  return den === 0 ? 0 : cov / den;
}

/**
 * Where `reference` occurs in `recording`, and how well it matches there: first the loudness envelopes are aligned
 * (cheap, robust to codecs), then the waveform around that lag. Returns the lag in samples and both correlations.
 */
export function findEcho(reference: Int16Array, recording: Int16Array, sampleRate: number) {
  const window = sampleRate / 100;
  const refEnvelope = envelope(reference, window);
  const recEnvelope = envelope(recording, window);
  let coarse = 0;
  let envelopeCorrelation = -1;
  for (let lag = 0; lag + refEnvelope.length / 2 <= recEnvelope.length; lag++) {
    const c = correlationAt(refEnvelope, recEnvelope, lag);
    if (c > envelopeCorrelation) [envelopeCorrelation, coarse] = [c, lag];
  }
  let lag = coarse * window;
  let waveformCorrelation = -1;
  for (let fine = Math.max(0, (coarse - 2) * window); fine <= (coarse + 2) * window; fine++) {
    const c = correlationAt(reference, recording, fine);
    if (c > waveformCorrelation) [waveformCorrelation, lag] = [c, fine];
  }
  return { lag, envelopeCorrelation, waveformCorrelation };
}

/**
 * `recording` realigned to `reference`, piece by piece. A live path (an echo) shifts its timeline by whole 20 ms
 * frames wherever its sender had no input in time and sent a frame of silence instead, and one lag for the whole
 * recording would count everything after such a shift as a mismatch. Starting from `lag` (from findEcho), each 250 ms
 * piece with sound in it takes the best of the previous lag, one frame less, or up to two frames more; quiet pieces
 * keep the previous lag. The result has the reference's length and lines up with it at lag 0.
 */
export function alignEcho(reference: Int16Array, recording: Int16Array, sampleRate: number, lag: number): Int16Array {
  const piece = Math.round(sampleRate / 4);
  const frame = Math.round(sampleRate / 50);
  const quiet = rms(reference) / 4;
  const aligned = new Int16Array(reference.length);
  let shift = lag;
  for (let start = 0; start < reference.length; start += piece) {
    const part = reference.subarray(start, start + piece);
    if (rms(part) >= quiet) {
      const candidates = [-1, 0, 1, 2].map((frames) => shift + frames * frame).filter((c) => start + c >= 0);
      const scores = candidates.map((candidate) => correlationAt(part, recording, start + candidate));
      shift = candidates[scores.indexOf(Math.max(...scores))];
    }
    aligned.set(recording.subarray(start + shift, start + shift + part.length), start);
  }
  return aligned;
}
