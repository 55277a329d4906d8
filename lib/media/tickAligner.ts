/**
 * Where a live sender's ticks should fall. A live source's frames arrive on the client's 20 ms clock, at a phase of
 * its own: left alone, each would wait for the sender's next tick, up to a whole frame (and sessions that start
 * together with the client's stream wait almost that long). Once a second, if that second's arrivals kept to one
 * phase, the aligner asks for the ticks to move to MARGIN_MS after the latest of them. Scattered arrivals (a loaded
 * server, a jittery network) have no phase worth following. The total move stays within a frame of the original
 * schedule, so the sender never drifts with a client clock that runs fast or slow.
 */
const WINDOW_MS = 1000;
const MARGIN_MS = 4;
const TOLERANCE_MS = 2;
const MAX_SPREAD_MS = 8;
const MAX_SAMPLES = 200;

export class TickAligner {
  readonly #frameMs: number;
  #window?: { since: number; leadsMs: number[] };
  #shiftMs = 0;

  constructor(frameMs: number) {
    this.#frameMs = frameMs;
  }

  /**
   * A frame arrived at `now`, `leadMs` before the next tick (negative: the tick is overdue). Returns how far to move
   * the ticks (negative: earlier) when a window closes with a move worth making.
   */
  observe(now: number, leadMs: number): number | undefined {
    const window = (this.#window ??= { since: now, leadsMs: [] });
    if (window.leadsMs.length < MAX_SAMPLES) window.leadsMs.push(leadMs);
    if (now - window.since < WINDOW_MS) return undefined;
    this.#window = undefined;
    const latest = this.#latestArrival(window.leadsMs);
    if (latest === undefined) return undefined;
    const delta = this.#withinAFrame(this.#shiftMs + MARGIN_MS - latest) - this.#shiftMs;
    if (Math.abs(delta) <= TOLERANCE_MS) return undefined;
    this.#shiftMs += delta;
    return delta;
  }

  /**
   * How long before their tick the latest of the frames arrived (negative: after it), or undefined when they came
   * at scattered phases. Phases live on a circle of one frame, where a frame just after a tick and one just before
   * it are neighbours: the widest gap between neighbours is outside the cluster, and the latest arrival sits just
   * after it.
   */
  #latestArrival(leadsMs: number[]): number | undefined {
    const frame = this.#frameMs;
    const phases = leadsMs.map((lead) => ((lead % frame) + frame) % frame).sort((a, b) => a - b);
    let widestGap = phases[0] + frame - phases[phases.length - 1];
    let latest = phases[0];
    for (let i = 1; i < phases.length; i++) {
      if (phases[i] - phases[i - 1] <= widestGap) continue;
      widestGap = phases[i] - phases[i - 1];
      latest = phases[i] - frame;
    }
    return frame - widestGap <= MAX_SPREAD_MS ? latest : undefined;
  }

  /** A total shift, or the same phase a frame closer to the original schedule when it is more than a frame away. */
  #withinAFrame(ms: number): number {
    return Math.abs(ms) <= this.#frameMs ? ms : ms - Math.sign(ms) * this.#frameMs;
  }
}
