import { describe, expect, test } from "bun:test";
import { TypedEmitter } from "../../lib/events/emitter.ts";
import { createLogger } from "../../lib/log/logger.ts";

class Emitter extends TypedEmitter<{ tick: [n: number] }> {
  fire(n: number) {
    this.emit("tick", n);
  }
}

describe("TypedEmitter", () => {
  test("a throwing or rejecting listener is logged and the others still run", async () => {
    const lines: string[] = [];
    const emitter = new Emitter(createLogger({ write: (line) => lines.push(line) }));
    const seen: number[] = [];
    emitter.on("tick", () => {
      throw new Error("boom");
    });
    emitter.on("tick", () => Promise.reject(new Error("async boom")));
    emitter.on("tick", (n) => seen.push(n));
    emitter.fire(1);
    await Promise.resolve();
    expect(seen).toEqual([1]);
    expect(lines.filter((line) => line.includes("event listener failed"))).toHaveLength(2);
  });

  test("once, off and next", async () => {
    const emitter = new Emitter();
    const seen: number[] = [];
    emitter.once("tick", (n) => seen.push(n));
    const next = emitter.next("tick");
    emitter.fire(1);
    emitter.fire(2);
    expect(seen).toEqual([1]);
    expect(await next).toEqual([1]);
    expect(emitter.listenerCount("tick")).toBe(0);
    const aborted = new AbortController();
    const waiting = emitter.next("tick", aborted.signal);
    aborted.abort(new Error("gave up"));
    await expect(waiting).rejects.toThrow("gave up");
  });
});
