import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { createLogger } from "../../lib/log/logger.ts";
import { VideoSender } from "../../lib/media/videoSender.ts";
import { Vp8Decoder } from "../../lib/media/vp8.ts";
import { ThreadedVp8Encoder } from "../../lib/media/vp8Thread.ts";
import { Vp8Depacketiser } from "../../lib/media/vp8Rtp.ts";
import { type I420Image, type RgbImage, rgbToI420 } from "../../lib/media/yuv.ts";
import { VirtualClock } from "../support/virtualClock.ts";

const FRAME_MS = 1000 / 30;
const SEND_TIMEOUT_MS = 10_000;

type Rgb = [number, number, number];
const QUADRANTS: Rgb[] = [
  [230, 20, 20],
  [20, 200, 20],
  [20, 20, 230],
  [235, 235, 235],
];

/** Top-left, top-right, bottom-left, bottom-right filled with the four QUADRANTS colours. */
function quadrants(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set(QUADRANTS[(y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)], (y * width + x) * 3);
    }
  }
  return { format: "RGB", width, height, data };
}

/** BT.601 luma of one colour, as the encoder's input conversion computes it. */
function lumaOf(colour: Rgb): number {
  return rgbToI420({ format: "RGB", width: 1, height: 1, data: new Uint8Array(colour) }).data[0];
}

/** Mean luma inside each quadrant, keeping `margin` pixels away from the edges between them. */
function quadrantLuma(image: I420Image, margin: number): number[] {
  const { width, height, data } = image;
  const halfWidth = width >> 1;
  const halfHeight = height >> 1;
  return [0, 1, 2, 3].map((q) => {
    const left = (q & 1) * halfWidth;
    const top = (q >> 1) * halfHeight;
    let sum = 0;
    let count = 0;
    for (let y = top + margin; y < top + halfHeight - margin; y++) {
      for (let x = left + margin; x < left + halfWidth - margin; x++, count++) sum += data[y * width + x];
    }
    return sum / count;
  });
}

/** A VideoSender on a virtual clock, its RTP depacketised and decoded as a browser would. */
class Harness {
  readonly clock = new VirtualClock();
  readonly warnings: string[] = [];
  readonly sender: VideoSender;
  readonly #depacketiser = new Vp8Depacketiser();
  #onFrame?: (frame: { data: Uint8Array; keyframe: boolean }) => void;

  constructor(size: { width?: number; height?: number }) {
    this.sender = new VideoSender({
      framerate: 30,
      bitrate: 800_000,
      clock: this.clock,
      logger: createLogger({ level: "warn", write: (line) => this.warnings.push(line) }),
      send: (packet) => {
        const { frame } = this.#depacketiser.push(packet);
        if (frame) this.#onFrame?.(frame);
      },
      ...size,
    });
    this.sender.start();
  }

  /** Shows `image` and resolves with the VP8 frame sent for it on the next frame tick. */
  async show(image: RgbImage): Promise<{ data: Uint8Array; keyframe: boolean }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sent = new Promise<{ data: Uint8Array; keyframe: boolean }>((resolve, reject) => {
      this.#onFrame = resolve;
      timer = setTimeout(() => reject(new Error(`no VP8 frame sent within ${SEND_TIMEOUT_MS} ms`)), SEND_TIMEOUT_MS);
    });
    this.sender.setImage(image);
    this.clock.advance(FRAME_MS);
    try {
      return await sent;
    } finally {
      clearTimeout(timer);
    }
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function start(size: { width?: number; height?: number }): Promise<{ harness: Harness; decoder: Vp8Decoder }> {
  const harness = new Harness(size);
  const decoder = await Vp8Decoder.create();
  cleanups.push(() => harness.sender.close(), () => decoder.close());
  return { harness, decoder };
}

describe("VideoSender", () => {
  test("with a size set, pictures of other sizes go out at that size, stretched, with no new keyframe", async () => {
    const { harness, decoder } = await start({ width: 320, height: 240 });
    const expected = QUADRANTS.map(lumaOf);
    const received: { width: number; height: number; keyframe: boolean }[] = [];
    // Shrunk, enlarged with odd sizes, as it is, and shrunk from another aspect ratio.
    for (const [width, height] of [
      [640, 480],
      [201, 151],
      [320, 240],
      [1280, 720],
    ]) {
      const frame = await harness.show(quadrants(width, height));
      const picture = await decoder.decode(frame.data);
      if (!picture) throw new Error("the decoder showed no picture");
      received.push({ width: picture.width, height: picture.height, keyframe: frame.keyframe });
      // Stretched, each quadrant still fills a quarter of the picture.
      quadrantLuma(picture, 16).forEach((luma, q) => expect(Math.abs(luma - expected[q])).toBeLessThan(8));
    }
    expect(received).toEqual([
      { width: 320, height: 240, keyframe: true },
      { width: 320, height: 240, keyframe: false },
      { width: 320, height: 240, keyframe: false },
      { width: 320, height: 240, keyframe: false },
    ]);
    expect(harness.warnings).toEqual([]);
  });

  test("a picture that already has the size reaches the encoder as it is, not copied", async () => {
    const encode = spyOn(ThreadedVp8Encoder.prototype, "encode");
    cleanups.push(() => encode.mockRestore());
    const { harness } = await start({ width: 320, height: 240 });
    const other = quadrants(640, 480);
    await harness.show(other);
    // Positive control: the spy sees what the encoder gets, and a picture of another size is replaced.
    expect(encode.mock.calls.at(-1)?.[0]).not.toBe(other);
    expect(encode.mock.calls.at(-1)?.[0]).toMatchObject({ width: 320, height: 240 });
    const same = quadrants(320, 240);
    await harness.show(same);
    expect(encode.mock.calls.at(-1)?.[0]).toBe(same);
  });

  test("without a size, every picture goes out at its own size, as it is", async () => {
    const encode = spyOn(ThreadedVp8Encoder.prototype, "encode");
    cleanups.push(() => encode.mockRestore());
    const { harness, decoder } = await start({});
    const sizes: number[][] = [];
    for (const image of [quadrants(320, 240), quadrants(176, 144)]) {
      const frame = await harness.show(image);
      expect(encode.mock.calls.at(-1)?.[0]).toBe(image);
      const picture = await decoder.decode(frame.data);
      sizes.push([picture?.width ?? 0, picture?.height ?? 0, Number(frame.keyframe)]);
    }
    // A new size re-creates the encoder, so it starts with a keyframe.
    expect(sizes).toEqual([
      [320, 240, 1],
      [176, 144, 1],
    ]);
  });

  test("a bad size is refused at construction with one clear line", () => {
    const options = { framerate: 30, bitrate: 800_000, send: () => {}, logger: createLogger({ write: () => {} }) };
    const message = "video sender: width and height must be whole numbers from 1 to 16383, got";
    for (const [size, shown] of [
      [{ width: 640 }, "640xundefined"],
      [{ height: 480 }, "undefinedx480"],
      [{ width: 0, height: 480 }, "0x480"],
      [{ width: 640.5, height: 480 }, "640.5x480"],
      [{ width: 16384, height: 480 }, "16384x480"],
    ] as const) {
      expect(() => new VideoSender({ ...options, ...size })).toThrow(`${message} ${shown}`);
    }
  });
});
