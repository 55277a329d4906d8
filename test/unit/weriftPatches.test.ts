/** The werift patches refuse to apply to a werift they were not written for, with one line that says why. */
import { heapStats } from "bun:jsc";
import { describe, expect, test } from "bun:test";
import { Event, RtpHeader } from "werift";
import weriftPackage from "../../node_modules/werift/package.json" with { type: "json" };
import {
  applyWeriftPatches,
  makeExecuteLean,
  parseRtpHeader,
  PATCHED_WERIFT_VERSION,
  weriftDrift,
} from "../../lib/webrtc/weriftPatches.ts";
import { eventually } from "../support/eventually.ts";

class Target {
  method(_a: unknown) {}
}

describe("werift drift check", () => {
  test("the installed werift is the one the patches were written for, and every wrapped method is in place", () => {
    expect(weriftPackage.version).toBe(PATCHED_WERIFT_VERSION);
    expect(weriftDrift(weriftPackage.version)).toBeUndefined();
    expect(() => applyWeriftPatches()).not.toThrow();
  });

  test("another version is refused", () => {
    expect(weriftDrift("0.26.0")).toBe(
      `werift 0.26.0 is installed, but lib/webrtc/weriftPatches.ts was written for werift ${PATCHED_WERIFT_VERSION}: ` +
        `install ${PATCHED_WERIFT_VERSION} (npm ci) or re-check every patch against 0.26.0`,
    );
  });

  test("a wrapped method that is gone, or that changed its parameters, is named", () => {
    const target = { name: "Target#method", owner: Target.prototype, arity: 1 };
    expect(weriftDrift(PATCHED_WERIFT_VERSION, [{ ...target, method: "method" }])).toBeUndefined();
    expect(weriftDrift(PATCHED_WERIFT_VERSION, [{ ...target, method: "renamed" }])).toBe(
      `werift ${PATCHED_WERIFT_VERSION} has no Target#method, which lib/webrtc/weriftPatches.ts wraps`,
    );
    expect(weriftDrift(PATCHED_WERIFT_VERSION, [{ ...target, method: "method", arity: 2 }])).toBe(
      `werift ${PATCHED_WERIFT_VERSION}'s Target#method takes 1 parameters, not the 2 lib/webrtc/weriftPatches.ts expects`,
    );
  });
});

describe("werift events on the packet path", () => {
  /** Promises made by `calls` executions of `event` (counted before any collection can take them). */
  function promisesMadeBy(event: Event<[number]>, calls: number): number {
    Bun.gc(true);
    const before = heapStats().objectTypeCounts.Promise ?? 0;
    for (let i = 0; i < calls; i++) event.execute(i);
    return (heapStats().objectTypeCounts.Promise ?? 0) - before;
  }

  test("call their subscribers, queued ones too, and start no async work per call while none is queued", async () => {
    const event = new Event<[number]>();
    const heard: number[] = [];
    event.subscribe((value) => void heard.push(value));
    // werift's own execute starts an async function per call, queued subscribers or not: the count sees them.
    expect(promisesMadeBy(event, 1000)).toBeGreaterThanOrEqual(1000);
    makeExecuteLean(event as never);
    expect(promisesMadeBy(event, 1000)).toBeLessThan(50);
    expect(heard).toHaveLength(2000);

    const queued: number[] = [];
    event.queuingSubscribe(async (value) => void queued.push(value));
    event.execute(7);
    await eventually(() => queued.includes(7), 1000, "the queued subscriber to hear 7");
    expect(heard.at(-1)).toBe(7);
    event.complete();
    event.execute(8);
    expect(heard.at(-1)).toBe(7);
  });
});

describe("RTP headers", () => {
  const extension = (id: number, bytes: number[]) => ({ id, payload: Buffer.from(bytes) });

  test("parse into what werift serialised: CSRCs, one- and two-byte and other extensions, marker, padding", () => {
    const headers = [
      { payloadType: 111, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0x89abcdef, marker: true },
      { payloadType: 96, sequenceNumber: 1, timestamp: 960, ssrc: 7, csrc: [1, 0xffffffff] },
      { payloadType: 111, extensionProfile: 0xbede, extensions: [extension(1, [0x30]), extension(3, [1, 2, 3])] },
      { payloadType: 111, extensionProfile: 0x1000, extensions: [extension(200, []), extension(4, [9, 8])] },
      { payloadType: 100, extensionProfile: 0x1234, extensions: [extension(0, [1, 2, 3, 4, 5, 6, 7, 8])] },
    ] as const;
    for (const props of headers) {
      const raw = Buffer.concat([new RtpHeader(props as never).serialize(new RtpHeader(props as never).serializeSize),
        Buffer.from([0xaa, 0xbb])]);
      const parsed = parseRtpHeader(raw);
      expect(parsed).toBeInstanceOf(RtpHeader);
      expect(parsed).toMatchObject({ version: 2, marker: false, csrc: [], ...props, extension: "extensions" in props });
      expect(raw.subarray(parsed.payloadOffset)).toEqual(Buffer.from([0xaa, 0xbb]));
    }
    const padded = Buffer.from([0xa0, 111, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xaa, 0, 0, 3]);
    expect(parseRtpHeader(padded)).toMatchObject({ padding: true, paddingSize: 3, payloadOffset: 12 });
  });

  test("are parsed without making strings, and applying the patches makes werift parse them so", () => {
    applyWeriftPatches();
    const raw = new RtpHeader({ payloadType: 111, sequenceNumber: 5, marker: true }).serialize(12);
    const stringsMadeBy = (work: () => void) => {
      Bun.gc(true);
      const before = heapStats().objectTypeCounts.string ?? 0;
      work();
      return (heapStats().objectTypeCounts.string ?? 0) - before;
    };
    // The count does see new strings.
    expect(stringsMadeBy(() => Array.from({ length: 1000 }, (_, i) => `${i}:${i}`))).toBeGreaterThanOrEqual(1000);
    expect(stringsMadeBy(() => {
      for (let i = 0; i < 1000; i++) RtpHeader.deSerialize(raw);
    })).toBeLessThan(50);
    expect(RtpHeader.deSerialize(raw)).toMatchObject({ payloadType: 111, sequenceNumber: 5, marker: true });
  });
});
