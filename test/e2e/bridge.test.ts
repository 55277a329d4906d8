/**
 * The bridge with the official Pipecat web client in Chromium: `scripts/start --bot ws://...` bridges every session to
 * the test bot (scripts/support/pipecatTestBot.ts), which reads and writes frames with the official serializer. The
 * client reaches bot-ready (answered by the bot itself), hears the bot's echo of its speech, and stops hearing the
 * bot's speech within one packet of the bot's interruption, though seconds of it were still queued.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { REQUEST_DATA_HEADER } from "../../lib/bridge/upgradeHeaders.ts";
import { metricSample } from "../../scripts/benchmarks/servers.ts";
import { speechWav } from "../../scripts/support/media.ts";
import { startTestBot, type TestBot } from "../../scripts/support/pipecatTestBot.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, startProbe } from "./support/probe.ts";
import type { AudioFrameArrival } from "./support/probeTypes.ts";
import { expectSpeechEchoed, explainProbe } from "./support/servingChecks.ts";

let bot: TestBot;
let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  bot = await startTestBot({ kind: "pipecat" });
  server = await startServerProcess({ args: ["--bot", bot.url] });
  browser = await launchBrowser({ audioFile: await speechWav() });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await bot?.stop();
});

/** Opus frames of the bot's loud tone are tens of bytes; the silence the sender fills gaps with is a few. */
const LOUD_FRAME_BYTES = 50;

async function queuedForClientSecs(): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  return metricSample(metrics, "smallwebrtc_bridge_queued_audio_seconds", 'direction="to_client"') ?? Number.NaN;
}

/**
 * When the server sent each frame, by its own pacing: the frame's RTP time (48 kHz), placed on the wall clock by the
 * frame that arrived soonest after its schedule. Arrival times alone also count a frame sent before an event but
 * received after it, as happens whenever the machine is busy.
 */
function sendTimes(frames: AudioFrameArrival[]): number[] {
  const first = frames[0].rtpTimestamp;
  const media = frames.map((f) => ((f.rtpTimestamp - first) >>> 0) / 48);
  const offset = Math.min(...media.map((ms, i) => frames[i].at - ms));
  return media.map((ms) => ms + offset);
}

describe("official Pipecat client through the bridge", () => {
  test("reaches bot-ready from the bot itself and hears the bot's echo of its speech with energy", async () => {
    const result = await expectSpeechEchoed(browser.context, server.url);
    expect(result.botReadyData).toMatchObject({ about: { library: "pipecat-test-bot" } });
    const session = bot.sessions.at(-1)!;
    expect(session.messages.some((m) => (m as { type?: string }).type === "client-ready")).toBe(true);
    expect(session.audioFrames).toBeGreaterThan(50);
  }, 60_000);

  test("the request data of the offer reaches the bot in the upgrade request", async () => {
    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const sessions = bot.sessions.length;
      const started = await startProbe(page.page, { baseUrl: server.url, requestData: { room: "Zoë's" } });
      expect(started.botReady, explainProbe(started)).toBe(true);
      const session = bot.sessions[sessions];
      expect(JSON.parse(session.headers[REQUEST_DATA_HEADER.toLowerCase()])).toEqual({ room: "Zoë's" });
    } finally {
      await finishProbe(page.page).catch(() => {});
      await page.close();
    }
  }, 60_000);

  test("the bot's speech stops within a packet or two of its interruption, though seconds of it were queued", async () => {
    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const sessions = bot.sessions.length;
      const started = await startProbe(page.page, { baseUrl: server.url, mic: false, recordAudioFrames: true });
      expect(started.botReady, explainProbe(started)).toBe(true);
      const session = bot.sessions[sessions];
      const frames = async () => (await controlProbe(page.page, "snapshot")).audioFramesIn;
      // Ten seconds of speech sent four times faster than it plays: once it is heard, most of it waits in the bridge.
      void session.speak(10_000, 4);
      await eventually(async () => (await frames()).filter((f) => f.bytes > LOUD_FRAME_BYTES).length >= 25, 10_000,
        "the bot's speech in the browser", { pollMs: 100 });
      await eventually(async () => (await queuedForClientSecs()) > 2, 5000, "seconds of speech queued");

      const interruptedAt = session.interrupt();
      await eventually(async () => (await frames()).at(-1)!.at > interruptedAt + 600, 5000,
        "the browser's frames of the next half second", { pollMs: 100 });
      const heard = await frames();
      // Judged by when the server sent each frame: one sent before the interruption may arrive after it.
      const sent = sendTimes(heard);
      const loud = heard.flatMap((f, i) => (f.bytes > LOUD_FRAME_BYTES ? [sent[i]] : []));
      const loudBefore = loud.filter((at) => at > interruptedAt - 200 && at <= interruptedAt);
      const loudAfter = loud.filter((at) => at > interruptedAt);
      expect(loudBefore.length).toBeGreaterThanOrEqual(8);
      // One packet in flight when the interruption reaches the server, and one more for what this judges by: the test's
      // clock when it told the bot (the message still crosses the WebSocket) and send times rebuilt from RTP.
      expect(loudAfter.length).toBeLessThanOrEqual(2);
      // Silence goes on after it: the track did not just stop.
      expect(heard.filter((f) => f.at > interruptedAt + 100).length).toBeGreaterThanOrEqual(20);
      expect(await queuedForClientSecs()).toBe(0);
    } finally {
      await finishProbe(page.page).catch(() => {});
      await page.close();
    }
  }, 60_000);
});
