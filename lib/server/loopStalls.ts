/**
 * How long the event loop stops, and which of those stops had a garbage collection in them. Neither Bun nor Deno
 * tells JavaScript about its collections (a PerformanceObserver for "gc" stays silent in both), so both are measured
 * from inside: a 10 ms timer records how late it fires, and each firing leaves an object held only by a WeakRef.
 * When the next firing finds it gone, a collection ran in between; a stall with one in it counts as a collection
 * pause. That is a judgement, not a report: a collection that ran concurrently beside a stall with another cause
 * counts too, and one that kept the object (a conservative stack scan can) goes unseen.
 *
 * Reading the heap's size instead was tried and dropped: under Bun a read waits for a running collection (4 ms on
 * average with bun:jsc's heapSize(), 50-70 ms just after a requested full collection with process.memoryUsage()),
 * so the probe made the stalls it was meant to measure.
 */

export interface LoopStallsOptions {
  /** How often the timer fires; its lateness is what is measured. */
  intervalMs?: number;
  /** Lateness at or below this is timer jitter, not a stall, and is left out of the histograms. */
  floorMs?: number;
  /** The span the recent p99 and maximum are taken over. */
  windowMs?: number;
  now?: () => number;
  /** Whether a collection ran since the previous call (the first call starts the watch). */
  collectedSince?: () => boolean;
}

/** Upper bounds of the histograms' buckets, in milliseconds (a last one, +Inf, holds the rest). */
export const STALL_BUCKETS_MS = [10, 20, 50, 100, 200, 500] as const;

export const STALL_FLOOR_MS = 5;
export const STALL_WINDOW_MS = 10_000;

/** Counts of pauses by bucket (each bucket its own, not cumulative), their total and their number since start. */
export class PauseHistogram {
  readonly counts = new Array<number>(STALL_BUCKETS_MS.length + 1).fill(0);
  sumMs = 0;
  count = 0;

  observe(ms: number): void {
    const bucket = STALL_BUCKETS_MS.findIndex((bound) => ms <= bound);
    this.counts[bucket < 0 ? STALL_BUCKETS_MS.length : bucket]++;
    this.sumMs += ms;
    this.count++;
  }
}

/** The p99 and the maximum over the window, in milliseconds (0 when nothing happened in it). */
export interface RecentPauses {
  p99Ms: number;
  maxMs: number;
}

/** Timestamped samples over a sliding window, in a fixed ring that allocates nothing per sample. */
class RecentSamples {
  readonly #at: Float64Array;
  readonly #value: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#at = new Float64Array(capacity);
    this.#value = new Float64Array(capacity);
  }

  add(at: number, value: number): void {
    this.#at[this.#next] = at;
    this.#value[this.#next] = value;
    this.#next = (this.#next + 1) % this.#at.length;
    this.#size = Math.min(this.#size + 1, this.#at.length);
  }

  since(from: number): RecentPauses {
    const values: number[] = [];
    for (let i = 0; i < this.#size; i++) if (this.#at[i] >= from) values.push(this.#value[i]);
    if (values.length === 0) return { p99Ms: 0, maxMs: 0 };
    values.sort((a, b) => a - b);
    return { p99Ms: values[Math.ceil(values.length * 0.99) - 1], maxMs: values[values.length - 1] };
  }
}

export class LoopStalls {
  /** Stalls above the floor since start. */
  readonly stalls = new PauseHistogram();
  /** The stalls among them with a garbage collection in them. */
  readonly gcPauses = new PauseHistogram();
  /** Firings that found a collection had run since the one before (several in one interval count once). */
  collections = 0;
  readonly #intervalMs: number;
  readonly #floorMs: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #collectedSince: () => boolean;
  /** Every firing's lateness, stall or not, so that the p99 covers the loop as a whole. */
  readonly #recentLateness: RecentSamples;
  readonly #recentGc = new RecentSamples(256);
  #last: number;
  #timer?: ReturnType<typeof setInterval>;

  constructor(options: LoopStallsOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 10;
    this.#floorMs = options.floorMs ?? STALL_FLOOR_MS;
    this.#windowMs = options.windowMs ?? STALL_WINDOW_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#collectedSince = options.collectedSince ?? collectionWatch();
    // A late timer fires less often, never more: the window cannot hold more firings than this.
    this.#recentLateness = new RecentSamples(Math.ceil(this.#windowMs / this.#intervalMs) + 1);
    this.#last = this.#now();
  }

  start(): void {
    if (this.#timer) return;
    this.#last = this.#now();
    this.#collectedSince();
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One firing of the timer: records how late it came, and whether a collection ran since the last one. */
  tick(): void {
    const now = this.#now();
    const lateMs = Math.max(0, now - this.#last - this.#intervalMs);
    this.#last = now;
    this.#recentLateness.add(now, lateMs);
    const collected = this.#collectedSince();
    if (collected) this.collections++;
    if (lateMs <= this.#floorMs) return;
    this.stalls.observe(lateMs);
    if (collected) {
      this.gcPauses.observe(lateMs);
      this.#recentGc.add(now, lateMs);
    }
  }

  /** How late the timer fired over the window (every firing counts towards the p99). */
  recentStalls(): RecentPauses {
    return this.#recentLateness.since(this.#now() - this.#windowMs);
  }

  /** The collection pauses in the window. */
  recentGcPauses(): RecentPauses {
    return this.#recentGc.since(this.#now() - this.#windowMs);
  }
}

/**
 * Tells whether a collection ran since it was last asked: each call leaves a fresh object behind, held only weakly.
 * A WeakRef's target survives the job it was made in, so only a collection between two timer callbacks clears it.
 */
function collectionWatch(): () => boolean {
  let canary: WeakRef<object> | undefined;
  return () => {
    const collected = canary !== undefined && canary.deref() === undefined;
    canary = new WeakRef({});
    return collected;
  };
}
