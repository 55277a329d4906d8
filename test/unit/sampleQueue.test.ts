import { describe, expect, test } from "bun:test";
import { SampleQueue } from "../../lib/media/sampleQueue.ts";

describe("SampleQueue", () => {
  test("keeps samples in order across wrap-around and growth, and zero-fills a short read", () => {
    const queue = new SampleQueue(8);
    const out = new Int16Array(5);
    let next = 1;
    let expected = 1;
    const push = (count: number) => queue.push(Int16Array.from({ length: count }, () => next++));
    // Wrap around the 8-sample ring a few times, then grow it while it is wrapped.
    for (let round = 0; round < 6; round++) {
      push(5);
      expect(queue.shiftInto(out)).toBe(5);
      expect([...out]).toEqual([0, 1, 2, 3, 4].map((i) => expected + i));
      expected += 5;
    }
    push(6);
    push(20);
    expect(queue.length).toBe(26);
    for (let read = 0; read < 5; read++) {
      expect(queue.shiftInto(out)).toBe(5);
      expect([...out]).toEqual([0, 1, 2, 3, 4].map((i) => expected + i));
      expected += 5;
    }
    expect(queue.shiftInto(out)).toBe(1);
    expect([...out]).toEqual([expected, 0, 0, 0, 0]);
    expect(queue.length).toBe(0);
  });

  test("does not keep the arrays it was given", () => {
    const queue = new SampleQueue(4);
    const frame = Int16Array.from([1, 2, 3]);
    queue.push(frame);
    frame.fill(9);
    const out = new Int16Array(3);
    queue.shiftInto(out);
    expect([...out]).toEqual([1, 2, 3]);
  });
});
