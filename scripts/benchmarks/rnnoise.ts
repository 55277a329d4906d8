/**
 * Benchmark: CPU time of RNNoise per 20 ms of client audio, against two references measured in the same run on the same
 * speech in noise: the real-time budget (20 ms) and the Opus decode of the same 20 ms, the one step every session
 * with client audio pays anyway. Measured alone (two 480-sample frames at 48 kHz) and as the transport runs it at the
 * pipeline's 16 kHz (RNNoiseFilter: resampled up, denoised, resampled down).
 */
import { RNNOISE_FRAME_SAMPLES, RNNoiseDenoiser } from "../../lib/audio/filters/rnnoise.ts";
import { RNNoiseFilter } from "../../lib/audio/filters/rnnoiseFilter.ts";
import { OpusDecoder, OpusEncoder } from "../../lib/media/opus.ts";
import { warmUpAudio } from "../../lib/media/warmUp.ts";
import { readWav, resample } from "../support/audio.ts";
import { noisySpeechWav } from "../support/media.ts";

export interface RNNoiseRow {
  case: string;
  /** CPU microseconds per 20 ms of audio (best of the rounds). */
  usPer20ms: number;
  /** Share of the real-time budget, in %. */
  realTimePct: number;
  /** Against decoding the same 20 ms of Opus at 48 kHz. */
  toOpusDecode: number;
}

const FRAME_48K = 960;
const ROUNDS = 5;

/** CPU microseconds per 20 ms frame of `run` over `frames` frames, best of ROUNDS after one round of warm-up. */
function cpuPerFrame(frames: number, run: () => void): number {
  let best = Infinity;
  for (let round = 0; round <= ROUNDS; round++) {
    const start = process.cpuUsage();
    run();
    const used = process.cpuUsage(start);
    if (round > 0) best = Math.min(best, (used.user + used.system) / frames);
  }
  return best;
}

export async function benchRNNoise(): Promise<RNNoiseRow[]> {
  await warmUpAudio(600);
  // Ten seconds: the fixture (speech with pauses, over pink noise) looped.
  const once = readWav(await noisySpeechWav()).pcm;
  const speech = new Int16Array(10 * 48000);
  for (let offset = 0; offset < speech.length; offset += once.length) {
    speech.set(once.subarray(0, speech.length - offset), offset);
  }
  const frames = Math.floor(speech.length / FRAME_48K);
  const frame = (pcm: Int16Array, i: number, size: number) => pcm.subarray(i * size, (i + 1) * size);

  const encoder = new OpusEncoder({ sampleRate: 48000, channels: 1, complexity: 9 });
  const packets = Array.from({ length: frames }, (_, i) => encoder.encode(frame(speech, i, FRAME_48K)));
  encoder.free();
  const opusDecodeAt = (rate: 48000 | 16000) => cpuPerFrame(frames, () => {
    const decoder = new OpusDecoder({ sampleRate: rate, channels: 1 });
    for (const packet of packets) decoder.decode(packet);
    decoder.free();
  });
  const opus48 = opusDecodeAt(48000);
  const opus16 = opusDecodeAt(16000);

  const rnnoise = cpuPerFrame(frames, () => {
    const denoiser = new RNNoiseDenoiser();
    const out = new Int16Array(RNNOISE_FRAME_SAMPLES);
    for (let i = 0; i < 2 * frames; i++) denoiser.process(frame(speech, i, RNNOISE_FRAME_SAMPLES), out);
    denoiser.destroy();
  });
  const speech16 = resample(speech, 48000, 16000);
  const filter16 = cpuPerFrame(frames, () => {
    const filter = new RNNoiseFilter();
    filter.start(16000);
    for (let i = 0; i < frames; i++) filter.filter(frame(speech16, i, 320));
    filter.stop();
  });

  const row = (name: string, us: number): RNNoiseRow => ({
    case: name,
    usPer20ms: us,
    realTimePct: (us / 20_000) * 100,
    toOpusDecode: us / opus48,
  });
  return [
    row("Opus decode at 48 kHz (reference)", opus48),
    row("Opus decode at 16 kHz (what the transport does)", opus16),
    row("RNNoise alone, 2 x 480 samples at 48 kHz", rnnoise),
    row("RNNoiseFilter at 16 kHz (resample up, RNNoise, down)", filter16),
  ];
}
