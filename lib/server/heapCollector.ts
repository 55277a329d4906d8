/**
 * Keeps a Bun server's memory flat under media load. Bun runs eden collections so often that packets still in flight
 * (jitter buffers, pipeline queues, SCTP) survive one and are promoted, so the old space fills with short-lived
 * garbage at about 1 MB/s per 20 sessions, and JavaScriptCore only collects it once it has doubled: a sawtooth that
 * measured 190 -> 276 -> 190 MB of RSS with 20 echo sessions. A full collection as soon as the heap has grown by a
 * fixed step keeps it near the live size. It is requested, not run on the spot: a synchronous one stopped the server
 * for 40-90 ms with 20-70 busy sessions (late packets, and the assistant's turns 50-130 ms slower when one struck),
 * while JavaScriptCore's own full collection marks concurrently with the server running. Deno (V8) collects young
 * garbage well by itself, so this does nothing there.
 */

type FullCollect = () => void;

export interface HeapCollectorOptions {
  /** Growth of the used heap since the last full collection that triggers the next one. */
  stepBytes?: number;
  intervalMs?: number;
  heapUsed?: () => number;
  collect?: FullCollect;
}

const DEFAULT_STEP_BYTES = 24 * 1024 * 1024;

function bunFullCollect(): FullCollect | undefined {
  const bun = (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun;
  return bun && (() => bun.gc(false));
}

export class HeapCollector {
  readonly #step: number;
  readonly #intervalMs: number;
  readonly #heapUsed: () => number;
  readonly #collect?: FullCollect;
  #baseline = 0;
  #timer?: ReturnType<typeof setInterval>;
  /** Full collections requested, and the time the requests took, for /metrics. */
  collections = 0;
  pauseMs = 0;

  constructor(options: HeapCollectorOptions = {}) {
    this.#step = options.stepBytes ?? DEFAULT_STEP_BYTES;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#heapUsed = options.heapUsed ?? (() => process.memoryUsage().heapUsed);
    this.#collect = options.collect ?? bunFullCollect();
  }

  start(): void {
    if (!this.#collect || this.#timer) return;
    this.#baseline = this.#heapUsed();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Collects if the heap has grown by a step since the last collection; returns whether it did. */
  check(): boolean {
    if (!this.#collect) return false;
    const used = this.#heapUsed();
    // A requested collection frees memory after the request returns: the low point since then is the new baseline.
    this.#baseline = Math.min(this.#baseline, used);
    if (used < this.#baseline + this.#step) return false;
    const start = performance.now();
    this.#collect();
    this.pauseMs += performance.now() - start;
    this.collections++;
    this.#baseline = this.#heapUsed();
    return true;
  }
}
