import { describe, expect, test } from "bun:test";
import { Pacer, type Tick } from "../../lib/media/pacer.ts";
import { seededRandom, VirtualClock } from "../support/virtualClock.ts";

function run(clock: VirtualClock, durationMs: number, during?: (clock: VirtualClock) => void) {
  const sends: { at: number; tick: Tick }[] = [];
  const pacer = new Pacer({ intervalMs: 20, clock, onTick: (tick) => sends.push({ at: clock.now(), tick }) });
  pacer.start();
  during?.(clock);
  clock.advance(durationMs);
  pacer.stop();
  return sends;
}

describe("Pacer", () => {
  test("60 s with timer jitter: no drift, no bursts", () => {
    const random = seededRandom(7);
    const clock = new VirtualClock(() => random() * 6);
    const sends = run(clock, 60_000);

    // No drift: exactly one tick per 20 ms over the whole minute (slots 0 .. 59 980 ms), each in its own slot.
    expect(sends.length).toBe(3000);
    expect(sends.map((send) => send.tick.scheduledAt)).toEqual(Array.from({ length: 3000 }, (_, i) => i * 20));
    // Every send within one timer jitter of its slot, never early.
    const lateness = sends.map(({ at, tick }) => at - tick.scheduledAt);
    expect(Math.min(...lateness)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...lateness)).toBeLessThanOrEqual(6);
    // No bursts: consecutive sends stay at least 20 - 6 ms apart.
    const gaps = sends.slice(1).map((send, i) => send.at - sends[i].at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(14);
  });

  test("a stall longer than the limit skips the missed ticks instead of bursting", () => {
    const clock = new VirtualClock();
    const sends: { at: number; tick: Tick }[] = [];
    const pacer = new Pacer({ intervalMs: 20, clock, onTick: (tick) => sends.push({ at: clock.now(), tick }) });
    pacer.start();
    clock.advance(1000);
    clock.stall(200);
    clock.advance(1000);
    pacer.stop();

    const afterStall = sends.filter((send) => send.at >= 1200);
    const sentAtStallEnd = afterStall.filter((send) => send.at === 1200);
    expect(sentAtStallEnd.length).toBe(1);
    // Slots 1020 .. 1180 ms passed during the stall.
    expect(sentAtStallEnd[0].tick.skipped).toBe(9);
    // The schedule is kept: tick indexes (media timestamps) still match wall time afterwards.
    const last = sends.at(-1)!;
    expect(last.tick.index * 20).toBe(last.tick.scheduledAt);
    expect(last.tick.scheduledAt).toBe(2200);
  });

  test("a short stall is caught up with at most two sends per wake-up", () => {
    const clock = new VirtualClock();
    const sends: number[] = [];
    const pacer = new Pacer({ intervalMs: 20, clock, onTick: () => sends.push(clock.now()) });
    pacer.start();
    clock.advance(100);
    clock.stall(45);
    clock.advance(200);
    pacer.stop();
    const counts = new Map<number, number>();
    for (const at of sends) counts.set(at, (counts.get(at) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    expect(sends.length).toBe(Math.floor(345 / 20) + 1);
  });
});
