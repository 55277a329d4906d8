/**
 * Calls `onTick` every `intervalMs` on a monotonic schedule anchored at start, so timer jitter never accumulates
 * into drift. A tick that fires late is still delivered, with its scheduled time. When the process stalls for longer
 * than `maxLateMs`, the missed ticks are skipped (reported as `skipped`) instead of being sent in a burst: a
 * receiver's jitter buffer copes with a gap far better than with a burst of stale packets. `shift()` moves the whole
 * schedule, for a sender that lines its ticks up with the arrival of its input.
 */
import { type Clock, realClock } from "./clock.ts";

export interface Tick {
  /** Tick number since start, counting skipped ones; media timestamps derive from it. */
  index: number;
  /** When this tick was due on the schedule. */
  scheduledAt: number;
  /** Ticks skipped just before this one because the process stalled. */
  skipped: number;
}

export interface PacerOptions {
  intervalMs: number;
  onTick: (tick: Tick) => void;
  clock?: Clock;
  /** Lateness beyond which missed ticks are skipped; default three intervals. */
  maxLateMs?: number;
}

export class Pacer {
  readonly #options: Required<PacerOptions>;
  #startAt = 0;
  #index = 0;
  #timer: unknown;
  #running = false;

  constructor(options: PacerOptions) {
    this.#options = { clock: realClock, maxLateMs: options.intervalMs * 3, ...options };
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startAt = this.#options.clock.now();
    this.#index = 0;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    this.#options.clock.clearTimer(this.#timer);
  }

  /** Time until the next tick is due; negative when it is overdue (its timer has not fired yet). */
  get msUntilNextTick(): number {
    return this.#dueAt(this.#index) - this.#options.clock.now();
  }

  /**
   * Moves every future tick by `deltaMs` (negative: earlier). Tick indexes, and so media timestamps, are unchanged:
   * only the send times move, once.
   */
  shift(deltaMs: number): void {
    this.#startAt += deltaMs;
    if (!this.#running) return;
    this.#options.clock.clearTimer(this.#timer);
    this.#schedule();
  }

  #dueAt(index: number): number {
    return this.#startAt + index * this.#options.intervalMs;
  }

  #schedule(): void {
    const { clock } = this.#options;
    this.#timer = clock.setTimer(() => this.#fire(), Math.max(0, this.#dueAt(this.#index) - clock.now()));
  }

  #fire(): void {
    if (!this.#running) return;
    const { clock, intervalMs, maxLateMs, onTick } = this.#options;
    const now = clock.now();
    let skipped = 0;
    if (now - this.#dueAt(this.#index) > maxLateMs) {
      const current = Math.floor((now - this.#startAt) / intervalMs);
      skipped = current - this.#index;
      this.#index = current;
    }
    // At most one catch-up tick per timer callback keeps sends spread out even just under the stall limit.
    for (let sent = 0; sent < 2 && this.#dueAt(this.#index) <= now && this.#running; sent++) {
      onTick({ index: this.#index, scheduledAt: this.#dueAt(this.#index), skipped });
      skipped = 0;
      this.#index++;
    }
    if (this.#running) this.#schedule();
  }
}
