import { describe, expect, test } from "bun:test";
import { HeapCollector } from "../../lib/server/heapCollector.ts";

describe("HeapCollector", () => {
  test("collects only once the heap has grown by a step since the last collection", () => {
    let heap = 100;
    let now = 0;
    const collected: number[] = [];
    const collector = new HeapCollector({
      stepBytes: 50,
      heapUsed: () => heap,
      collect: () => collected.push((heap = 110)),
      now: () => now,
    });
    collector.start();
    collector.stop();
    heap = 149;
    expect(collector.check()).toBe(false);
    heap = 150;
    expect(collector.check()).toBe(true);
    now += 5000;
    expect(collector.check()).toBe(false);
    // The new baseline is the size after that collection (110), not the old one.
    heap = 159;
    expect(collector.check()).toBe(false);
    heap = 160;
    expect(collector.check()).toBe(true);
    expect(collected).toHaveLength(2);
    expect(collector.collections).toBe(2);
  });

  test("under Bun it requests a full collection and returns at once, instead of stopping the server for it", () => {
    // A live heap big enough that a full collection takes a while when it is run on the spot.
    const live = Array.from({ length: 300_000 }, (_, i) => [i, i + 1]);
    const started = performance.now();
    Bun.gc(true);
    const synchronousMs = performance.now() - started;
    let growth = 0;
    const collector = new HeapCollector({ stepBytes: 1, heapUsed: () => growth });
    collector.start();
    collector.stop();
    growth = 1;
    expect(collector.check()).toBe(true);
    expect(collector.collections).toBe(1);
    expect(synchronousMs).toBeGreaterThan(5);
    expect(collector.pauseMs).toBeLessThan(synchronousMs / 5);
    expect(live.length).toBe(300_000);
  });

  test("the baseline follows the heap down as a requested collection frees it", () => {
    let heap = 200;
    let now = 0;
    const collector = new HeapCollector({ stepBytes: 50, heapUsed: () => heap, collect: () => {}, now: () => now });
    collector.start();
    collector.stop();
    heap = 250;
    expect(collector.check()).toBe(true); // requested at 250; the baseline is 250 until the heap falls
    now += 5000;
    heap = 120; // the collection ran
    expect(collector.check()).toBe(false);
    heap = 169;
    expect(collector.check()).toBe(false);
    heap = 170; // a step above the low point, not above 250
    expect(collector.check()).toBe(true);
  });

  test("leaves the heap unread while a requested collection runs, since a read would wait for it", () => {
    let now = 0;
    let reads = 0;
    let heap = 100;
    const collector = new HeapCollector({
      stepBytes: 50,
      settleMs: 5000,
      heapUsed: () => (reads++, heap),
      collect: () => {},
      now: () => now,
    });
    collector.start();
    collector.stop();
    heap = 200;
    expect(collector.check()).toBe(true);
    const readsAtRequest = reads;
    now += 4999;
    expect(collector.check()).toBe(false);
    expect(reads).toBe(readsAtRequest);
    now += 1;
    collector.check();
    expect(reads).toBe(readsAtRequest + 1);
  });

  test("a step of 0 never collects", () => {
    let heap = 0;
    let collected = 0;
    const collector = new HeapCollector({ stepBytes: 0, heapUsed: () => heap, collect: () => collected++ });
    collector.start();
    collector.stop();
    heap = 1e9;
    expect(collector.check()).toBe(false);
    expect(collected).toBe(0);
  });
});
