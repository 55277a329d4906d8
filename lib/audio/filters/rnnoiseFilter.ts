/**
 * Noise suppression of client audio with RNNoise (TransportParams `audioInFilter`, Pipecat's RNNoiseFilter). RNNoise
 * runs at 48 kHz on 10 ms frames; audio at another rate (the pipeline's 16 kHz by default) is resampled up to it and
 * back. Every call returns as many samples as it was given, so the transport's frames stay 20 ms long: the audio comes
 * out delayed by a constant: RNNoise's own 10 ms, plus at other rates the two resamplers' filters (5 ms at 16 kHz)
 * and, for frames that are not whole multiples of 10 ms, under 10 ms of buffering.
 *
 * Disabled mid-call (FilterEnableFrame), audio goes through the same delay unfiltered, so switching either way loses
 * and repeats no samples; enabled again, a fresh RNNoise state is primed with the frame it has to output next.
 */
import { Resampler } from "../../media/resampler.ts";
import { SampleQueue } from "../../media/sampleQueue.ts";
import { type FilterControlFrame, FilterEnableFrame } from "../../pipeline/frames.ts";
import type { AudioFilter } from "./audioFilter.ts";
import { loadRNNoise, RNNOISE_FRAME_SAMPLES, RNNOISE_SAMPLE_RATE, RNNoiseDenoiser } from "./rnnoise.ts";

export interface RNNoiseFilterOptions {
  /** Filter from the start (the default), or pass audio through until a FilterEnableFrame turns it on. */
  enabled?: boolean;
}

/** The state of one started filter, freed as a unit. */
interface Running {
  sampleRate: number;
  /** Absent at 48 kHz. */
  up?: Resampler;
  down?: Resampler;
  /** Whether the upsampler's first output has been aligned to RNNoise frames. */
  aligned: boolean;
  /** 48 kHz samples short of a whole RNNoise frame. */
  pending: SampleQueue;
  /** Filtered audio at the input rate, waiting to fill the next call's output. */
  filtered: SampleQueue;
  /** Made on the first enabled frame, so a filter that starts disabled costs no RNNoise state. */
  denoiser?: RNNoiseDenoiser;
  /** The last input frame: the output of the next frame while disabled, and what primes a fresh state. */
  previous: Int16Array;
  frame: Int16Array;
}

export class RNNoiseFilter implements AudioFilter {
  #enabled: boolean;
  #running?: Running;

  constructor(options: RNNoiseFilterOptions = {}) {
    this.#enabled = options.enabled ?? true;
  }

  /** Whether audio is being denoised now. */
  get enabled(): boolean {
    return this.#enabled;
  }

  start(sampleRate: number): void {
    if (this.#running) throw new Error("RNNoiseFilter is already started: make one filter per transport");
    if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 192_000) {
      throw new RangeError(
        `RNNoiseFilter: sample rate must be a whole number of Hz from 8000 to 192000, got ${sampleRate}`,
      );
    }
    loadRNNoise();
    const resampled = sampleRate !== RNNOISE_SAMPLE_RATE;
    this.#running = {
      sampleRate,
      aligned: false,
      up: resampled ? new Resampler({ inputRate: sampleRate, outputRate: RNNOISE_SAMPLE_RATE }) : undefined,
      down: resampled ? new Resampler({ inputRate: RNNOISE_SAMPLE_RATE, outputRate: sampleRate }) : undefined,
      pending: new SampleQueue(2 * RNNOISE_FRAME_SAMPLES),
      filtered: new SampleQueue(sampleRate / 25),
      previous: new Int16Array(RNNOISE_FRAME_SAMPLES),
      frame: new Int16Array(RNNOISE_FRAME_SAMPLES),
    };
  }

  filter(pcm: Int16Array): Int16Array {
    const running = this.#running;
    if (!running) throw new Error("RNNoiseFilter.filter before start()");
    const { up, down, pending, filtered } = running;
    const upsampled = up ? up.process(pcm) : pcm;
    if (up && !running.aligned) {
      // The upsampler holds back its filter's first samples. As many zeros ahead of its output keep whole input
      // frames whole RNNoise frames (20 ms at 16 kHz is exactly two), so audio does not wait for the next call.
      running.aligned = true;
      const expected = Math.round((pcm.length * RNNOISE_SAMPLE_RATE) / running.sampleRate);
      pending.push(new Int16Array(Math.max(0, expected - upsampled.length)));
    }
    pending.push(upsampled);
    const frames = Math.floor(pending.length / RNNOISE_FRAME_SAMPLES);
    const out48 = new Int16Array(frames * RNNOISE_FRAME_SAMPLES);
    for (let i = 0; i < frames; i++) {
      pending.shiftInto(running.frame);
      this.#processFrame(running, out48.subarray(i * RNNOISE_FRAME_SAMPLES, (i + 1) * RNNOISE_FRAME_SAMPLES));
    }
    const out = down ? down.process(out48) : out48;
    // Before the pipeline of buffers has filled, the output starts with the silence that sets the constant delay.
    const missing = pcm.length - filtered.length - out.length;
    if (missing > 0) filtered.push(new Int16Array(missing));
    filtered.push(out);
    const result = new Int16Array(pcm.length);
    filtered.shiftInto(result);
    return result;
  }

  stop(): void {
    const running = this.#running;
    this.#running = undefined;
    running?.up?.free();
    running?.down?.free();
    running?.denoiser?.destroy();
  }

  processFrame(frame: FilterControlFrame): void {
    if (!(frame instanceof FilterEnableFrame) || frame.enable === this.#enabled) return;
    this.#enabled = frame.enable;
    // A state left from before a pause would overlap its old audio with the new: start a fresh one when enabled.
    this.#running?.denoiser?.destroy();
    if (this.#running) this.#running.denoiser = undefined;
  }

  /** One 10 ms frame at 48 kHz: `running.frame` in, the frame before it (denoised or not) out. */
  #processFrame(running: Running, output: Int16Array): void {
    const { frame, previous } = running;
    if (!this.#enabled) {
      output.set(previous);
    } else {
      if (!running.denoiser) {
        running.denoiser = new RNNoiseDenoiser();
        // RNNoise outputs a frame late; fed the previous frame first, it outputs that frame next, as the delay needs.
        running.denoiser.process(previous, output);
      }
      running.denoiser.process(frame, output);
    }
    previous.set(frame);
  }
}
