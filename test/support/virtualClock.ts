/** A deterministic clock for pacing tests: timers fire in order as virtual time advances, with optional lateness. */
import type { Clock } from "../../lib/media/clock.ts";

export class VirtualClock implements Clock {
  #now = 0;
  #timers: { at: number; id: number; callback: () => void }[] = [];
  #nextId = 0;

  /** Extra delay added to each timer (models event-loop jitter); deterministic per call. */
  constructor(private readonly lateness: (id: number) => number = () => 0) {}

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + delayMs + this.lateness(id), id, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Moves time forward, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const timer = this.#timers[0];
      if (!timer || timer.at > end) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, timer.at);
      timer.callback();
    }
    this.#now = end;
  }

  /** Blocks the virtual event loop: nothing fires until `ms` have passed. */
  stall(ms: number): void {
    this.#now += ms;
  }
}

/** A small seeded PRNG (mulberry32) so "random" jitter is the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
