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

  test("under Bun its collection is a real full one that gives garbage back", () => {
    let growth = 0;
    const collector = new HeapCollector({ stepBytes: 1, heapUsed: () => growth });
    collector.start();
    collector.stop();
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, bytes: new Uint8Array(64) }));
    expect(garbage.length).toBe(200_000);
    garbage = undefined;
    const before = process.memoryUsage().heapUsed;
    growth = 1;
    expect(collector.check()).toBe(true);
    expect(process.memoryUsage().heapUsed).toBeLessThan(before - 8 * 1024 * 1024);
  });
});
