/**
 * Video with the official client in Chromium: the fake camera (a y4m) goes to the mirror bot, whose pipeline
 * receives it as RGB pictures and sends it back as VP8, which Chromium decodes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { speechWav, videoY4m } from "../../scripts/support/media.ts";
import { openProbePage, runProbe } from "./support/probe.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess({ args: ["--bot", "mirror"] });
  browser = await launchBrowser({ audioFile: await speechWav(), videoFile: await videoY4m() });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("video through the mirror bot", () => {
  for (const videoCodec of ["VP8", "H264"]) {
    test(`camera in as ${videoCodec}, bot video back as VP8 ${videoCodec === "H264" ? "is not possible" : "decoded"}`, async () => {
      const page = await openProbePage(browser.context, { baseUrl: server.url });
      try {
        const result = await runProbe(page.page, {
          baseUrl: server.url,
          cam: true,
          connectTimeoutMs: 10_000,
          ...(videoCodec === "H264" ? { videoCodec } : {}),
        }, {
          what: "20 camera frames sent, bot video decoded (VP8) and the echoed speech",
          holds: ({ stats }) =>
            !!stats && stats.videoOut.framesEncoded > 20 && stats.audioIn.totalAudioEnergy > 0.05 &&
            (videoCodec !== "VP8" || stats.videoIn.framesDecoded > 10),
        });
        expect(result.botReady).toBe(true);
        const stats = result.stats!;
        expect(stats.videoOut.framesEncoded).toBeGreaterThan(20);
        expect(stats.videoOut.codec?.toUpperCase()).toContain(videoCodec);
        if (videoCodec === "VP8") {
          expect(stats.videoIn.framesDecoded).toBeGreaterThan(10);
          expect(stats.videoIn.frameWidth).toBe(320);
          expect(stats.videoIn.frameHeight).toBe(240);
        }
        expect(stats.audioIn.totalAudioEnergy).toBeGreaterThan(0.05);
      } finally {
        await page.close();
      }
    }, 60_000);
  }
});
