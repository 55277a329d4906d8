/**
 * The Opus complexity every audio encoder of the process uses, lowered while the server is busy. Encoding is the
 * largest CPU cost of an audio session (about 40 % of it with 50 echo sessions on one core), and libopus at
 * complexity 1 costs half of complexity 5 (69 against 139 us per 20 ms frame at 16 kHz, 32 kbps) for the same
 * waveform SNR on speech (12.0 dB against 12.1). So encoders run at the configured complexity while the process has
 * headroom and step down (5 -> 3 -> 1) once it uses more than BUSY of a core, back up below RELAXED: a loaded server
 * sounds slightly plainer instead of sending late or missing packets. Encoders pick the change up at their next frame.
 */
import process from "node:process";

export interface EncoderComplexityOptions {
  /** Complexity with headroom, 0-10. */
  max: number;
  /** Step down under load. */
  adaptive: boolean;
}

/** Fraction of one core the process used since the last call (all threads: GC and JIT count, conservatively). */
export type LoadSample = () => number;

const BUSY = 0.75;
const RELAXED = 0.5;
const SAMPLE_MS = 1000;

export class EncoderComplexity {
  #adaptive = true;
  /** The complexities stepped through, highest first: the configured one, then 3 and 1 where lower. */
  #levels = [5, 3, 1];
  #current = 5;
  #timer?: ReturnType<typeof setInterval>;

  get current(): number {
    return this.#current;
  }

  configure({ max, adaptive }: EncoderComplexityOptions): void {
    this.#adaptive = adaptive;
    this.#levels = [...new Set([max, Math.min(max, 3), Math.min(max, 1)])];
    this.#current = max;
  }

  /** Samples the process's CPU once a second while started (and adaptive). */
  start(sample: LoadSample = processLoad()): void {
    if (this.#timer || !this.#adaptive) return;
    this.#timer = setInterval(() => this.observe(sample()), SAMPLE_MS);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#current = this.#levels[0];
  }

  /** One load sample: steps one level down when busy, one up when relaxed. */
  observe(load: number): void {
    if (!this.#adaptive) return;
    const levels = this.#levels;
    const level = levels.indexOf(this.#current);
    if (load > BUSY && level < levels.length - 1) this.#current = levels[level + 1];
    else if (load < RELAXED && level > 0) this.#current = levels[level - 1];
  }
}

/** The process-wide setting the audio encoders follow. */
export const encoderComplexity = new EncoderComplexity();

/** A sampler of the CPU share of one core this process used since its previous call. */
export function processLoad(): LoadSample {
  let last = process.cpuUsage();
  let lastAt = performance.now();
  return () => {
    const usage = process.cpuUsage();
    const now = performance.now();
    const busyMs = (usage.user - last.user + usage.system - last.system) / 1000;
    const load = busyMs / Math.max(1, now - lastAt);
    last = usage;
    lastAt = now;
    return load;
  };
}
