import { describe, expect, test } from "bun:test";
import { createAudioEncoder } from "../../lib/media/audioCodecs.ts";
import { EncoderComplexity, encoderComplexity } from "../../lib/media/encoderComplexity.ts";
import { OpusEncoder } from "../../lib/media/opus.ts";

describe("EncoderComplexity", () => {
  test("steps down one level per busy sample and back up once relaxed, with a dead band between", () => {
    const complexity = new EncoderComplexity();
    complexity.configure({ max: 5, adaptive: true });
    const seen = [0.8, 0.9, 0.95, 0.6, 0.7, 0.4, 0.6, 0.3, 0.2].map((load) => {
      complexity.observe(load);
      return complexity.current;
    });
    expect(seen).toEqual([3, 1, 1, 1, 1, 3, 3, 5, 5]);
  });

  test("a fixed configuration ignores load, and a low maximum is never exceeded", () => {
    const fixed = new EncoderComplexity();
    fixed.configure({ max: 7, adaptive: false });
    fixed.observe(1);
    expect(fixed.current).toBe(7);
    const low = new EncoderComplexity();
    low.configure({ max: 2, adaptive: true });
    low.observe(1);
    expect(low.current).toBe(1);
    low.observe(1);
    expect(low.current).toBe(1);
    low.observe(0);
    expect(low.current).toBe(2);
  });

  test("Opus encoders take a new complexity between frames", () => {
    const encoder = new OpusEncoder({ sampleRate: 16000, channels: 1, complexity: 5 });
    expect(encoder.complexity).toBe(5);
    encoder.encode(new Int16Array(320));
    encoder.setComplexity(1);
    expect(encoder.complexity).toBe(1);
    expect(encoder.encode(new Int16Array(320)).length).toBeGreaterThan(0);
    encoder.free();
  });

  test("audio encoders follow the process-wide setting from their next frame", () => {
    const spied: number[] = [];
    const original = OpusEncoder.prototype.setComplexity;
    OpusEncoder.prototype.setComplexity = function (this: OpusEncoder, value: number) {
      spied.push(value);
      original.call(this, value);
    };
    try {
      encoderComplexity.configure({ max: 5, adaptive: true });
      const encoder = createAudioEncoder({ mimeType: "audio/opus", clockRate: 48000, channels: 2 }, 16000);
      encoder.encode(new Int16Array(320));
      encoderComplexity.observe(0.9);
      encoder.encode(new Int16Array(320));
      encoder.encode(new Int16Array(320));
      expect(spied).toEqual([3]);
      encoder.free();
    } finally {
      OpusEncoder.prototype.setComplexity = original;
      encoderComplexity.stop();
    }
  });
});
