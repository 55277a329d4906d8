/**
 * The parrot bot over real peers: VAD turns, RTVI speaking events, the utterance played back after the user stops,
 * and an interruption that silences the playback.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { parrotBot } from "../../lib/bots/parrot.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { decimate, findEcho, readWav, rms } from "../../scripts/support/audio.ts";
import { vadFixture } from "../../scripts/support/media.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

/** The fixture is 16 kHz; the client sends 48 kHz like a browser. */
async function speech48k(): Promise<Int16Array> {
  const { pcm } = readWav(await vadFixture("speech"));
  return Int16Array.from({ length: pcm.length * 3 }, (_, i) => pcm[Math.floor(i / 3)]);
}

function rtviTypes(client: TestClient): string[] {
  return client.received
    .filter((m): m is { label: string; type: string } => (m as { label?: string })?.label === "rtvi-ai")
    .map((m) => m.type);
}

/** The bot's audio, decoded at 16 kHz in timestamp order, with the arrival time of each 20 ms packet. */
function botAudio(client: TestClient) {
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const packets = [...client.audioIn].sort((a, b) => a.header.timestamp - b.header.timestamp);
  const pcm = new Int16Array(packets.length * 320);
  packets.forEach((packet, i) => pcm.set(decoder.decode(packet.payload), i * 320));
  decoder.free();
  return pcm;
}

async function connectParrot() {
  server = startTestServer({}, parrotBot);
  peer = new TestClient();
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
}

describe("parrot bot", () => {
  test("plays back what was said once the user stops, with RTVI speaking events", async () => {
    await connectParrot();
    const speech = await speech48k();
    // Speech (with its own leading and trailing silence), then 4 s of silence while the parrot answers.
    await peer.sendAudio(Int16Array.from({ length: speech.length + 48000 * 4 }, (_, i) => speech[i] ?? 0));
    await eventually(() => rtviTypes(peer).includes("bot-stopped-speaking"), 10_000, "the answer to finish playing");

    const types = rtviTypes(peer);
    expect(types).toContain("user-started-speaking");
    expect(types).toContain("user-stopped-speaking");
    expect(types.indexOf("bot-started-speaking")).toBeGreaterThan(types.indexOf("user-stopped-speaking"));

    const spoken = decimate(speech, 3);
    const heard = botAudio(peer);
    const match = findEcho(spoken, heard, 16000);
    expect(match.envelopeCorrelation).toBeGreaterThan(0.85);
    // The answer comes after the question: its lag is at least the speech's own length.
    expect(match.lag / 16000).toBeGreaterThan(2);
  }, 40_000);

  test("speaking again interrupts the playback", async () => {
    await connectParrot();
    const speech = await speech48k();
    const first = speech.subarray(0, speech.length - 48000); // drop most of the trailing silence
    // Talk, pause 1.2 s (the parrot starts answering after 0.8 s), then talk over it, then silence.
    const timeline = new Int16Array(first.length + 48000 * 1.2 + first.length + 48000 * 3);
    timeline.set(first, 0);
    timeline.set(first, first.length + 48000 * 1.2);
    await peer.sendAudio(timeline);
    // Let the second answer finish playing.
    const stopped = () => rtviTypes(peer).filter((t) => t === "bot-stopped-speaking").length;
    await eventually(() => stopped() >= 2, 10_000, "the second answer to finish playing");

    const types = rtviTypes(peer);
    const starts = types.filter((t) => t === "bot-started-speaking").length;
    const stops = types.filter((t) => t === "bot-stopped-speaking").length;
    expect(types.filter((t) => t === "user-started-speaking").length).toBe(2);
    expect(starts).toBeGreaterThanOrEqual(2);
    expect(stops).toBe(starts);

    // The first playback was cut short: the bot's audio holds less than two full utterances of sound.
    const heard = botAudio(peer);
    const voicedMs = (pcm: Int16Array) => {
      let ms = 0;
      for (let i = 0; i + 320 <= pcm.length; i += 320) if (rms(pcm.subarray(i, i + 320)) > 300) ms += 20;
      return ms;
    };
    expect(voicedMs(heard)).toBeLessThan(voicedMs(decimate(first, 3)) * 1.8);
  }, 50_000);
});
