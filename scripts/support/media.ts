// Fake capture media for Chromium (--use-file-for-fake-{audio,video}-capture), generated once
// into .cache/media. Chromium loops both files, so a few seconds of each is enough.
import { existsSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "./paths.ts";

const SPEECH_TEXT = "Hello from the small web R T C test harness. Can you hear me?";

export interface VideoSpec {
  width: number;
  height: number;
  fps: number;
  seconds: number;
}

const DEFAULT_VIDEO: VideoSpec = { width: 320, height: 240, fps: 15, seconds: 2 };

let speech: Promise<string> | undefined;
let video: Promise<string> | undefined;

/** 48 kHz mono 16-bit WAV of espeak-ng speech: the format Chromium's fake mic expects. */
export function speechWav(): Promise<string> {
  speech ??= cached("speech.wav", async (out) => {
    const raw = `${out}.espeak.wav`;
    run(["espeak-ng", "-s", "150", "-w", raw, SPEECH_TEXT]);
    // `-t wav`: the temp name has no .wav extension for sox to infer the format from.
    run(["sox", raw, "-t", "wav", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", out, "pad", "0", "0.5"]);
    await Bun.file(raw).delete();
  });
  return speech;
}

/** The speech WAV with 1.5 s of silence before (while the call connects) and 4 s after (a turn for the bot). */
export function turnSpeechWav(): Promise<string> {
  return cached("turn-speech.wav", async (out) => {
    run(["sox", await speechWav(), "-t", "wav", out, "pad", "1.5", "4"]);
  });
}

/** What the user says to the assistant in the browser tests: a question, then (after its answer has begun) more. */
export const ASSISTANT_QUESTION = "What is the capital of France?";
export const ASSISTANT_INTERRUPTION = "Sorry, one more thing.";

/**
 * 48 kHz mono WAV for the assistant in the browser: half a second of silence, the question, 6 s of silence (the
 * answer begins), the interruption spoken over the answer, then 3 s of silence.
 */
export function assistantTurnsWav(): Promise<string> {
  return cached("assistant-turns.wav", async (out) => {
    const [question, interruption, padded] = [`${out}.q.wav`, `${out}.i.wav`, `${out}.qp.wav`];
    run(["espeak-ng", "-s", "150", "-w", question, ASSISTANT_QUESTION]);
    run(["espeak-ng", "-s", "150", "-w", interruption, ASSISTANT_INTERRUPTION]);
    run(["sox", question, "-t", "wav", padded, "pad", "0.5", "6"]);
    run(["sox", padded, interruption, "-t", "wav", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", out,
      "pad", "0", "3"]);
    for (const file of [question, interruption, padded]) await Bun.file(file).delete();
  });
}

/** Pitch of the background sound in the mixer tests; the speech they echo has none of it (see below). */
export const BACKGROUND_TONE_HZ = 440;

/**
 * A background sound for the mixer tests: 2 s of a 440 Hz sine at half of full scale, 44.1 kHz mono 16-bit (so the
 * server resamples it). 880 whole cycles: it loops without a seam of its own.
 */
export function backgroundToneWav(): Promise<string> {
  return cached("background-440.wav", async (out) => {
    run(["sox", "-n", "-t", "wav", "-r", "44100", "-c", "1", "-b", "16", "-e", "signed-integer", out,
      "synth", "2", "sine", String(BACKGROUND_TONE_HZ), "vol", "0.5"]);
  });
}

/**
 * The speech WAV with the background's pitch notched out (twice, for depth), then 2.5 s of silence; Chromium loops
 * it. Energy at 440 Hz in the echo of it is the mixer's, during the speech as between.
 */
export function speechWithout440Wav(): Promise<string> {
  return cached("speech-without-440.wav", async (out) => {
    const notch = ["bandreject", String(BACKGROUND_TONE_HZ), "60h"];
    run(["sox", await speechWav(), "-t", "wav", out, ...notch, ...notch, "pad", "0", "2.5"]);
  });
}

export type VadFixture = "speech" | "silence" | "noise";

/**
 * 16 kHz mono WAVs for VAD tests. "speech": 1 s of digital silence, espeak-ng speech, then 1.5 s of silence.
 * "silence": 3 s of zeros. "noise": 3 s of white noise at -30 dBFS (louder than any room, and not voice).
 */
export function vadFixture(kind: VadFixture): Promise<string> {
  return cached(`vad-${kind}.wav`, async (out) => {
    const format = ["-t", "wav", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"];
    if (kind === "speech") {
      const raw = `${out}.espeak.wav`;
      run(["espeak-ng", "-s", "150", "-w", raw, SPEECH_TEXT]);
      run(["sox", raw, ...format, out, "pad", "1", "1.5"]);
      await Bun.file(raw).delete();
    } else if (kind === "silence") {
      run(["sox", "-n", ...format, out, "trim", "0", "3"]);
    } else {
      run(["sox", "-n", ...format, out, "synth", "3", "whitenoise", "vol", "-30", "dB"]);
    }
  });
}

/**
 * 48 kHz mono WAV of pink noise at -33 dBFS RMS, 4 s: steady background noise (a fan, a room), as RNNoise learned it.
 * `sox -R` seeds its generator, so every machine makes the same noise.
 */
export function pinkNoiseWav(): Promise<string> {
  return cached("pink-noise.wav", async (out) => {
    run(["sox", "-R", "-n", "-t", "wav", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", out,
      "synth", "4", "pinknoise", "vol", "-20", "dB"]);
  });
}

/**
 * 48 kHz mono WAV of speech in noise, for noise suppression: 1 s of pause, the speech WAV, 1.5 s of pause, all over
 * pink noise at -33 dBFS RMS (about 12 dB under the speech), so the pauses hold the noise alone.
 */
export function noisySpeechWav(): Promise<string> {
  return cached("noisy-speech.wav", async (out) => {
    const [padded, noise] = [`${out}.speech.wav`, `${out}.noise.wav`];
    run(["sox", await speechWav(), "-t", "wav", padded, "pad", "1", "1.5"]);
    // synth on an input file makes noise of that file's length and format.
    run(["sox", "-R", padded, "-t", "wav", noise, "synth", "pinknoise", "vol", "-20", "dB"]);
    run(["sox", "-m", "-v", "1", padded, "-v", "1", noise, "-t", "wav", out]);
    for (const file of [padded, noise]) await Bun.file(file).delete();
  });
}

/** Small 4:2:0 y4m with a moving pattern, so received video has frames that actually change. */
export function videoY4m(): Promise<string> {
  video ??= cached("video.y4m", (out) => writeFile(out, y4m(DEFAULT_VIDEO)));
  return video;
}

/** Encodes a y4m clip: a scrolling luma gradient, a square sliding across, and a rotating tint. */
export function y4m({ width, height, fps, seconds }: VideoSpec): Uint8Array {
  if (width % 2 || height % 2) throw new Error("y4m 4:2:0 needs even dimensions");
  const header = new TextEncoder().encode(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
  const frameTag = new TextEncoder().encode("FRAME\n");
  const lumaSize = width * height;
  const chromaSize = lumaSize / 4;
  const frameCount = fps * seconds;
  const frameSize = frameTag.length + lumaSize + 2 * chromaSize;
  const out = new Uint8Array(header.length + frameCount * frameSize);
  out.set(header, 0);

  const box = Math.floor(height / 4);
  for (let f = 0; f < frameCount; f++) {
    const base = header.length + f * frameSize;
    out.set(frameTag, base);
    const y = base + frameTag.length;
    const boxX = Math.floor(((width - box) * f) / Math.max(1, frameCount - 1));
    const boxY = Math.floor((height - box) / 2);
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const inBox = col >= boxX && col < boxX + box && row >= boxY && row < boxY + box;
        out[y + row * width + col] = inBox ? 235 : 16 + ((col + row + f * 8) % 200);
      }
    }
    // The tint circles the colour wheel once per loop.
    const angle = (2 * Math.PI * f) / frameCount;
    const u = y + lumaSize;
    out.fill(Math.round(128 + 60 * Math.sin(angle)), u, u + chromaSize);
    out.fill(Math.round(128 + 60 * Math.cos(angle)), u + chromaSize, u + 2 * chromaSize);
  }
  return out;
}

/** Produces `<cache>/media/name` once; writes to a temp file first so a parallel run never reads half a file. */
async function cached(name: string, make: (path: string) => Promise<void>): Promise<string> {
  const path = join(await cacheDir("media"), name);
  if (existsSync(path)) return path;
  const tmp = `${path}.${process.pid}.tmp`;
  await make(tmp);
  await rename(tmp, path);
  return path;
}

function run(cmd: string[]): void {
  const result = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe" });
  if (!result.success) throw new Error(`${cmd[0]} failed: ${result.stderr.toString().trim()}`);
}
