/** The WAV decoder and the shipped mixer: decoding and its errors, the seamless loop, volume, clipping, settings. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeWav, encodeWav, WavError } from "../../lib/media/wav.ts";
import { WavLoopMixer } from "../../lib/media/wavLoopMixer.ts";
import { MixerUpdateSettingsFrame } from "../../lib/pipeline/frames.ts";

/**
 * `cycles` whole periods of a cosine at `hz`, so the file loops with no discontinuity of its own; it starts and ends
 * at its peak, where cutting the loop open would show most.
 */
function loopableTone(hz: number, rate: number, cycles: number, amplitude = 10000): Int16Array {
  const length = Math.round((rate * cycles) / hz);
  return Int16Array.from({ length }, (_, i) => Math.round(amplitude * Math.cos((2 * Math.PI * hz * i) / rate)));
}

/** Runs the mixer over silence, `frames` packets of `size`, and returns everything it added. */
function mixSilence(mixer: WavLoopMixer, frames: number, size: number): Int16Array {
  const out = new Int16Array(frames * size);
  for (let f = 0; f < frames; f++) {
    const frame = new Int16Array(size);
    mixer.mix(frame);
    out.set(frame, f * size);
  }
  return out;
}

function maxStep(pcm: Int16Array): number {
  let max = 0;
  for (let i = 1; i < pcm.length; i++) max = Math.max(max, Math.abs(pcm[i] - pcm[i - 1]));
  return max;
}

/** A WAV header with a chosen format tag and sample width around `data`. */
function wavWith(tag: number, bits: number, channels: number, data: Uint8Array, rate = 16000): Uint8Array {
  const wav = encodeWav(new Int16Array(0), rate, channels);
  const view = new DataView(wav.buffer);
  view.setUint16(20, tag, true);
  view.setUint16(34, bits, true);
  view.setUint32(40, data.length, true);
  const out = new Uint8Array(wav.length + data.length);
  out.set(wav);
  out.set(data, wav.length);
  return out;
}

describe("decodeWav", () => {
  test("16-bit mono as it is, stereo averaged, 8/24/32-bit and float scaled to 16 bits", () => {
    expect(decodeWav(encodeWav(Int16Array.of(1, -2, 32767), 22050))).toEqual({
      samples: Int16Array.of(1, -2, 32767),
      sampleRate: 22050,
    });
    const stereo = encodeWav(Int16Array.of(100, 300, -1000, -3000), 8000, 2);
    expect(decodeWav(stereo).samples).toEqual(Int16Array.of(200, -2000));
    expect(decodeWav(wavWith(1, 8, 1, Uint8Array.of(128, 255, 0))).samples).toEqual(Int16Array.of(0, 32512, -32768));
    expect(decodeWav(wavWith(1, 24, 1, Uint8Array.of(0x00, 0x10, 0x00, 0x00, 0x00, 0x80))).samples)
      .toEqual(Int16Array.of(16, -32768));
    const floats = new Uint8Array(Float32Array.of(0.5, -1).buffer);
    expect(decodeWav(wavWith(3, 32, 1, floats)).samples).toEqual(Int16Array.of(16384, -32768));
  });

  test("a file it cannot read is a WavError that says what is wrong", () => {
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode("ID3 this is an mp3"), /not a WAV file/],
      [encodeWav(Int16Array.of(1, 2, 3), 16000).subarray(0, 36), /no data chunk/],
      [wavWith(0x55, 16, 1, new Uint8Array(10)), /compressed \(format 0x0055\)/],
      [wavWith(1, 12, 1, new Uint8Array(10)), /12-bit PCM/],
      [encodeWav(Int16Array.of(1, 2, 3), 16000).subarray(0, 48), /says 6 bytes but only 4 follow/],
      [encodeWav(new Int16Array(0), 16000), /holds no samples/],
      [wavWith(1, 16, 0, new Uint8Array(4)), /0 channels/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => decodeWav(bytes)).toThrow(message);
      expect(() => decodeWav(bytes)).toThrow(WavError);
    }
  });
});

describe("WavLoopMixer", () => {
  test("at the file's own rate it adds the file, scaled by the volume, round and round", () => {
    const file = loopableTone(100, 16000, 3);
    const mixer = new WavLoopMixer(encodeWav(file, 16000), { volume: 0.5 });
    mixer.start(16000);
    const added = mixSilence(mixer, 7, 320);
    expect(added.length).toBeGreaterThan(2 * file.length);
    for (let i = 0; i < added.length; i++) expect(added[i]).toBe(Math.round(file[i % file.length] * 0.5));
  });

  test("resampled, the loop point is as smooth as the rest of the sound (no click)", () => {
    // 26 cycles of 200 Hz at 44.1 kHz (5733 samples) played at 16 kHz: the loop point falls mid-packet every 2080.
    const file = loopableTone(200, 44100, 26);
    const mixer = new WavLoopMixer(encodeWav(file, 44100), { volume: 1 });
    mixer.start(16000);
    const added = mixSilence(mixer, 40, 320);
    // A 200 Hz tone of amplitude 10000 at 16 kHz moves at most 2*pi*200/16000*10000 = 785 per sample.
    const steepest = (2 * Math.PI * 200 * 10000) / 16000;
    expect(maxStep(added)).toBeLessThan(steepest * 1.05);
    // And it is that tone throughout, continuing in phase across each loop point.
    const ideal = (i: number) => 10000 * Math.cos((2 * Math.PI * 200 * i) / 16000);
    let worst = 0;
    for (let i = 0; i < added.length; i++) worst = Math.max(worst, Math.abs(added[i] - ideal(i)));
    expect(worst).toBeLessThan(50);
  });

  test("started again at another rate (a renegotiated codec), it carries on from the same point", () => {
    const file = loopableTone(200, 16000, 20);
    const mixer = new WavLoopMixer(encodeWav(file, 16000), { volume: 1 });
    mixer.start(16000);
    mixSilence(mixer, 1, 410);
    mixer.start(48000);
    const added = mixSilence(mixer, 1, 960);
    // 410 samples in at 16 kHz is 1230 at 48 kHz: the tone goes on in phase.
    for (let i = 0; i < added.length; i++) {
      expect(Math.abs(added[i] - 10000 * Math.cos((2 * Math.PI * 200 * (1230 + i)) / 48000))).toBeLessThan(50);
    }
  });

  test("a volume change applies from the next packet on", () => {
    const mixer = new WavLoopMixer(encodeWav(loopableTone(100, 16000, 10), 16000), { volume: 0.8 });
    mixer.start(16000);
    const peak = (pcm: Int16Array) => Math.max(...pcm.map(Math.abs));
    const before = mixSilence(mixer, 1, 320);
    mixer.update({ volume: 0.2 });
    const after = mixSilence(mixer, 1, 320);
    expect(peak(before)).toBeGreaterThan(7900);
    expect(peak(after)).toBeGreaterThan(1900);
    expect(peak(after)).toBeLessThan(2001);
    expect(mixer.volume).toBe(0.2);
  });

  test("sums past the 16-bit range saturate instead of wrapping around", () => {
    const mixer = new WavLoopMixer(encodeWav(Int16Array.of(20000, -20000), 16000), { volume: 1 });
    mixer.start(16000);
    const frame = Int16Array.of(20000, -20000, 1000, -1000);
    mixer.mix(frame);
    expect([...frame]).toEqual([32767, -32768, 21000, -21000]);
  });

  test("disabled it adds nothing and keeps its place; without loop it stops at the end", () => {
    const file = Int16Array.of(1000, 2000, 3000, 4000);
    const mixer = new WavLoopMixer(encodeWav(file, 16000), { volume: 1, enabled: false });
    expect(mixer.audible).toBe(false);
    mixer.start(16000);
    expect([...mixSilence(mixer, 1, 2)]).toEqual([0, 0]);
    mixer.enabled = true;
    expect(mixer.audible).toBe(true);
    expect([...mixSilence(mixer, 1, 3)]).toEqual([1000, 2000, 3000]);
    mixer.update({ loop: false });
    expect([...mixSilence(mixer, 1, 3)]).toEqual([4000, 0, 0]);
    expect(mixer.audible).toBe(false);
    mixer.update({ loop: true });
    expect([...mixSilence(mixer, 1, 2)]).toEqual([1000, 2000]);
    mixer.stop();
    expect(mixer.audible).toBe(false);
    expect([...mixSilence(mixer, 1, 2)]).toEqual([0, 0]);
  });

  test("several sounds by name: the first plays, and the sound setting switches to another from its start", () => {
    const mixer = new WavLoopMixer(
      { rain: encodeWav(Int16Array.of(1, 2, 3), 16000), typing: encodeWav(Int16Array.of(10, 20), 16000) },
      { volume: 1 },
    );
    mixer.start(16000);
    expect(mixer.sound).toBe("rain");
    expect([...mixSilence(mixer, 1, 1)]).toEqual([1]);
    mixer.update({ sound: "typing" });
    expect([...mixSilence(mixer, 1, 5)]).toEqual([10, 20, 10, 20, 10]);
    expect(() => mixer.update({ sound: "birds", volume: 0.5 })).toThrow(
      'mixer sound: no sound named "birds" (this mixer has: rain, typing)',
    );
    // A rejected update changes nothing.
    expect(mixer.volume).toBe(1);
    expect(mixer.sound).toBe("typing");
    expect(new WavLoopMixer({ a: encodeWav(Int16Array.of(1), 8000), b: encodeWav(Int16Array.of(1), 8000) }, {
      sound: "b",
    }).sound).toBe("b");
    expect(() => new WavLoopMixer({ rain: encodeWav(Int16Array.of(1), 8000), bad: new Uint8Array(8) })).toThrow(
      "sound bad: not a WAV file (no RIFF/WAVE header)",
    );
    expect(() => new WavLoopMixer({})).toThrow("WavLoopMixer: no sounds given");
  });

  test("a volume outside 0..1 is a RangeError from the constructor, update() and the frame alike", () => {
    const wav = encodeWav(Int16Array.of(1), 16000);
    expect(() => new WavLoopMixer(wav, { volume: 1.5 })).toThrow("mixer volume: must be a number from 0 to 1, got 1.5");
    const mixer = new WavLoopMixer(wav);
    expect(mixer.volume).toBe(0.4);
    expect(() => mixer.update({ volume: -0.1 })).toThrow(RangeError);
    expect(() => mixer.update({ volume: Number.NaN })).toThrow(RangeError);
    expect(() => mixer.update({ loop: "yes" as never })).toThrow("mixer loop: must be true or false");
    expect(mixer.volume).toBe(0.4);
    expect(() => new MixerUpdateSettingsFrame({ volume: 2 })).toThrow(RangeError);
    expect(new MixerUpdateSettingsFrame({ volume: 1 }).settings).toEqual({ volume: 1 });
  });

  test("mixers made from the same bytes share one decoding", () => {
    const bytes = encodeWav(Int16Array.of(1000, 2000), 16000);
    new WavLoopMixer(bytes, { volume: 1 });
    bytes.fill(0, 44);
    const second = new WavLoopMixer(bytes, { volume: 1 });
    second.start(16000);
    expect([...mixSilence(second, 1, 2)]).toEqual([1000, 2000]);
  });

  test("fromFile names the file in every error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "swrtc-mixer-"));
    writeFileSync(join(dir, "song.mp3"), "ID3 not a wav");
    writeFileSync(join(dir, "tone.wav"), encodeWav(loopableTone(100, 8000, 2), 8000));
    await expect(WavLoopMixer.fromFile(join(dir, "song.mp3"))).rejects.toThrow(
      `${join(dir, "song.mp3")}: not a WAV file (no RIFF/WAVE header)`,
    );
    await expect(WavLoopMixer.fromFile(join(dir, "missing.wav"))).rejects.toThrow(
      `${join(dir, "missing.wav")}: cannot be read (ENOENT)`,
    );
    const mixer = await WavLoopMixer.fromFile(join(dir, "tone.wav"), { volume: 0.25 });
    expect(mixer.volume).toBe(0.25);
    await expect(WavLoopMixer.fromFile({ tone: join(dir, "tone.wav"), song: join(dir, "song.mp3") })).rejects.toThrow(
      `${join(dir, "song.mp3")}: not a WAV file (no RIFF/WAVE header)`,
    );
    expect((await WavLoopMixer.fromFile({ tone: join(dir, "tone.wav") })).sound).toBe("tone");
  });
});
