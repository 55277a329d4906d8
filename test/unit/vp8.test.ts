import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { VideoRtpPacket } from "../../lib/media/videoDepacketiser.ts";
import { sharedLibAV } from "../../lib/media/libav.ts";
import { Vp8Decoder, Vp8Encoder, warmUpVideo } from "../../lib/media/vp8.ts";
import { parseVp8Descriptor, Vp8Depacketiser, Vp8Packetiser } from "../../lib/media/vp8Rtp.ts";
import { type I420Image, i420ToRgb, rgbToI420 } from "../../lib/media/yuv.ts";
import { psnrY, syntheticRgb } from "../support/syntheticVideo.ts";

/** Packetises like an RTP sender: consecutive sequence numbers (starting just before the 16-bit wrap), 90 kHz time. */
class Sender {
  readonly packetiser = new Vp8Packetiser({ pictureId: 0x7ffe });
  #sequenceNumber = 65530;

  send(frame: Uint8Array, index: number): VideoRtpPacket[] {
    const payloads = this.packetiser.packetise(frame);
    return payloads.map((payload, i) => ({
      sequenceNumber: this.#sequenceNumber++ & 0xffff,
      timestamp: index * 3000,
      marker: i === payloads.length - 1,
      payload,
    }));
  }
}

interface Received {
  index: number;
  image: I420Image;
  keyframe: boolean;
}

/** Depacketises and decodes, remembering which source frame each picture came from (by RTP timestamp). */
class Receiver {
  readonly depacketiser = new Vp8Depacketiser();
  readonly received: Received[] = [];
  keyframeRequests = 0;

  constructor(private readonly decoder: Vp8Decoder) {}

  async receive(packets: VideoRtpPacket[]): Promise<void> {
    for (const packet of packets) {
      const { frame, requestKeyframe } = this.depacketiser.push(packet);
      if (requestKeyframe) this.keyframeRequests++;
      if (!frame) continue;
      const image = await this.decoder.decode(frame.data);
      if (image) this.received.push({ index: frame.timestamp / 3000, image, keyframe: frame.keyframe });
    }
  }
}

let encoder: Vp8Encoder;
let decoder: Vp8Decoder;

beforeAll(async () => {
  encoder = await Vp8Encoder.create();
  decoder = await Vp8Decoder.create();
});

afterAll(() => {
  encoder.close();
  decoder.close();
});

async function roundTrip(width: number, height: number, frames: number) {
  const sources = Array.from({ length: frames }, (_, i) => rgbToI420(syntheticRgb(width, height, i)));
  const sender = new Sender();
  const receiver = new Receiver(decoder);
  let bytes = 0;
  let largestPayload = 0;
  for (const [index, source] of sources.entries()) {
    for (const { data } of await encoder.encode(source)) {
      bytes += data.length;
      const packets = sender.send(data, index);
      largestPayload = Math.max(largestPayload, ...packets.map((p) => p.payload.length));
      await receiver.receive(packets);
    }
  }
  const psnrs = receiver.received.map(({ index, image }) => psnrY(sources[index], image));
  return { receiver, bytes, largestPayload, meanPsnr: psnrs.reduce((a, b) => a + b, 0) / psnrs.length };
}

describe("VP8 encode -> packetise -> depacketise -> decode", () => {
  for (const [width, height] of [
    [320, 240],
    [640, 480],
  ]) {
    test(`${width}x${height}, 60 frames`, async () => {
      const { receiver, bytes, largestPayload, meanPsnr } = await roundTrip(width, height, 60);
      expect(receiver.received).toHaveLength(60);
      expect(receiver.received.every(({ image }) => image.width === width && image.height === height)).toBe(true);
      expect(receiver.depacketiser.stats).toMatchObject({ frames: 60, droppedFrames: 0, keyframeRequests: 0 });
      expect(receiver.keyframeRequests).toBe(0);
      expect(meanPsnr).toBeGreaterThan(30);
      expect(largestPayload).toBeLessThanOrEqual(1100);
      // 800 kbit/s target over 2 s of 30 fps; a new encoder's first keyframe may overshoot a little.
      expect((bytes * 8) / 2).toBeLessThan(1_200_000);
    });
  }

  test("a lost packet drops frames until the requested keyframe, never a corrupt one", async () => {
    encoder.requestKeyframe();
    const sender = new Sender();
    const receiver = new Receiver(decoder);
    const sources = Array.from({ length: 40 }, (_, i) => rgbToI420(syntheticRgb(640, 480, i)));
    let lossAt = -1;
    let keyframeAfterLoss = -1;
    let requestInFlight = false;
    for (const [index, source] of sources.entries()) {
      const requestsBefore = receiver.keyframeRequests;
      for (const { data, keyframe } of await encoder.encode(source)) {
        const packets = sender.send(data, index);
        // Lose a packet from the middle of frame 10: only the sequence-number gap shows it.
        if (index === 10) {
          expect(packets.length).toBeGreaterThan(2);
          packets.splice(1, 1);
          lossAt = index;
        }
        if (keyframe && lossAt >= 0 && index > lossAt) keyframeAfterLoss = index;
        await receiver.receive(packets);
      }
      // The PLI reaches the sender one frame later.
      if (requestInFlight) encoder.requestKeyframe();
      requestInFlight = receiver.keyframeRequests > requestsBefore;
    }
    const indices = receiver.received.map((r) => r.index);
    expect(receiver.keyframeRequests).toBe(1);
    expect(keyframeAfterLoss).toBe(12);
    // Frame 10 lost a packet and frame 11 depends on it; the keyframe (12) restores the picture.
    expect(indices).toEqual([...Array(10).keys(), ...Array.from({ length: 28 }, (_, i) => i + 12)]);
    expect(receiver.depacketiser.stats.droppedFrames).toBe(2);
    for (const { index, image } of receiver.received) expect(psnrY(sources[index], image)).toBeGreaterThan(30);
  });

  test("packets out of order count as a loss (the jitter buffer in front reorders them) and recover", async () => {
    encoder.requestKeyframe();
    const sender = new Sender();
    const receiver = new Receiver(decoder);
    for (let index = 0; index < 8; index++) {
      for (const { data } of await encoder.encode(rgbToI420(syntheticRgb(640, 480, index)))) {
        const packets = sender.send(data, index);
        if (index === 3) {
          expect(packets.length).toBeGreaterThan(1);
          packets.push(packets.shift()!);
        }
        await receiver.receive(packets);
      }
      if (receiver.keyframeRequests > 0 && index === 3) encoder.requestKeyframe();
    }
    expect(receiver.keyframeRequests).toBe(1);
    expect(receiver.received.map((r) => r.index)).toEqual([0, 1, 2, 4, 5, 6, 7]);
    expect(receiver.received.find((r) => r.index === 4)?.keyframe).toBe(true);
  });

  test("a size change mid-stream re-creates the encoder and the decoder follows", async () => {
    const sender = new Sender();
    const receiver = new Receiver(decoder);
    const sizes = [
      [640, 360],
      [480, 270],
      [321, 179],
    ];
    let index = 0;
    for (const [width, height] of sizes) {
      for (let n = 0; n < 5; n++, index++) {
        const source = rgbToI420(syntheticRgb(width, height, index));
        const frames = await encoder.encode(source);
        expect(frames).toHaveLength(1);
        expect(frames[0].keyframe).toBe(n === 0);
        await receiver.receive(sender.send(frames[0].data, index));
        const last = receiver.received.at(-1)!;
        expect([last.index, last.image.width, last.image.height]).toEqual([index, width, height]);
        expect(psnrY(source, last.image)).toBeGreaterThan(30);
      }
    }
  });

  test("RGB straight in and out of the codec's buffers matches converting packed I420 (odd size, padded rows)", async () => {
    const [fromRgb, fromI420] = [await Vp8Encoder.create(), await Vp8Encoder.create()];
    const [toRgb, toI420] = [await Vp8Decoder.create(), await Vp8Decoder.create()];
    try {
      for (let index = 0; index < 5; index++) {
        const rgb = syntheticRgb(321, 179, index);
        const [encoded] = await fromRgb.encode(rgb, { timestampMs: index * 33 });
        const [reference] = await fromI420.encode(rgbToI420(rgb), { timestampMs: index * 33 });
        expect(encoded.data).toEqual(reference.data);
        const picture = await toRgb.decode(encoded.data, "RGB");
        const expected = i420ToRgb((await toI420.decode(reference.data))!);
        expect(picture).toMatchObject({ format: "RGB", width: 321, height: 179 });
        expect(picture!.data).toEqual(expected.data);
      }
    } finally {
      for (const codec of [fromRgb, fromI420, toRgb, toI420]) codec.close();
    }
  });

  test("keyframes come first, when requested, and after keyframeInterval frames without one", async () => {
    const fresh = await Vp8Encoder.create({ keyframeInterval: 10 });
    const kinds: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      if (i === 7) fresh.requestKeyframe();
      const frames = await fresh.encode(syntheticRgb(320, 240, i), { keyframe: i === 3 });
      kinds.push(...frames.map((f) => f.keyframe));
    }
    fresh.close();
    expect(kinds).toHaveLength(20);
    expect(kinds.map((k, i) => (k ? i : -1)).filter((i) => i >= 0)).toEqual([0, 3, 7, 17]);
    await expect(fresh.encode(syntheticRgb(320, 240, 0))).rejects.toThrow("after close()");
  });

  test("size changes, close() and warmUpVideo() give all codec memory back", async () => {
    const libav = await sharedLibAV();
    const allocated = () => libav.mallinfo_uordblks_sync();
    const before = allocated();
    const fresh = await Vp8Encoder.create();
    const freshDecoder = await Vp8Decoder.create();
    for (const [width, height] of [
      [640, 480],
      [320, 240],
    ]) {
      for (const { data } of await fresh.encode(syntheticRgb(width, height, 0))) await freshDecoder.decode(data);
    }
    // One 320x240 encoder and decoder: a few MB of libvpx state.
    expect(allocated() - before).toBeGreaterThan(1_000_000);
    fresh.close();
    freshDecoder.close();
    expect(allocated()).toBe(before);
    await warmUpVideo(100);
    expect(allocated()).toBe(before);
  });

  test("the decoder rejects garbage instead of returning a picture", async () => {
    const fresh = await Vp8Decoder.create();
    try {
      await expect(fresh.decode(new Uint8Array([0x10, 0x02, 0x00, 1, 2, 3, 4, 5, 6, 7]))).rejects.toThrow();
    } finally {
      fresh.close();
    }
    await expect(fresh.decode(new Uint8Array(10))).rejects.toThrow("after close()");
  });
});

describe("VP8 payload descriptor (RFC 7741 §4.2)", () => {
  test("packetiser: 4-octet descriptor, S on the first packet only, PictureID per frame with 15-bit wrap", () => {
    const packetiser = new Vp8Packetiser({ maxPayloadSize: 100, pictureId: 0x7fff });
    const frame = Uint8Array.from({ length: 385 }, (_, i) => i & 255);
    const payloads = packetiser.packetise(frame);
    // 385 bytes in 96-byte chunks need 5 packets; near-equal split: 77 each.
    expect(payloads.map((p) => p.length)).toEqual([81, 81, 81, 81, 81]);
    expect(payloads.map((p) => parseVp8Descriptor(p))).toEqual(
      payloads.map((_, i) => ({ start: i === 0, partitionIndex: 0, pictureId: 0x7fff, length: 4 })),
    );
    expect(parseVp8Descriptor(packetiser.packetise(frame)[0])?.pictureId).toBe(0);
  });

  test("parser skips every optional field, including TID with T alone", () => {
    // X=1 S=1; I=1 with a 7-bit PictureID; T=1 (TID/Y/KEYIDX octet) without L or K.
    expect(parseVp8Descriptor(new Uint8Array([0x90, 0xa0, 0x05, 0x40, 0xaa]))).toEqual({
      start: true,
      partitionIndex: 0,
      pictureId: 5,
      length: 4,
    });
    // X=1 with I (15-bit), L and K: 1 + 1 + 2 + 1 + 1 octets.
    expect(parseVp8Descriptor(new Uint8Array([0x81, 0xd0, 0x81, 0x02, 0x07, 0x20, 0xaa]))).toEqual({
      start: false,
      partitionIndex: 1,
      pictureId: 0x102,
      length: 6,
    });
    // No extension at all.
    expect(parseVp8Descriptor(new Uint8Array([0x10, 0xaa]))?.length).toBe(1);
    // Announces a 15-bit PictureID but ends first.
    expect(parseVp8Descriptor(new Uint8Array([0x90, 0x80, 0x81]))).toBeUndefined();
  });

  test("padding-only packets between frames are not a loss", () => {
    const depacketiser = new Vp8Depacketiser();
    const keyframe = Uint8Array.from([0x10, 0x00, 0x9d, 0x01, 0x2a]);
    const interframe = Uint8Array.from([0x10, 0x01, 0x02, 0x03]);
    depacketiser.push({ sequenceNumber: 65535, timestamp: 0, marker: true, payload: keyframe });
    depacketiser.push({ sequenceNumber: 0, timestamp: 0, marker: false, payload: new Uint8Array(0) });
    expect(depacketiser.push({ sequenceNumber: 1, timestamp: 3000, marker: true, payload: interframe })).toMatchObject({
      frame: { keyframe: false, timestamp: 3000, data: Uint8Array.from([1, 2, 3]) },
      requestKeyframe: false,
    });
    expect(depacketiser.stats).toEqual({ frames: 2, keyframes: 1, droppedFrames: 0, keyframeRequests: 0 });
  });

  test("stragglers are ignored; a sequence that jumps far back is a restarted sender that needs a keyframe", () => {
    const depacketiser = new Vp8Depacketiser();
    const keyframe = Uint8Array.from([0x10, 0x00, 0x9d, 0x01, 0x2a]);
    const interframe = Uint8Array.from([0x10, 0x01, 0x02, 0x03]);
    depacketiser.push({ sequenceNumber: 30000, timestamp: 0, marker: true, payload: keyframe });
    expect(depacketiser.push({ sequenceNumber: 29990, timestamp: 0, marker: true, payload: interframe })).toEqual({
      requestKeyframe: false,
    });
    expect(depacketiser.push({ sequenceNumber: 100, timestamp: 90, marker: true, payload: interframe })).toEqual({
      requestKeyframe: true,
    });
    expect(depacketiser.push({ sequenceNumber: 101, timestamp: 3090, marker: true, payload: keyframe }).frame)
      .toMatchObject({ keyframe: true, timestamp: 3090 });
  });

  test("a frame whose first packet lacks the S bit is dropped and a keyframe requested", () => {
    const depacketiser = new Vp8Depacketiser();
    const keyframe = [0x10, 0x00, 0x9d, 0x01, 0x2a]; // S=1, then a keyframe tag (P bit 0)
    expect(depacketiser.push({ sequenceNumber: 1, timestamp: 0, marker: true, payload: Uint8Array.from(keyframe) }))
      .toMatchObject({ frame: { keyframe: true, timestamp: 0 }, requestKeyframe: false });
    const noStart = Uint8Array.from([0x00, 0x01, 0x02, 0x03]);
    expect(depacketiser.push({ sequenceNumber: 2, timestamp: 3000, marker: true, payload: noStart })).toEqual({
      requestKeyframe: true,
    });
    expect(depacketiser.waitingForKeyframe).toBe(true);
  });
});
