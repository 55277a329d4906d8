import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { createLogger } from "../../lib/log/logger.ts";
import { VideoSender, videoSenderStats } from "../../lib/media/videoSender.ts";
import { Vp8Decoder } from "../../lib/media/vp8.ts";
import { ThreadedVp8Encoder } from "../../lib/media/vp8Thread.ts";
import { Vp8Depacketiser } from "../../lib/media/vp8Rtp.ts";
import { type I420Image, type RgbImage, rgbToI420 } from "../../lib/media/yuv.ts";
import { eventually } from "../support/eventually.ts";
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

/** Flat grey pictures, told apart by their brightness once decoded: 40 levels apart, far beyond codec error. */
const GREYS = Array.from({ length: 6 }, (_, i) => 30 + i * 40);

function grey(level: number): RgbImage {
  return { format: "RGB", width: 64, height: 48, data: new Uint8Array(64 * 48 * 3).fill(level) };
}

/** A VideoSender on a virtual clock whose every VP8 frame is kept with its RTP timestamp, for counting and decoding. */
class Stream {
  readonly clock = new VirtualClock();
  readonly sender: VideoSender;
  readonly frames: { data: Uint8Array; timestamp: number }[] = [];
  readonly #depacketiser = new Vp8Depacketiser();

  constructor(readonly live: boolean) {
    this.sender = new VideoSender({
      framerate: 30,
      bitrate: 800_000,
      live,
      clock: this.clock,
      logger: createLogger({ write: () => {} }),
      send: (packet) => {
        const { frame } = this.#depacketiser.push(packet);
        if (frame) this.frames.push({ data: frame.data, timestamp: packet.timestamp });
      },
    });
    this.sender.start();
    // Half a frame in, past the first tick (with nothing to send yet): each FRAME_MS advance then holds one tick.
    this.clock.advance(FRAME_MS / 2);
    cleanups.push(() => this.sender.close());
  }

  /**
   * Runs `count` frame ticks, each one once the encode of the tick before has finished (a tick that finds the encoder
   * busy is skipped), and returns how many frames went out during them.
   */
  async tick(count: number): Promise<number> {
    const before = this.frames.length;
    for (let i = 0; i < count; i++) {
      const sent = this.sender.stats.sentFrames;
      // A tick has a picture to send: the still one (tests set it first), or the next from the live queue.
      const due = !this.live || this.sender.queued > 0;
      this.clock.advance(FRAME_MS);
      if (due) await eventually(() => this.sender.stats.sentFrames > sent, SEND_TIMEOUT_MS, `the frame of tick ${i}`);
    }
    return this.frames.length - before;
  }

  /** Runs `count` frame ticks that send nothing, letting each one run before the next. */
  async idle(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.clock.advance(FRAME_MS);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /** Which of GREYS each frame sent so far shows, decoded in order. */
  async shown(): Promise<number[]> {
    const decoder = await Vp8Decoder.create();
    const expected = GREYS.map((level) => lumaOf([level, level, level]));
    try {
      const shown: number[] = [];
      for (const frame of this.frames) {
        const picture = await decoder.decode(frame.data);
        if (!picture) throw new Error("a frame showed no picture");
        const luma = picture.data.subarray(0, picture.width * picture.height);
        const mean = luma.reduce((sum, v) => sum + v, 0) / luma.length;
        const nearest = expected.reduce((best, level, i) => (Math.abs(level - mean) < Math.abs(expected[best] - mean) ? i : best), 0);
        expect(Math.abs(expected[nearest] - mean)).toBeLessThan(6);
        shown.push(GREYS[nearest]);
      }
      return shown;
    } finally {
      decoder.close();
    }
  }

  /** RTP timestamp steps between consecutive frames, in 90 kHz units. */
  steps(): number[] {
    return this.frames.slice(1).map((frame, i) => (frame.timestamp - this.frames[i].timestamp) >>> 0);
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

describe("videoOutIsLive", () => {
  test("off (the default): a new picture goes out on the next tick, an unchanged one is re-sent once a second", async () => {
    const stream = new Stream(false);
    stream.sender.setImage(grey(GREYS[0]));
    expect(await stream.tick(1)).toBe(1);
    // A frame sent on any of the next 29 ticks would show in the timestamp steps below.
    await stream.idle(29);
    expect(await stream.tick(1)).toBe(1);
    stream.sender.setImage(grey(GREYS[1]));
    stream.sender.setImage(grey(GREYS[2]));
    expect(await stream.tick(1)).toBe(1);
    // The refresh a second after the first frame (30 ticks of 3000 on the 90 kHz RTP clock); the second picture,
    // replaced before its tick, is never sent.
    expect(stream.steps()).toEqual([30 * 3000, 3000]);
    expect(await stream.shown()).toEqual([GREYS[0], GREYS[0], GREYS[2]]);
  });

  test("on: each picture is sent once, one per tick, in order, and nothing is repeated", async () => {
    const stream = new Stream(true);
    for (const level of GREYS.slice(0, 3)) stream.sender.setImage(grey(level));
    // Paced: three pictures pushed at once leave on three ticks, one each.
    expect(await stream.tick(1)).toBe(1);
    expect(await stream.tick(2)).toBe(2);
    // With the queue empty, ten more ticks send nothing: the last picture is not repeated.
    expect(await stream.tick(10)).toBe(0);
    stream.sender.setImage(grey(GREYS[3]));
    expect(await stream.tick(1)).toBe(1);
    expect(await stream.shown()).toEqual(GREYS.slice(0, 4));
    expect(stream.steps()).toEqual([3000, 3000, 11 * 3000]);
  });

  test("on: a bot that outruns the frame rate loses its oldest pictures, counted, and the newest go out in order", async () => {
    const stream = new Stream(true);
    const droppedBefore = videoSenderStats.droppedImages;
    // Twenty pictures at once, against a queue of 0.2 s at 30 fps (6 pictures).
    const pushed = Array.from({ length: 20 }, (_, i) => GREYS[i % GREYS.length]);
    for (const level of pushed) stream.sender.setImage(grey(level));
    expect(stream.sender.queued).toBe(6);
    expect(stream.sender.stats.droppedImages).toBe(14);
    expect(videoSenderStats.droppedImages - droppedBefore).toBe(14);
    expect(await stream.tick(10)).toBe(6);
    expect(await stream.shown()).toEqual(pushed.slice(-6));
  });

  test("on: clear() (an interruption) drops the pictures still waiting", async () => {
    const stream = new Stream(true);
    for (const level of GREYS.slice(0, 3)) stream.sender.setImage(grey(level));
    stream.sender.clear();
    expect(await stream.tick(3)).toBe(0);
    // Positive control: the sender still sends what comes after.
    stream.sender.setImage(grey(GREYS[4]));
    expect(await stream.tick(3)).toBe(1);
    expect(await stream.shown()).toEqual([GREYS[4]]);
  });
});
