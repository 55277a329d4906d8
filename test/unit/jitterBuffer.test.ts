import { describe, expect, test } from "bun:test";
import { JitterBuffer, type JitterEvent, type SequencedPacket } from "../../lib/media/jitterBuffer.ts";

const packet = (sequenceNumber: number): SequencedPacket => ({
  sequenceNumber: sequenceNumber & 0xffff,
  timestamp: (sequenceNumber * 960) >>> 0,
  payload: new Uint8Array([sequenceNumber & 0xff]),
});

/** Renders events as "12" for a packet and "lost2>15" for a loss of 2 before packet 15. */
const render = (events: JitterEvent<SequencedPacket>[]) =>
  events.map((e) => (e.kind === "packet" ? `${e.packet.sequenceNumber}` : `lost${e.count}>${e.next.sequenceNumber}`));

describe("JitterBuffer", () => {
  test("in-order packets pass straight through", () => {
    const buffer = new JitterBuffer();
    const out = [10, 11, 12].flatMap((seq, i) => render(buffer.push(packet(seq), i * 20)));
    expect(out).toEqual(["10", "11", "12"]);
    expect(buffer.held).toBe(0);
  });

  test("reordered packets are released in order once the gap fills", () => {
    const buffer = new JitterBuffer({ maxWaitMs: 60 });
    expect(render(buffer.push(packet(1), 0))).toEqual(["1"]);
    expect(render(buffer.push(packet(3), 20))).toEqual([]);
    expect(render(buffer.push(packet(4), 40))).toEqual([]);
    expect(render(buffer.push(packet(2), 45))).toEqual(["2", "3", "4"]);
    expect(buffer.stats).toMatchObject({ lost: 0, reordered: 2 });
  });

  test("a gap that does not fill in time is reported lost, with the packet after it for FEC", () => {
    const buffer = new JitterBuffer({ maxWaitMs: 60 });
    buffer.push(packet(1), 0);
    expect(render(buffer.push(packet(4), 20))).toEqual([]);
    expect(render(buffer.push(packet(5), 40))).toEqual([]);
    expect(render(buffer.push(packet(6), 80))).toEqual(["lost2>4", "4", "5", "6"]);
    // The late packets are dropped when they finally arrive.
    expect(render(buffer.push(packet(2), 90))).toEqual([]);
    expect(buffer.stats).toMatchObject({ lost: 2, late: 1 });
  });

  test("poll releases a gap when no further packets arrive", () => {
    const buffer = new JitterBuffer({ maxWaitMs: 60 });
    buffer.push(packet(1), 0);
    buffer.push(packet(3), 20);
    expect(render(buffer.poll(50))).toEqual([]);
    expect(render(buffer.poll(81))).toEqual(["lost1>3", "3"]);
  });

  test("duplicates are dropped, held or already released", () => {
    const buffer = new JitterBuffer();
    buffer.push(packet(1), 0);
    buffer.push(packet(3), 10);
    expect(render(buffer.push(packet(3), 11))).toEqual([]);
    expect(render(buffer.push(packet(1), 12))).toEqual([]);
    expect(render(buffer.push(packet(2), 13))).toEqual(["2", "3"]);
    expect(buffer.stats).toMatchObject({ duplicates: 1, late: 1 });
  });

  test("sequence numbers wrap around 65535", () => {
    const buffer = new JitterBuffer();
    const out = [65534, 65535, 1, 0, 2].flatMap((seq) => render(buffer.push(packet(seq), 0)));
    expect(out).toEqual(["65534", "65535", "0", "1", "2"]);
  });

  test("memory is bounded: a flood behind a gap forces the gap out", () => {
    const buffer = new JitterBuffer({ maxWaitMs: 10_000, maxPackets: 8 });
    buffer.push(packet(0), 0);
    for (let seq = 2; seq < 9; seq++) buffer.push(packet(seq), 0);
    expect(buffer.held).toBe(7);
    expect(render(buffer.push(packet(9), 0))).toEqual(["lost1>2", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(buffer.held).toBe(0);
  });

  test("a big jump is a new stream, not thousands of lost packets", () => {
    const buffer = new JitterBuffer();
    buffer.push(packet(100), 0);
    expect(render(buffer.push(packet(30000), 20))).toEqual(["30000"]);
    expect(buffer.stats.lost).toBe(0);
  });
});
