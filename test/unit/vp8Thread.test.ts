import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BundledFileError, useBundledFileOverrides } from "../../lib/assets/bundledFiles.ts";
import { codecSeconds } from "../../lib/media/codecTime.ts";
import { Vp8Decoder, Vp8Encoder } from "../../lib/media/vp8.ts";
import { terminateVp8Thread, ThreadedVp8Decoder, ThreadedVp8Encoder } from "../../lib/media/vp8Thread.ts";
import { rgbToI420 } from "../../lib/media/yuv.ts";
import { psnrY, syntheticRgb } from "../support/syntheticVideo.ts";

const closers: { close(): void }[] = [];
afterEach(() => {
  for (const codec of closers.splice(0)) codec.close();
});

function keep<T extends { close(): void }>(codec: T): T {
  closers.push(codec);
  return codec;
}

const encodeSeconds = () => codecSeconds().find((c) => c.codec === "vp8" && c.operation === "encode")?.seconds ?? 0;

describe("VP8 in the codec thread", () => {
  test("encodes and decodes exactly as on this thread, and the caller keeps its picture", async () => {
    const threaded = keep(await ThreadedVp8Encoder.create());
    const local = keep(await Vp8Encoder.create());
    const threadedDecoder = keep(await ThreadedVp8Decoder.create());
    const localDecoder = keep(await Vp8Decoder.create());
    const before = encodeSeconds();
    for (let i = 0; i < 5; i++) {
      const picture = syntheticRgb(320, 240, i);
      const copy = picture.data.slice();
      const [encoded] = await threaded.encode(picture, { timestampMs: i * 33 });
      const [expected] = await local.encode(picture, { timestampMs: i * 33 });
      expect(picture.data).toEqual(copy);
      expect(encoded.data).toEqual(expected.data);
      const fromThread = await threadedDecoder.decode(encoded.data.slice(), "RGB");
      expect(fromThread?.data).toEqual((await localDecoder.decode(expected.data, "RGB"))?.data);
    }
    // The thread's own codec time reaches /metrics.
    expect(encodeSeconds()).toBeGreaterThan(before);
  });

  test("encodes called together run one after the other, each on its own picture", async () => {
    const threaded = keep(await ThreadedVp8Encoder.create());
    const local = keep(await Vp8Encoder.create());
    const pictures = Array.from({ length: 4 }, (_, i) => syntheticRgb(320, 240, i * 7));
    const encoded = await Promise.all(pictures.map((picture, i) => threaded.encode(picture, { timestampMs: i * 33 })));
    for (const [i, picture] of pictures.entries()) {
      const [expected] = await local.encode(picture, { timestampMs: i * 33 });
      expect(encoded[i][0].data).toEqual(expected.data);
    }
  });

  test("a decoder hands its frame's buffer to the thread only when the frame spans all of it", async () => {
    const encoder = keep(await Vp8Encoder.create());
    const decoder = keep(await ThreadedVp8Decoder.create());
    const [{ data }] = await encoder.encode(syntheticRgb(64, 48, 0));
    const padded = new Uint8Array(data.length + 10);
    padded.set(data, 5);
    expect(await decoder.decode(padded.subarray(5, 5 + data.length))).toMatchObject({ width: 64, height: 48 });
    expect(padded.length).toBe(data.length + 10);
    expect(await decoder.decode(data)).toMatchObject({ width: 64, height: 48 });
    expect(data.length).toBe(0);
  });

  test("a codec thread that dies is replaced: encoder and decoder carry on from a keyframe", async () => {
    const encoder = keep(await ThreadedVp8Encoder.create());
    const decoder = keep(await ThreadedVp8Decoder.create());
    const frames = Array.from({ length: 3 }, (_, i) => syntheticRgb(160, 120, i));
    for (const [i, picture] of frames.entries()) {
      const [encoded] = await encoder.encode(picture, { timestampMs: i * 33 });
      expect(encoded.keyframe).toBe(i === 0);
      expect(await decoder.decode(encoded.data)).toBeDefined();
    }
    await terminateVp8Thread();
    const [after] = await encoder.encode(frames[0], { timestampMs: 200 });
    expect(after.keyframe).toBe(true);
    const picture = await decoder.decode(after.data);
    expect(psnrY(rgbToI420(frames[0]), picture!)).toBeGreaterThan(30);
  });

  test("the thread loads libav.js from the same assetsDir, and a bad file there rejects as a BundledFileError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "swrtc-vp8-thread-"));
    writeFileSync(join(dir, "libav-vp8-opus.wasm"), "not wasm");
    // Positive control: a thread started before the override opens codecs.
    keep(await ThreadedVp8Encoder.create());
    useBundledFileOverrides(dir);
    try {
      await terminateVp8Thread();
      const error = await ThreadedVp8Encoder.create().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BundledFileError);
      expect((error as BundledFileError).path).toBe(join(dir, "libav-vp8-opus.wasm"));
    } finally {
      useBundledFileOverrides(undefined);
      await terminateVp8Thread();
    }
    keep(await ThreadedVp8Encoder.create());
  });

  test("calls after close() reject, naming the codec", async () => {
    const encoder = await ThreadedVp8Encoder.create();
    const decoder = await ThreadedVp8Decoder.create();
    encoder.close();
    decoder.close();
    await expect(encoder.encode(syntheticRgb(16, 16, 0))).rejects.toThrow("ThreadedVp8Encoder.encode after close()");
    await expect(decoder.decode(new Uint8Array(10))).rejects.toThrow("ThreadedVp8Decoder.decode after close()");
  });
});
