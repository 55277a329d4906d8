import { describe, expect, test } from "bun:test";
import { HeapCollector } from "../../lib/server/heapCollector.ts";

describe("HeapCollector", () => {
  test("collects only once the heap has grown by a step since the last collection", () => {
    let heap = 100;
    const collected: number[] = [];
    const collector = new HeapCollector({ stepBytes: 50, heapUsed: () => heap, collect: () => collected.push((heap = 110)) });
    collector.start();
    collector.stop();
    heap = 149;
    expect(collector.check()).toBe(false);
    heap = 150;
    expect(collector.check()).toBe(true);
    // The new baseline is the size after that collection (110), not the old one.
    heap = 159;
    expect(collector.check()).toBe(false);
    heap = 160;
    expect(collector.check()).toBe(true);
    expect(collected).toHaveLength(2);
    expect(collector.collections).toBe(2);
  });

  test("under Bun it runs Bun's own full collection, and reports the pause", () => {
    let growth = 0;
    const collector = new HeapCollector({ stepBytes: 1, heapUsed: () => growth });
    collector.start();
    collector.stop();
    growth = 1;
    expect(collector.check()).toBe(true);
    expect(collector.collections).toBe(1);
    // A full collection of this test process's heap takes measurable time; a no-op would not.
    expect(collector.pauseMs).toBeGreaterThan(0.1);
  });
});
