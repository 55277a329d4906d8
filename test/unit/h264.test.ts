/**
 * The fixture test/fixtures/pattern-320x180-baseline.h264 (30 frames, IDR every 15, two slices per picture) is the
 * synthetic pattern of test/support/syntheticVideo.ts encoded once with x264 0.164 from Debian (not needed to run
 * the tests). To regenerate it, write frames 0-29 at 320x180 as raw I420 (rgbToI420(syntheticRgb(320, 180, i))) to
 * pattern.yuv, then:
 *   x264 --profile baseline --preset veryfast --tune zerolatency --keyint 15 --min-keyint 15 --slices 2 --crf 20 \
 *        --input-res 320x180 --fps 30 --input-csp i420 -o pattern-320x180-baseline.h264 pattern.yuv
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { H264Packetizer } from "werift";
import { H264Decoder } from "../../lib/media/h264.ts";
import { H264Depacketiser } from "../../lib/media/h264Rtp.ts";
import { parseSpsPictureSize } from "../../lib/media/h264Sps.ts";
import type { VideoRtpPacket } from "../../lib/media/videoDepacketiser.ts";
import { type I420Image, rgbToI420 } from "../../lib/media/yuv.ts";
import { accessUnits, h264Fixture, nalUnits } from "../support/h264Fixture.ts";
import { psnrY, syntheticRgb } from "../support/syntheticVideo.ts";

const fixture = h264Fixture;

/** RTP packets for every access unit, built by werift's packetizer (an independent RFC 6184 implementation). */
function packetise(): VideoRtpPacket[][] {
  const packetizer = new H264Packetizer({ maxPayloadSize: 1100, sequenceNumber: 65500 });
  return accessUnits(fixture).map((au, index) =>
    packetizer.packetize(Buffer.from(au), index * 3000).map((packet) => ({
      sequenceNumber: packet.header.sequenceNumber,
      timestamp: packet.header.timestamp,
      marker: packet.header.marker,
      payload: packet.payload,
    })),
  );
}

const sources = Array.from({ length: 30 }, (_, i) => rgbToI420(syntheticRgb(320, 180, i)));

let decoder: H264Decoder;

beforeEach(async () => {
  decoder = await H264Decoder.create();
});

afterEach(() => decoder.close());

async function receive(frames: VideoRtpPacket[][]) {
  const depacketiser = new H264Depacketiser();
  const received: { index: number; image: I420Image }[] = [];
  let keyframeRequests = 0;
  for (const packets of frames) {
    for (const packet of packets) {
      const { frame, requestKeyframe } = depacketiser.push(packet);
      if (requestKeyframe) keyframeRequests++;
      const image = frame && (await decoder.decode(frame.data));
      if (image) received.push({ index: frame.timestamp / 3000, image });
    }
  }
  return { received, keyframeRequests, stats: depacketiser.stats };
}

describe("H.264 depacketise -> decode (tinyh264)", () => {
  test("all 30 access units, through STAP-A, FU-A and single NAL packets, match the source", async () => {
    const frames = packetise();
    const payloadTypes = new Set(frames.flat().map((p) => p.payload[0] & 0x1f));
    expect([...payloadTypes].sort((a, b) => a - b)).toEqual([1, 6, 24, 28]);
    const { received, keyframeRequests, stats } = await receive(frames);
    expect(keyframeRequests).toBe(0);
    expect(stats).toEqual({ frames: 30, keyframes: 2, droppedFrames: 0, keyframeRequests: 0 });
    expect(received.map((r) => r.index)).toEqual([...Array(30).keys()]);
    for (const { index, image } of received) {
      // 320x180 is coded as 320x192 macroblocks: the SPS crop must have been applied.
      expect([image.width, image.height]).toEqual([320, 180]);
      expect(psnrY(sources[index], image)).toBeGreaterThan(40);
    }
  });

  test("a lost slice drops frames up to the next IDR and requests a keyframe once", async () => {
    const frames = packetise();
    // The first of frame 5's two slices: the rest would still form a frame, only the sequence gap shows the loss.
    expect(frames[5]).toHaveLength(2);
    frames[5].splice(0, 1);
    const { received, keyframeRequests, stats } = await receive(frames);
    expect(keyframeRequests).toBe(1);
    expect(received.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, ...Array.from({ length: 15 }, (_, i) => i + 15)]);
    expect(stats.droppedFrames).toBe(10);
    for (const { index, image } of received) expect(psnrY(sources[index], image)).toBeGreaterThan(40);
  });

  test("a lost FU-A fragment of the first IDR: nothing until the next IDR, and the request is repeated", async () => {
    const frames = packetise();
    const fragments = frames[0].filter((p) => (p.payload[0] & 0x1f) === 28);
    expect(fragments.length).toBeGreaterThan(2);
    frames[0].splice(frames[0].indexOf(fragments[1]), 1);
    const { received, keyframeRequests, stats } = await receive(frames);
    // Asked at the loss, and again after 15 frames went by without a keyframe (keyframeRetryFrames).
    expect(keyframeRequests).toBe(2);
    expect(received.map((r) => r.index)).toEqual(Array.from({ length: 15 }, (_, i) => i + 15));
    expect(stats.droppedFrames).toBe(15);
  });

  test("the decoder rejects a slice without parameter sets", async () => {
    const [, , , idr] = nalUnits(fixture);
    expect(idr[0] & 0x1f).toBe(5);
    const accessUnit = Buffer.concat([Buffer.from([0, 0, 0, 1]), idr]);
    await expect(decoder.decode(accessUnit)).rejects.toThrow("H.264 decode failed");
  });
});

describe("H.264 RTP payloads (RFC 6184)", () => {
  const packet = (sequenceNumber: number, marker: boolean, ...bytes: number[]): VideoRtpPacket => ({
    sequenceNumber,
    timestamp: 9000,
    marker,
    payload: Uint8Array.from(bytes),
  });

  test("STAP-A with SPS starts a keyframe; FU-A pieces are joined behind a rebuilt NAL header", () => {
    const depacketiser = new H264Depacketiser();
    expect(depacketiser.push(packet(1, false, 0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce)))
      .toEqual({ requestKeyframe: false });
    expect(depacketiser.push(packet(2, false, 0x7c, 0x85, 0x88, 0x01))).toEqual({ requestKeyframe: false });
    const { frame } = depacketiser.push(packet(3, true, 0x7c, 0x45, 0x02, 0x03));
    expect(frame?.keyframe).toBe(true);
    const startCode = [0, 0, 0, 1];
    expect([...frame!.data]).toEqual([
      ...[...startCode, 0x67, 0x42],
      ...[...startCode, 0x68, 0xce],
      ...[...startCode, 0x65, 0x88, 0x01, 2, 3],
    ]);
  });

  test("an FU-A cut short by another packet type is malformed: dropped, keyframe requested", () => {
    const depacketiser = new H264Depacketiser();
    depacketiser.push(packet(1, true, 0x65, 0x88, 0x01));
    depacketiser.push(packet(2, false, 0x7c, 0x81, 0x9a));
    expect(depacketiser.push(packet(3, true, 0x41, 0x9a))).toEqual({ requestKeyframe: true });
    expect(depacketiser.stats).toMatchObject({ frames: 1, droppedFrames: 1, keyframeRequests: 1 });
  });

  test("a second IDR slice does not start a keyframe (first_mb_in_slice != 0)", () => {
    const depacketiser = new H264Depacketiser();
    expect(depacketiser.push(packet(1, true, 0x65, 0x48, 0x01))).toEqual({ requestKeyframe: true });
    expect(depacketiser.waitingForKeyframe).toBe(true);
  });
});

describe("SPS picture size", () => {
  test("crop of the fixture's SPS (320x180 coded as 320x192)", () => {
    const sps = nalUnits(fixture).find((nal) => (nal[0] & 0x1f) === 7)!;
    expect(parseSpsPictureSize(sps)).toEqual({
      codedWidth: 320,
      codedHeight: 192,
      left: 0,
      top: 0,
      width: 320,
      height: 180,
    });
  });

  test("640x360 from x264, with emulation-prevention bytes in its VUI", () => {
    const sps = Buffer.from("6742c01eda0280bfe584000003000400000300f23c58ba80", "hex");
    expect(parseSpsPictureSize(sps)).toMatchObject({ codedWidth: 640, codedHeight: 368, width: 640, height: 360 });
  });

  test("High profile and truncated SPS give undefined", () => {
    expect(parseSpsPictureSize(Uint8Array.from([0x67, 100, 0, 40, 0xac]))).toBeUndefined();
    expect(parseSpsPictureSize(Uint8Array.from([0x67, 0x42, 0xc0, 0x1e]))).toBeUndefined();
  });
});
