/**
 * How long the event loop stops, and which of those stops were garbage collections. Neither Bun nor Deno tells
 * JavaScript about its collections (a PerformanceObserver for "gc" stays silent in both), so both are measured from
 * inside: a 10 ms timer records how late it fires, and a late firing across which the used heap shrank by more than
 * a threshold is counted as a collection pause. That attribution is a judgement, not a report: a stall with no
 * collection in it can coincide with one running concurrently, and a collection that frees little goes uncounted.
 */
import process from "node:process";

export interface LoopStallsOptions {
  /** How often the timer fires; its lateness is what is measured. */
  intervalMs?: number;
  /** Lateness at or below this is timer jitter, not a stall, and is left out of the histograms. */
  floorMs?: number;
  /** The span the recent p99 and maximum are taken over. */
  windowMs?: number;
  /** A stall during which the used heap shrank by more than this counts as a collection pause. */
  gcShrinkBytes?: number;
  now?: () => number;
  heapUsed?: () => number;
}

/** Upper bounds of the histograms' buckets, in milliseconds (a last one, +Inf, holds the rest). */
export const STALL_BUCKETS_MS = [10, 20, 50, 100, 200, 500] as const;

export const STALL_FLOOR_MS = 5;
export const STALL_WINDOW_MS = 10_000;
export const GC_SHRINK_BYTES = 1024 * 1024;

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

/**
 * Timestamped samples over a sliding window, kept in a fixed ring: the probe runs on the loop it measures, so it
 * allocates nothing per firing.
 */
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
  /** The stalls among them attributed to garbage collection. */
  readonly gcPauses = new PauseHistogram();
  readonly #intervalMs: number;
  readonly #floorMs: number;
  readonly #windowMs: number;
  readonly #gcShrinkBytes: number;
  readonly #now: () => number;
  readonly #heapUsed: () => number;
  /** Every firing's lateness, stall or not, so that the p99 covers the loop as a whole. */
  readonly #recentLateness: RecentSamples;
  readonly #recentGc = new RecentSamples(256);
  #last: number;
  #lastHeap: number;
  #timer?: ReturnType<typeof setInterval>;

  constructor(options: LoopStallsOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 10;
    this.#floorMs = options.floorMs ?? STALL_FLOOR_MS;
    this.#windowMs = options.windowMs ?? STALL_WINDOW_MS;
    this.#gcShrinkBytes = options.gcShrinkBytes ?? GC_SHRINK_BYTES;
    this.#now = options.now ?? (() => performance.now());
    this.#heapUsed = options.heapUsed ?? cheapHeapUsed();
    // A late timer fires less often, never more: the window cannot hold more firings than this.
    this.#recentLateness = new RecentSamples(Math.ceil(this.#windowMs / this.#intervalMs) + 1);
    this.#last = this.#now();
    this.#lastHeap = this.#heapUsed();
  }

  start(): void {
    if (this.#timer) return;
    this.#last = this.#now();
    this.#lastHeap = this.#heapUsed();
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One firing of the timer: records how late it came, and whether the heap shrank across the wait. */
  tick(): void {
    const now = this.#now();
    const heap = this.#heapUsed();
    const lateMs = Math.max(0, now - this.#last - this.#intervalMs);
    this.#recentLateness.add(now, lateMs);
    if (lateMs > this.#floorMs) {
      this.stalls.observe(lateMs);
      if (heap < this.#lastHeap - this.#gcShrinkBytes) {
        this.gcPauses.observe(lateMs);
        this.#recentGc.add(now, lateMs);
      }
    }
    this.#last = now;
    this.#lastHeap = heap;
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
 * The used heap, read cheaply enough for 100 reads a second: process.memoryUsage() takes 11-14 µs in both runtimes
 * (it reads the RSS too), and V8's getHeapStatistics() 7 ms under Bun, but bun:jsc's heapSize() and V8's under Deno
 * well under a microsecond.
 */
function cheapHeapUsed(): () => number {
  const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const jsc = (globalThis as { Bun?: unknown }).Bun ? builtin?.("bun:jsc") as { heapSize?: () => number } : undefined;
  if (jsc?.heapSize) return jsc.heapSize;
  const v8 = builtin?.("node:v8") as { getHeapStatistics?: () => { used_heap_size: number } } | undefined;
  if (v8?.getHeapStatistics) return () => v8.getHeapStatistics!().used_heap_size;
  return () => process.memoryUsage().heapUsed;
}
