import { afterEach, describe, expect, test } from "bun:test";
import { LoopStalls } from "../../lib/server/loopStalls.ts";
import { Metrics } from "../../lib/server/metrics.ts";
import { metricSample } from "../../scripts/benchmarks/servers.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

/**
 * A probe on a clock the test moves by hand: `fire(lateMs, collected)` is one timer firing that late, with or without
 * a garbage collection since the firing before.
 */
function handProbe() {
  let now = 1000;
  let collected = false;
  const probe = new LoopStalls({
    intervalMs: 10,
    floorMs: 5,
    windowMs: 10_000,
    now: () => now,
    collectedSince: () => collected,
  });
  return {
    probe,
    fire(lateMs: number, collectedBefore = false) {
      now += 10 + lateMs;
      collected = collectedBefore;
      probe.tick();
    },
  };
}

describe("LoopStalls", () => {
  test("counts only stalls above the floor, each in its bucket", () => {
    const { probe, fire } = handProbe();
    fire(0);
    fire(5);
    fire(7);
    fire(60);
    fire(600);
    const { stalls } = probe;
    expect(stalls.count).toBe(3);
    expect(stalls.sumMs).toBe(667);
    // Buckets 10, 20, 50, 100, 200, 500, +Inf ms.
    expect(stalls.counts).toEqual([1, 0, 0, 1, 0, 0, 1]);
  });

  test("a stall with a collection in it is a collection pause; a collection on time is counted, not as a pause", () => {
    const { probe, fire } = handProbe();
    fire(30); // a stall, no collection
    fire(0, true); // a collection, on time: it ran concurrently
    fire(40, true); // late, and a collection ran: a collection pause
    fire(45);
    expect(probe.stalls.count).toBe(3);
    expect(probe.collections).toBe(2);
    expect(probe.gcPauses.count).toBe(1);
    expect(probe.gcPauses.sumMs).toBe(40);
    expect(probe.recentGcPauses()).toEqual({ p99Ms: 40, maxMs: 40 });
  });

  test("sees a real collection between two firings", async () => {
    const probe = new LoopStalls();
    const between = () => new Promise((resolve) => setTimeout(resolve, 0));
    probe.tick();
    await between();
    probe.tick();
    await between();
    const before = probe.collections;
    Bun.gc(true);
    await between();
    probe.tick();
    expect(probe.collections).toBe(before + 1);
  });

  test("the recent p99 covers every firing of the window, and old ones leave it", () => {
    const { probe, fire } = handProbe();
    for (let i = 0; i < 98; i++) fire(1);
    fire(30);
    fire(80);
    // 100 firings: the p99 (nearest rank) is the second worst.
    expect(probe.recentStalls()).toEqual({ p99Ms: 30, maxMs: 80 });
    for (let i = 0; i < 900; i++) fire(0);
    expect(probe.recentStalls().maxMs).toBe(80);
    // A firing a second late takes the window past them: they leave it, but not the histogram.
    fire(1000);
    expect(probe.recentStalls()).toEqual({ p99Ms: 0, maxMs: 1000 });
    expect(probe.stalls.count).toBe(3);
  });

  test("holds a whole window of firings without growing", () => {
    const { probe, fire } = handProbe();
    for (let i = 0; i < 5000; i++) fire(i === 4990 ? 50 : 0);
    expect(probe.recentStalls().maxMs).toBe(50);
  });

  test("/metrics gives the histograms with cumulative buckets and the recent figures in seconds", () => {
    const { probe, fire } = handProbe();
    fire(7);
    fire(60, true);
    const text = new Metrics(undefined, probe).renderSessions([]);
    expect(text).toContain("# TYPE smallwebrtc_event_loop_stall_seconds histogram");
    expect(metricSample(text, "smallwebrtc_event_loop_stall_seconds_bucket", 'le="0.01"')).toBe(1);
    expect(metricSample(text, "smallwebrtc_event_loop_stall_seconds_bucket", 'le="0.05"')).toBe(1);
    expect(metricSample(text, "smallwebrtc_event_loop_stall_seconds_bucket", 'le="0.1"')).toBe(2);
    expect(metricSample(text, "smallwebrtc_event_loop_stall_seconds_bucket", 'le="+Inf"')).toBe(2);
    expect(metricSample(text, "smallwebrtc_event_loop_stall_seconds_count")).toBe(2);
    expect(metricSample(text, "smallwebrtc_event_loop_stall_seconds_sum")).toBeCloseTo(0.067);
    expect(metricSample(text, "smallwebrtc_event_loop_stall_recent_seconds", 'quantile="1"')).toBeCloseTo(0.06);
    expect(metricSample(text, "smallwebrtc_gc_pause_seconds_count")).toBe(1);
    expect(metricSample(text, "smallwebrtc_gc_pause_recent_seconds", 'quantile="0.99"')).toBeCloseTo(0.06);
    expect(metricSample(text, "smallwebrtc_gc_collections_total")).toBe(1);
    expect(text).toMatch(/# HELP smallwebrtc_gc_pause_seconds .*garbage collection/);
  });
});

describe("a blocked event loop", () => {
  let server: TestServer | undefined;
  afterEach(async () => await server?.close());

  test("shows in /metrics of a running server as a stall of at least the time it was blocked", async () => {
    server = startTestServer();
    await server.server.listen();
    const scrape = async () => await (await server!.request("/metrics")).text();
    const stallsBefore = metricSample(await scrape(), "smallwebrtc_event_loop_stall_seconds_count")!;
    const blockedUntil = performance.now() + 60;
    while (performance.now() < blockedUntil) {
      // busy: nothing else runs on this loop meanwhile
    }
    const text = await eventually(async () => {
      const text = await scrape();
      return metricSample(text, "smallwebrtc_event_loop_stall_seconds_count")! > stallsBefore && text;
    }, 5000, "the stall to be counted");
    const longest = metricSample(text, "smallwebrtc_event_loop_stall_recent_seconds", 'quantile="1"');
    expect(longest).toBeGreaterThanOrEqual(0.05);
    const over50ms = metricSample(text, "smallwebrtc_event_loop_stall_seconds_bucket", 'le="+Inf"')! -
      metricSample(text, "smallwebrtc_event_loop_stall_seconds_bucket", 'le="0.05"')!;
    expect(over50ms).toBeGreaterThanOrEqual(1);
  });
});
