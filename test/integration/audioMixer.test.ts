/**
 * TransportParams audioOutMixer seen from a real werift peer: the background is on the wire while the bot is silent,
 * the bot's audio goes on top of it, an interruption stops the bot and not the background, and mixer frames pushed
 * down the pipeline change it mid-call, as measured on the decoded audio.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILT_IN_BOT_FUNCTIONS } from "../../lib/bots/builtInBots.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { encodeWav } from "../../lib/media/wav.ts";
import { WavLoopMixer } from "../../lib/media/wavLoopMixer.ts";
import {
  InterruptionFrame,
  MixerEnableFrame,
  MixerUpdateSettingsFrame,
  OutputAudioRawFrame,
} from "../../lib/pipeline/frames.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import { toneAmplitude } from "../../scripts/support/audio.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, testConfig, type TestServer } from "../support/testServer.ts";
import { repoRoot } from "../../scripts/support/paths.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

const BACKGROUND_HZ = 440;
const BOT_HZ = 1000;
/** The background file: one second of 440 Hz at 16000 (about half of full scale), 44.1 kHz stereo, as music comes. */
const BACKGROUND = (() => {
  const stereo = new Int16Array(44100 * 2);
  for (let i = 0; i < 44100; i++) stereo[2 * i] = stereo[2 * i + 1] = 16000 * Math.sin((2 * Math.PI * 440 * i) / 44100);
  return encodeWav(stereo, 44100, 2);
})();

function botTone(ms: number): OutputAudioRawFrame {
  const samples = Int16Array.from({ length: 24 * ms }, (_, i) => 8000 * Math.sin((2 * Math.PI * BOT_HZ * i) / 24000));
  return new OutputAudioRawFrame(samples, 24000);
}

async function connectBot(mixer: WavLoopMixer): Promise<PipelineTask> {
  let task: PipelineTask | undefined;
  server = startTestServer({}, async ({ webrtcConnection }) => {
    const transport = new SmallWebRTCTransport(webrtcConnection, { audioOutEnabled: true, audioOutMixer: mixer });
    task = new PipelineTask(new Pipeline([transport.input(), transport.output()]));
    transport.on("clientDisconnected", () => task!.cancel());
    await task.run();
  });
  await connectPeer();
  await eventually(() => task, 5000, "the bot's pipeline");
  return task!;
}

async function connectPeer(): Promise<void> {
  peer = new TestClient();
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
}

/** Levels at both pitches of every packet received so far, in sending order, decoded at 16 kHz. */
function levels(): { background: number; bot: number }[] {
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const packets = [...peer.audioIn].sort((a, b) => a.header.timestamp - b.header.timestamp);
  const result = packets.map(({ payload }) => {
    const pcm = decoder.decode(payload);
    return { background: toneAmplitude(pcm, BACKGROUND_HZ, 16000), bot: toneAmplitude(pcm, BOT_HZ, 16000) };
  });
  decoder.free();
  return result;
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

/** Waits for `count` more packets than `since`, and returns the levels of those after `since` (skipping `skip`). */
async function nextPackets(since: number, count: number, skip = 2) {
  await eventually(() => peer.audioIn.length >= since + count, 10_000, `${count} more bot audio packets`);
  return levels().slice(since + skip, since + count);
}

describe("audioOutMixer", () => {
  test("the background plays while the bot is silent, under its speech, and through an interruption", async () => {
    const task = await connectBot(new WavLoopMixer(BACKGROUND, { volume: 0.5 }));
    // Bot silent: the background alone, at half its 16000.
    const silent = await nextPackets(5, 25);
    expect(median(silent.map((p) => p.background))).toBeGreaterThan(6500);
    expect(median(silent.map((p) => p.background))).toBeLessThan(9500);
    expect(Math.max(...silent.map((p) => p.bot))).toBeLessThan(300);

    // Bot speech: 5 s of 1 kHz on top of the background; the user interrupts a second into it.
    await task.queueFrame(botTone(5000));
    const speaking = await eventually(() => {
      const all = levels();
      const start = all.findIndex((p) => p.bot > 6000);
      return start >= 0 && all.length >= start + 30 && all.slice(start + 2, start + 30);
    }, 10_000, "a second of the bot's speech");
    expect(speaking.every((p) => p.bot > 6000 && p.background > 6500)).toBe(true);
    await task.queueFrame(new InterruptionFrame());
    const interruptedAt = peer.audioIn.length;
    // Judged 0.3-0.9 s after it, well inside the speech it cut (so an ignored interruption fails), and past the odd
    // packet that arrives late on a loaded machine; nine in ten must be silent.
    const after = await nextPackets(interruptedAt, 45, 15);
    expect(after.filter((p) => p.bot < 300).length).toBeGreaterThanOrEqual(0.9 * after.length);
    expect(after.every((p) => p.background > 6500)).toBe(true);
  }, 30_000);

  test("MixerUpdateSettingsFrame changes the volume mid-call, MixerEnableFrame turns it off and on", async () => {
    const mixer = new WavLoopMixer(BACKGROUND, { volume: 0.5 });
    const task = await connectBot(mixer);
    const loud = median((await nextPackets(5, 20)).map((p) => p.background));
    expect(loud).toBeGreaterThan(6500);

    await task.queueFrame(new MixerUpdateSettingsFrame({ volume: 0.1 }));
    const quieter = median((await nextPackets(peer.audioIn.length, 20, 5)).map((p) => p.background));
    expect(quieter / loud).toBeGreaterThan(0.15);
    expect(quieter / loud).toBeLessThan(0.25);

    await task.queueFrame(new MixerEnableFrame(false));
    const off = await nextPackets(peer.audioIn.length, 20, 5);
    expect(Math.max(...off.map((p) => p.background))).toBeLessThan(100);

    await task.queueFrame(new MixerEnableFrame(true));
    const on = median((await nextPackets(peer.audioIn.length, 20, 5)).map((p) => p.background));
    expect(on / quieter).toBeGreaterThan(0.8);
    expect(on / quieter).toBeLessThan(1.25);

    // The client leaves: the session's end releases the sound.
    expect(mixer.audible).toBe(true);
    await peer.close();
    await eventually(() => !mixer.audible, 5000, "the mixer stopped with the session");
  }, 30_000);
});

describe("the config's audio.mixer", () => {
  function backgroundFile(bytes: Uint8Array | string): string {
    const path = join(mkdtempSync(join(tmpdir(), "swrtc-mixer-")), "background.wav");
    writeFileSync(path, bytes);
    return path;
  }

  test("its file plays under the built-in echo bot, at its volume", async () => {
    const config = testConfig({ audio: { mixer: { file: backgroundFile(BACKGROUND), volume: 0.25 } } });
    server = startTestServer({}, BUILT_IN_BOT_FUNCTIONS.echo(config, {}));
    await connectPeer();
    const heard = median((await nextPackets(5, 20)).map((p) => p.background));
    expect(heard).toBeGreaterThan(3200);
    expect(heard).toBeLessThan(4800);
  }, 30_000);

  test("a bad file stops start-up with one line naming the key and the file, exit code 2", () => {
    const path = backgroundFile("ID3 an mp3, not a wav");
    const run = (file: string) =>
      Bun.spawnSync([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts"), "--port", "0"], {
        env: { PATH: process.env.PATH!, SMALLWEBRTC_AUDIO_MIXER_FILE: file },
        timeout: 20_000,
      });
    const bad = run(path);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toBe(`smallwebrtc: audio.mixer.file ${path}: not a WAV file (no RIFF/WAVE header)\n`);
    const missing = run("/nonexistent/background.wav");
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.toString()).toBe(
      "smallwebrtc: audio.mixer.file /nonexistent/background.wav: cannot be read (ENOENT)\n",
    );
  }, 30_000);
});
