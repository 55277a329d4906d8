/**
 * Keeps a Bun server's memory flat under media load. Bun runs eden collections so often that packets still in flight
 * (jitter buffers, pipeline queues, SCTP) survive one and are promoted, so the old space fills with short-lived
 * garbage at about 1 MB/s per 20 sessions, and JavaScriptCore only collects it once it has doubled: a sawtooth that
 * measured 190 -> 276 -> 190 MB of RSS with 20 echo sessions. A full collection as soon as the heap has grown by a
 * fixed step keeps it near the live size. It is requested, not run on the spot: a synchronous one stopped the server
 * for 40-90 ms with 20-70 busy sessions (late packets, and the assistant's turns 50-130 ms slower when one struck),
 * while JavaScriptCore's own full collection marks concurrently with the server running. Deno (V8) collects young
 * garbage well by itself, so this does nothing there.
 *
 * A requested collection is not free either: with a 2-million-object heap the loop still stopped for 50-70 ms
 * within 300 ms of the request, and a read of the heap's size right after it waited 50-70 ms for the collection
 * (the collector used to read it at once; on a shared, busy core, 40-session windows with a request in them stopped
 * for 1.4 and 1.8 s). So after a request the heap is left unread until the collection has had time to finish, and a
 * step of 0 turns the collector off, for servers that would rather hold more memory than pause.
 */

type FullCollect = () => void;

export interface HeapCollectorOptions {
  /** Growth of the used heap since the last full collection that triggers the next one; 0: never collect. */
  stepBytes?: number;
  intervalMs?: number;
  /** How long the heap is left unread after a request, while the collection runs. */
  settleMs?: number;
  heapUsed?: () => number;
  collect?: FullCollect;
  now?: () => number;
}

const DEFAULT_STEP_BYTES = 24 * 1024 * 1024;
const DEFAULT_SETTLE_MS = 5000;

function bunFullCollect(): FullCollect | undefined {
  const bun = (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun;
  return bun && (() => bun.gc(false));
}

export class HeapCollector {
  readonly #step: number;
  readonly #intervalMs: number;
  readonly #settleMs: number;
  readonly #heapUsed: () => number;
  readonly #collect?: FullCollect;
  readonly #now: () => number;
  #baseline = 0;
  #unreadUntil = 0;
  #timer?: ReturnType<typeof setInterval>;
  /** Full collections requested, and the time the requests took, for /metrics. */
  collections = 0;
  pauseMs = 0;

  constructor(options: HeapCollectorOptions = {}) {
    this.#step = options.stepBytes ?? DEFAULT_STEP_BYTES;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
    this.#heapUsed = options.heapUsed ?? (() => process.memoryUsage().heapUsed);
    this.#collect = this.#step > 0 ? options.collect ?? bunFullCollect() : undefined;
    this.#now = options.now ?? (() => performance.now());
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
    if (!this.#collect || this.#now() < this.#unreadUntil) return false;
    const used = this.#heapUsed();
    // A requested collection frees memory after the request returns: the low point since then is the new baseline.
    this.#baseline = Math.min(this.#baseline, used);
    if (used < this.#baseline + this.#step) return false;
    const start = this.#now();
    this.#collect();
    this.pauseMs += this.#now() - start;
    this.collections++;
    this.#baseline = used;
    this.#unreadUntil = this.#now() + this.#settleMs;
    return true;
  }
}

/** The collector `memory.fullCollectionStepMb` asks for (0: one that never collects). */
export function heapCollectorFor(config: { memory: { fullCollectionStepMb: number } }): HeapCollector {
  return new HeapCollector({ stepBytes: config.memory.fullCollectionStepMb * 1024 * 1024 });
}
