/**
 * An ESP32 device through the bridge: a werift peer with libpeer's traits (a=setup:passive, audio only) connects to a
 * server in ESP32 mode whose sessions are bridged to the test bot. The answer follows the ESP32 rules, as with any
 * bot, and the device's microphone reaches the bot as 20 ms frames, whose echo comes back to the device.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { bridgeBot } from "../../lib/bridge/bridgeBot.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { rms } from "../../scripts/support/audio.ts";
import { startTestBot, type TestBot } from "../../scripts/support/pipecatTestBot.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { createTwoHosts, type TwoHosts } from "../support/twoHosts.ts";

let hosts: TwoHosts | undefined;
let server: TestServer | undefined;
let bot: TestBot | undefined;
let device: TestClient | undefined;

afterEach(async () => {
  await device?.close();
  await server?.close();
  await bot?.stop();
  hosts?.close();
  device = server = bot = hosts = undefined;
});

describe("ESP32 mode through the bridge", () => {
  test("the device gets an ESP32 answer, its audio reaches the bot and the bot's echo comes back", async () => {
    hosts = createTwoHosts();
    bot = await startTestBot({ kind: "pipecat" });
    const run = bridgeBot({
      url: bot.url,
      headers: {},
      connectTimeoutSecs: 5,
      audioInSampleRate: 16000,
      audioOutSampleRate: 24000,
      audioOutLive: false,
      maxQueuedMs: 10_000,
    });
    // Gathering on loopback too gives the answer a candidate that the ESP32 rules leave out.
    const ice = { interfaces: [hosts.clientIp, "127.0.0.1"], loopback: "always" as const };
    server = startTestServer({ host: hosts.clientIp, esp32: true, ice }, run);
    device = new TestClient({ interfaces: [hosts.clientIp], media: [{ kind: "audio", direction: "sendrecv" }] });
    const { sdp } = await device.offer();
    const { status, body: answer } = await server.post("/api/offer", {
      sdp: sdp.replaceAll("a=setup:actpass", "a=setup:passive"),
      type: "offer",
    });
    expect(status).toBe(200);
    // The ESP32 rules: CRLF only, an uppercase SHA-256 fingerprint, host candidates on the configured IP alone.
    expect(answer.sdp).not.toMatch(/[^\r]\n/);
    expect(answer.sdp).toMatch(/^a=fingerprint:sha-256 [0-9A-F:]+\r$/m);
    const candidates = answer.sdp.split("\r\n").filter((line: string) => line.startsWith("a=candidate:"));
    expect(candidates.length).toBeGreaterThan(0);
    expect(answer.sdp).not.toContain(" 127.0.0.1 ");
    const onHostIp = (line: string) => line.includes(` ${hosts!.clientIp} `) && line.includes(" typ host");
    expect(candidates.every(onHostIp)).toBe(true);
    await device.accept(answer);
    await device.connected();

    const session = await bot.nextSession();
    const sample = (i: number) => Math.round(1e4 * Math.sin((2 * Math.PI * 300 * i) / 48e3));
    const tone = Int16Array.from({ length: 48000 }, (_, i) => sample(i));
    await device.sendAudio(tone);
    await eventually(() => session.audioFrames >= 45, 5000, "the device's audio at the bot");
    expect(session.audioSamples / session.audioFrames).toBe(320);
    const loudPackets = () => {
      const decoder = new OpusDecoder({ sampleRate: 24000, channels: 1 });
      try {
        return device!.audioIn.filter((packet) => rms(decoder.decode(packet.payload)) > 2000).length;
      } finally {
        decoder.free();
      }
    };
    await eventually(() => loudPackets() >= 40, 5000, "the echo at the device");
  }, 30_000);
});
