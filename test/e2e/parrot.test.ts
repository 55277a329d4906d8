/**
 * The parrot bot with the official client in Chromium: the fake microphone says one sentence once; the client sees
 * user-started/stopped-speaking over RTVI, and after the user stops, the same speech comes back as bot audio.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { turnSpeechWav } from "../../scripts/support/media.ts";
import { openProbePage, runProbe } from "./support/probe.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess({ args: ["--bot", "parrot"] });
  browser = await launchBrowser({ audioFile: await turnSpeechWav(), audioOnce: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("parrot bot in the browser", () => {
  test("speech in; after it stops the same audio comes back, with RTVI speaking events", async () => {
    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const result = await runProbe(page.page, { baseUrl: server.url, connectTimeoutMs: 10_000 }, {
        what: "the answer to be played",
        holds: ({ rtviReceived, stats }) =>
          rtviReceived.includes("bot-stopped-speaking") && (stats?.audioIn.totalAudioEnergy ?? 0) > 0.2,
        timeoutMs: 30_000,
      });
      expect(result.botReady).toBe(true);
      const events = result.rtviReceived;
      const started = events.indexOf("user-started-speaking");
      const stopped = events.indexOf("user-stopped-speaking");
      const botStarted = events.indexOf("bot-started-speaking");
      expect(started).toBeGreaterThanOrEqual(0);
      expect(stopped).toBeGreaterThan(started);
      expect(botStarted).toBeGreaterThan(stopped);
      expect(events.indexOf("bot-stopped-speaking")).toBeGreaterThan(botStarted);
      // Silence alone scores ~0; the sentence said back scores well above it.
      expect(result.stats!.audioIn.totalAudioEnergy).toBeGreaterThan(0.2);
    } finally {
      await page.close();
    }
  }, 60_000);
});
