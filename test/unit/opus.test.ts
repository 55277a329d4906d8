import { describe, expect, test } from "bun:test";
import {
  OpusDecoder,
  OpusEncoder,
  type OpusEncoderOptions,
  OpusError,
  type OpusSampleRate,
  opusHeapBytes,
  warmUpOpus,
} from "../../lib/media/opus.ts";

/**
 * Deterministic speech-like audio: a harmonic series on a gliding pitch, shaped by three formants (what LPC-based
 * SILK models, so it codes as well as real voice does) and a syllable envelope, plus a little breath noise made of
 * fixed random sinusoids. Everything is below 4 kHz and defined in continuous time, so the same signal can be sampled
 * at 16 and 48 kHz and compared across rates.
 */
function speechLike(sampleRate: number, seconds: number, pitchOffset = 0): Int16Array {
  const key = `${sampleRate}/${seconds}/${pitchOffset}`;
  const cached = synthesised.get(key);
  if (cached) return cached;
  const out = new Int16Array(Math.round(sampleRate * seconds));
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const breath = Array.from({ length: 24 }, () => ({ hz: 300 + random() * 3600, phase: random() * 2 * Math.PI }));
  const formants = [[500, 150, 1], [1500, 200, 0.5], [2500, 250, 0.25]];
  const gain = (hz: number) =>
    0.05 + formants.reduce((sum, [center, width, level]) => sum + level * Math.exp(-(((hz - center) / width) ** 2)), 0);
  // Pitch f(t) = base + 30 sin(2 pi 0.7 t) + 5 sin(2 pi 2.3 t); the phase is its integral, continuous at any rate.
  const base = 110 + pitchOffset;
  const glides = [[30, 0.7], [5, 2.3]];
  for (let i = 0; i < out.length; i++) {
    const t = i / sampleRate;
    let pitch = base;
    let cycles = base * t;
    for (const [depth, hz] of glides) {
      pitch += depth * Math.sin(2 * Math.PI * hz * t);
      cycles += (depth * (1 - Math.cos(2 * Math.PI * hz * t))) / (2 * Math.PI * hz);
    }
    let voiced = 0;
    for (let k = 1; k * pitch < 3800; k++) voiced += (Math.sin(2 * Math.PI * k * cycles) / k) * gain(k * pitch);
    let noise = 0;
    for (const { hz, phase } of breath) noise += Math.sin(2 * Math.PI * hz * t + phase);
    const syllable = 0.15 + 0.85 * Math.sin(Math.PI * ((t * 3.5) % 1)) ** 2;
    out[i] = Math.round(syllable * (7000 * voiced + 80 * noise));
  }
  synthesised.set(key, out);
  return out;
}
const synthesised = new Map<string, Int16Array>();

function interleave(left: Int16Array, right: Int16Array): Int16Array {
  const out = new Int16Array(left.length * 2);
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = left[i];
    out[2 * i + 1] = right[i];
  }
  return out;
}

function channel(pcm: Int16Array, index: number, channels: number): Int16Array {
  return pcm.filter((_, i) => i % channels === index);
}

function encodeAll(encoder: OpusEncoder, pcm: Int16Array, frameMs = 20): Uint8Array[] {
  const frame = ((encoder.sampleRate * frameMs) / 1000) * encoder.channels;
  const packets: Uint8Array[] = [];
  for (let offset = 0; offset + frame <= pcm.length; offset += frame) {
    packets.push(encoder.encode(pcm.subarray(offset, offset + frame)));
  }
  return packets;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function correlation(reference: Int16Array, output: Int16Array, lag: number, start = 0, end = reference.length) {
  let rr = 0;
  let oo = 0;
  let ro = 0;
  for (let i = start; i < end && i + lag < output.length; i++) {
    const r = reference[i];
    const o = output[i + lag];
    rr += r * r;
    oo += o * o;
    ro += r * o;
  }
  return ro / Math.sqrt(rr * oo || 1);
}

/**
 * Finds the codec delay as the lag (in output samples, up to 12.5 ms) with the highest normalised cross-correlation
 * over the first 1.5 s, then reports the correlation at that lag over the whole signal.
 */
function align(reference: Int16Array, output: Int16Array, sampleRate: number): { lag: number; corr: number } {
  const maxLag = sampleRate / 80;
  const window = Math.min(reference.length - maxLag, sampleRate * 1.5);
  let lag = 0;
  let best = -1;
  for (let candidate = 0; candidate <= maxLag; candidate++) {
    const corr = correlation(reference, output, candidate, 0, window);
    if (corr > best) [lag, best] = [candidate, corr];
  }
  const corr = correlation(reference, output, lag);
  return { lag, corr };
}

function rms(pcm: Int16Array): number {
  return Math.sqrt(pcm.reduce((sum, x) => sum + x * x, 0) / Math.max(1, pcm.length));
}

function roundTrip(options: OpusEncoderOptions, pcm: Int16Array, decodeRate: OpusSampleRate = options.sampleRate) {
  const encoder = new OpusEncoder(options);
  const decoder = new OpusDecoder({ sampleRate: decodeRate, channels: options.channels });
  try {
    const packets = encodeAll(encoder, pcm);
    return { packets, output: concat(packets.map((packet) => decoder.decode(packet))), lookahead: encoder.lookahead };
  } finally {
    encoder.free();
    decoder.free();
  }
}

function kbps(packets: Uint8Array[], frameMs = 20): number {
  return (packets.reduce((n, packet) => n + packet.length, 0) * 8) / (packets.length * frameMs);
}

describe("Opus round trip", () => {
  test("48 kHz mono, 20 ms frames: aligned at the encoder lookahead, correlated, at the target bitrate", () => {
    const input = speechLike(48000, 3);
    const { packets, output, lookahead } = roundTrip({ sampleRate: 48000, channels: 1 }, input);
    expect(packets).toHaveLength(150);
    expect(output.length).toBe(input.length);
    expect(lookahead).toBe(312);
    const { lag, corr } = align(input, output, 48000);
    // SILK's share of hybrid mode comes out a few samples early of the nominal 312.
    expect(Math.abs(lag - lookahead)).toBeLessThanOrEqual(6);
    expect(corr).toBeGreaterThan(0.93);
    for (const packet of packets) {
      expect(packet.length).toBeGreaterThan(2);
      expect(packet.length).toBeLessThan(200);
    }
    expect(kbps(packets)).toBeGreaterThan(24);
    expect(kbps(packets)).toBeLessThan(40);
  });

  test("48 kHz stereo keeps the two channels apart", () => {
    const left = speechLike(48000, 3);
    const right = speechLike(48000, 3, 45);
    const { output } = roundTrip({ sampleRate: 48000, channels: 2, bitrate: 64000 }, interleave(left, right));
    expect(output.length).toBe(left.length * 2);
    const decodedLeft = channel(output, 0, 2);
    const decodedRight = channel(output, 1, 2);
    const { lag, corr } = align(left, decodedLeft, 48000);
    expect(corr).toBeGreaterThan(0.93);
    expect(correlation(right, decodedRight, lag, 0, right.length)).toBeGreaterThan(0.93);
    // The channels differ, so a swapped or downmixed decode would fail this.
    expect(correlation(left, decodedRight, lag, 0, left.length)).toBeLessThan(0.5);
  });

  test("16 kHz mono, the ESP32 case", () => {
    const input = speechLike(16000, 3);
    const { packets, output, lookahead } = roundTrip({ sampleRate: 16000, channels: 1, bitrate: 24000 }, input);
    expect(output.length).toBe(input.length);
    const { lag, corr } = align(input, output, 16000);
    expect(Math.abs(lag - lookahead)).toBeLessThanOrEqual(2);
    expect(corr).toBeGreaterThan(0.93);
    expect(kbps(packets)).toBeLessThan(30);
  });

  test("packets are rate-independent: 16 kHz packets decode at 48 kHz and vice versa", () => {
    const up = roundTrip({ sampleRate: 16000, channels: 1 }, speechLike(16000, 3), 48000);
    const reference48 = speechLike(48000, 3);
    expect(up.output.length).toBe(reference48.length);
    expect(align(reference48, up.output, 48000).corr).toBeGreaterThan(0.93);

    const down = roundTrip({ sampleRate: 48000, channels: 1 }, reference48, 16000);
    const reference16 = speechLike(16000, 3);
    expect(down.output.length).toBe(reference16.length);
    expect(align(reference16, down.output, 16000).corr).toBeGreaterThan(0.93);
  });

  test("a mono decoder takes stereo packets (what browsers negotiate as opus/48000/2)", () => {
    const left = speechLike(48000, 3);
    const { packets } = roundTrip({ sampleRate: 48000, channels: 2, bitrate: 64000 }, interleave(left, left));
    const decoder = new OpusDecoder({ sampleRate: 48000, channels: 1 });
    const output = concat(packets.map((packet) => decoder.decode(packet)));
    decoder.free();
    expect(output.length).toBe(left.length);
    expect(align(left, output, 48000).corr).toBeGreaterThan(0.93);
  });

  test("with DTX, silence becomes 1-byte packets that still decode to whole frames", () => {
    const { packets, output } = roundTrip({ sampleRate: 48000, channels: 1, dtx: true }, new Int16Array(48000));
    // After ~200 ms of silence only a comfort-noise update every 400 ms is a real packet.
    const settled = packets.slice(10);
    expect(settled.filter((packet) => packet.length === 1).length).toBeGreaterThanOrEqual(settled.length - 2);
    expect(output).toHaveLength(48000);
  });
});

describe("Opus loss handling", () => {
  const input = speechLike(48000, 3);

  test("conceal() fills the gap with the right number of non-silent samples", () => {
    const { packets } = roundTrip({ sampleRate: 48000, channels: 1 }, input);
    const decoder = new OpusDecoder({ sampleRate: 48000, channels: 1 });
    const before = packets.slice(0, 50).map((packet) => decoder.decode(packet));
    const concealed = decoder.conceal(960);
    expect(concealed).toHaveLength(960);
    expect(rms(concealed)).toBeGreaterThan(0.2 * rms(before[49]));
    expect(decoder.conceal(240)).toHaveLength(240);
    // Decoding carries on normally afterwards.
    expect(decoder.decode(packets[52])).toHaveLength(960);
    // libopus only conceals whole multiples of 2.5 ms.
    expect(() => decoder.conceal(1000)).toThrow(OpusError);
    decoder.free();

    const narrow = new OpusDecoder({ sampleRate: 16000, channels: 1 });
    narrow.decode(packets[0]);
    expect(narrow.conceal(320)).toHaveLength(320);
    narrow.free();
  });

  /** Decodes with every 7th packet lost, recovered by `recover`; returns the recovered frames by index. */
  function recoverLosses(packets: Uint8Array[], recover: "fec" | "conceal" | "none"): Map<number, Int16Array> {
    const decoder = new OpusDecoder({ sampleRate: 48000, channels: 1 });
    const frames = new Map<number, Int16Array>();
    packets.forEach((packet, i) => {
      const lost = i % 7 === 5 && i + 1 < packets.length;
      let frame: Int16Array;
      if (!lost || recover === "none") frame = decoder.decode(packet);
      else if (recover === "fec") frame = decoder.decodeFec(packets[i + 1], 960);
      else frame = decoder.conceal(960);
      if (lost) frames.set(i, frame);
    });
    decoder.free();
    return frames;
  }

  /** SNR in dB of the recovered frames against what the decoder would have produced with no loss at all. */
  function recoverySnr(reference: Map<number, Int16Array>, recovered: Map<number, Int16Array>): number {
    let signal = 0;
    let error = 0;
    for (const [i, frame] of reference) {
      const other = recovered.get(i)!;
      expect(other).toHaveLength(frame.length);
      for (let k = 0; k < frame.length; k++) {
        signal += frame[k] ** 2;
        error += (frame[k] - other[k]) ** 2;
      }
    }
    return 10 * Math.log10(signal / error);
  }

  test("decodeFec() recovers lost frames from the next packet's in-band FEC, far better than concealment", () => {
    const { packets } = roundTrip({ sampleRate: 48000, channels: 1, inbandFec: true, packetLossPercent: 20 }, input);
    const reference = recoverLosses(packets, "none");
    expect(reference.size).toBe(21);
    const fec = recoverySnr(reference, recoverLosses(packets, "fec"));
    const concealed = recoverySnr(reference, recoverLosses(packets, "conceal"));
    // Measured: FEC about 10 dB, concealment under 2 dB.
    expect(fec).toBeGreaterThan(6);
    expect(concealed).toBeLessThan(4);
  });

  test("without FEC in the stream, decodeFec() falls back to exactly what conceal() produces", () => {
    const { packets } = roundTrip({ sampleRate: 48000, channels: 1 }, input);
    expect(recoverLosses(packets, "fec")).toEqual(recoverLosses(packets, "conceal"));
  });
});

describe("Opus errors and lifetime", () => {
  function opusError(action: () => unknown): OpusError {
    try {
      action();
    } catch (error) {
      expect(error).toBeInstanceOf(OpusError);
      return error as OpusError;
    }
    throw new Error("expected an OpusError");
  }

  test("bad arguments and invalid packets raise OpusError with the libopus message", () => {
    const encoder = new OpusEncoder({ sampleRate: 48000, channels: 1 });
    const decoder = new OpusDecoder({ sampleRate: 48000, channels: 1 });
    const badFrame = opusError(() => encoder.encode(new Int16Array(1000)));
    expect(badFrame.code).toBe(-1);
    expect(badFrame.message).toBe("encode: invalid argument");
    const stereo = new OpusEncoder({ sampleRate: 48000, channels: 2 });
    expect(opusError(() => stereo.encode(new Int16Array(1921))).code).toBe(-1);
    stereo.free();
    // Code 3 packet (TOC 0x03) announcing zero frames: malformed per RFC 6716 section 3.2.5.
    const invalid = opusError(() => decoder.decode(Uint8Array.of(0x03, 0x00)));
    expect(invalid.code).toBe(-4);
    expect(invalid.message).toBe("decode: corrupted stream");
    expect(opusError(() => decoder.decode(new Uint8Array(0))).code).toBe(-1);
    expect(opusError(() => new OpusEncoder({ sampleRate: 44100 as OpusSampleRate, channels: 1 })).code).toBe(-1);
    expect(opusError(() => new OpusEncoder({ sampleRate: 48000, channels: 1, complexity: 11 })).code).toBe(-1);

    encoder.free();
    decoder.free();
    encoder.free();
    expect(opusError(() => encoder.encode(new Int16Array(960))).code).toBe(-6);
    expect(opusError(() => decoder.decode(Uint8Array.of(0xf8, 0xff, 0xfe))).code).toBe(-6);
  });

  test("200 encoders and decoders are created and freed without the shared heap growing", () => {
    const cycle = () => {
      const encoders = Array.from({ length: 200 }, () => new OpusEncoder({ sampleRate: 48000, channels: 1 }));
      const decoders = Array.from({ length: 200 }, () => new OpusDecoder({ sampleRate: 48000, channels: 2 }));
      // Use every state once, so a shared-scratch or aliasing bug would show up as garbage or an error.
      const frame = speechLike(48000, 0.02);
      for (let i = 0; i < 200; i++) expect(decoders[i].decode(encoders[i].encode(frame))).toHaveLength(1920);
      for (const codec of [...encoders, ...decoders]) codec.free();
    };
    cycle();
    const settled = opusHeapBytes();
    // One cycle holds about 200 * (43 + 27) kB = 14 MB; if free() leaked, five more would grow the heap by 70 MB.
    for (let i = 0; i < 5; i++) cycle();
    expect(opusHeapBytes()).toBe(settled);
  });

  test("warmUpOpus() leaves nothing allocated", () => {
    warmUpOpus(20);
    const settled = opusHeapBytes();
    warmUpOpus(50);
    expect(opusHeapBytes()).toBe(settled);
  });
});
