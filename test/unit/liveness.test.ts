import { describe, expect, test } from "bun:test";
import { LivenessTracker } from "../../lib/webrtc/liveness.ts";

const options = { pingTimeoutMs: 3000, silenceTimeoutMs: 12_000 };

/** Runs a tracker over `ms` of samples taken every 500 ms and returns when it first said "gone" (or undefined). */
function goneAt(ms: number, sample: (now: number) => { lastPingAt?: number; inboundCount: number }): number | undefined {
  const tracker = new LivenessTracker(options);
  for (let now = 0; now <= ms; now += 500) if (!tracker.isAlive({ now, ...sample(now) })) return now;
  return undefined;
}

describe("LivenessTracker", () => {
  test("a pinging client that vanishes at 10 s is gone within 3.5 s", () => {
    const at = goneAt(30_000, (now) => {
      const last = Math.min(now, 10_000);
      return { lastPingAt: Math.floor(last / 1000) * 1000, inboundCount: Math.floor(last / 20) };
    });
    expect(at).toBeGreaterThanOrEqual(13_000);
    expect(at).toBeLessThanOrEqual(13_500);
  });

  test("slowed pings with media still flowing keep the client alive", () => {
    expect(goneAt(60_000, (now) => ({ lastPingAt: Math.floor(now / 20_000) * 20_000, inboundCount: now }))).toBeUndefined();
  });

  test("a client without pings that vanishes at 10 s is gone 12 s later", () => {
    expect(goneAt(60_000, (now) => ({ inboundCount: Math.min(now, 10_000) }))).toBe(22_000);
  });

  test("an idle client that only answers ICE consent every 5 s stays alive", () => {
    expect(goneAt(120_000, (now) => ({ inboundCount: Math.floor(now / 5000) }))).toBeUndefined();
  });
});
