/**
 * Pictures on request with the official Pipecat client in headless Chromium: its fake camera and its screen share
 * (getDisplayMedia) are two tracks, and a bot file that only asks for pictures gets one of each, decoded from the
 * keyframe Chromium sends when the server asks (RTCP PLI), with nothing decoded before the request.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, startProbe } from "./support/probe.ts";
import { explainProbe } from "./support/servingChecks.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess({ args: ["--bot", join(repoRoot, "test/fixtures/pictureBot/bot.ts")] });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

interface Answer {
  source?: string;
  width?: number;
  height?: number;
  reason?: string;
  message?: string;
  before: { camera: number; screenVideo: number };
  after: { camera: number; screenVideo: number };
}

describe("pictures on request in Chromium", () => {
  test("the camera and the screen share each answer with one picture of their own, decoded only when asked", async () => {
    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const started = await startProbe(page.page, { baseUrl: server.url, mic: false, cam: true, connectTimeoutMs: 10_000 });
      expect(started.botReady, explainProbe(started)).toBe(true);
      const ask = async (source: string) =>
        (await controlProbe(page.page, "sendClientRequest", "picture", { source }, 10_000)) as unknown as Answer;

      // No screen share yet: a request for it ends in time, with the reason.
      const noScreen = await ask("screenVideo");
      expect(noScreen.reason).toBe("timeout");

      const camera = await ask("camera");
      expect(camera, JSON.stringify(camera)).toMatchObject({ source: "camera", before: { camera: 0, screenVideo: 0 } });
      expect(camera.after.camera).toBeGreaterThan(0);

      await controlProbe(page.page, "enableScreenShare", true);
      const screen = await ask("screenVideo");
      expect(screen, JSON.stringify(screen)).toMatchObject({ source: "screenVideo", before: { screenVideo: 0 } });
      expect(screen.after.screenVideo).toBeGreaterThan(0);
      // Two tracks, two pictures: the fake screen is not the fake camera's size.
      expect(`${screen.width}x${screen.height}`).not.toBe(`${camera.width}x${camera.height}`);
      // The camera, which kept sending meanwhile, was not decoded again.
      expect(screen.after.camera).toBe(camera.after.camera);
    } finally {
      await finishProbe(page.page).catch(() => {});
      await page.close();
    }
  }, 90_000);
});
