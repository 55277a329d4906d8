/**
 * The test page users open at /client/: the real page as the server serves it (public/dist, built by
 * scripts/build-client), driven in headless Chromium the way a user would: Connect, watch the meters, stats and
 * RTVI log, send a client-message, hang up. Screenshots go to test-artifacts/ for CI to keep.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { repoRoot } from "../../scripts/support/paths.ts";
import { captureConsoleErrors, launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";

const ARTIFACTS = join(repoRoot, "test-artifacts");
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const WAIT = { timeout: 15_000 };

let browser: LaunchedBrowser;

beforeAll(async () => {
  browser = await launchBrowser();
  await mkdir(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(() => browser?.close());

describe("test page with the echo bot", () => {
  let server: ServerProcess;
  beforeAll(async () => void (server = await startServerProcess()), 120_000);
  afterAll(() => server?.stop());

  test("connects, shows bot-ready, levels, stats and a server-response, then hangs up", async () => {
    await withPage(server, DESKTOP, async (page, errors) => {
      await connect(page);
      expect(await logData(page, "bot-ready")).toMatchObject({ version: "2.1.0" });

      // Speech with pauses: the meters must both reach speech level and fall back, not sit still.
      for (const meter of ["meter-in", "meter-out"]) {
        await meterShows(page, meter, { above: 0.4 });
        await meterShows(page, meter, { below: 0.25 });
      }

      // Rates need two stats samples, the round trip one: wait for all three to show a number.
      await page.waitForFunction(() => ["rttMs", "inKbps", "outKbps"].every((metric) =>
        /^\d+(\.\d+)?\b/.test(document.querySelector(`[data-metric="${metric}"] output`)?.textContent ?? "")),
      undefined, WAIT);
      const stats = await statValues(page);
      expect(stats.rttMs).toBeLessThan(50);
      expect(stats.inKbps).toBeGreaterThan(10);
      expect(stats.outKbps).toBeGreaterThan(10);
      expect(await plottedPixels(page, "rttMs")).toBeGreaterThan(20);
      expect(await plottedPixels(page, "inKbps")).toBeGreaterThan(20);
      expect(await page.textContent("#codecs")).toBe("audio opus");

      await page.fill("#message-type", "ping-test");
      await page.fill("#message-data", '{"n": 42, "s": "hi"}');
      await page.click("#message-form button");
      await page.waitForSelector('#log [data-type="server-response"]', WAIT);
      // The echo bot answers a client-message with its own d.
      expect(await logData(page, "server-response")).toEqual({ n: 42, s: "hi" });

      const status = await serverStatus(server);
      expect(status.sessions).toBe(1);
      await page.waitForFunction((text) => document.getElementById("server-status")?.textContent === text,
        `server v${status.version} · 1 session`, WAIT);

      await page.evaluate(() => scrollTo(0, 0));
      await page.screenshot({ path: join(ARTIFACTS, "client-page.png"), fullPage: true });

      await page.click("#connect");
      await page.waitForSelector('#state[data-state="disconnected"]', WAIT);
      await waitForSessions(server, 0);
      expect(errors).toEqual([]);
    });
  }, 60_000);

  test("the /start flow posts /start, then offers under /sessions/:id", async () => {
    await withPage(server, DESKTOP, async (page, errors) => {
      const posts: string[] = [];
      page.on("request", (request) => {
        if (request.method() === "POST") posts.push(new URL(request.url()).pathname);
      });
      await page.click("details summary");
      await page.selectOption("#flow", "start");
      await connect(page);
      expect(posts[0]).toBe("/start");
      expect(posts[1]).toMatch(/^\/sessions\/[0-9a-f-]{36}\/api\/offer$/);
      expect(posts).not.toContain("/api/offer");
      expect(await logData(page, "bot-ready")).toMatchObject({ version: "2.1.0" });
      await hangUp(page, server);
      expect(errors).toEqual([]);
    });
  }, 60_000);

  test("the audio codec option restricts the offer: PCMU goes out and comes back", async () => {
    await withPage(server, DESKTOP, async (page) => {
      await page.click("details summary");
      await page.selectOption("#audio-codec", "PCMU");
      await connect(page);
      await page.waitForFunction(() => document.getElementById("codecs")?.textContent === "audio PCMU",
        undefined, WAIT);
      await meterShows(page, "meter-out", { above: 0.4 });
      // Codec and flow shape the offer, so they are locked during a call.
      expect(await page.isDisabled("#audio-codec")).toBe(true);
      await hangUp(page, server);
      expect(await page.isDisabled("#audio-codec")).toBe(false);
    });
  }, 60_000);

  test("mute silences the mic and so the echo; a mid-call mic switch reaches the live track", async () => {
    await withPage(server, DESKTOP, async (page) => {
      await connect(page);
      await page.click("#mic-toggle");
      expect(await page.getAttribute("#mic-toggle", "aria-pressed")).toBe("false");
      await meterShows(page, "meter-in", { below: 0.05 });
      await meterShows(page, "meter-out", { below: 0.05 });
      // Fallen, they stay down; unmuted, the mic is heard again (the positive control).
      const muted = await meterLevels(page, 1500);
      expect(Math.max(...muted.input)).toBeLessThan(0.05);
      expect(Math.max(...muted.output)).toBeLessThan(0.05);
      await page.click("#mic-toggle");
      await meterShows(page, "meter-in", { above: 0.4 });

      // The input meter's tooltip names the device it measures: the switch must reach the live track.
      expect(await page.getAttribute("#meter-in", "title")).toBe("Fake Default Audio Input");
      await page.selectOption("#mic-select", { label: "Fake Audio Input 1" });
      await page.waitForSelector('#meter-in[title="Fake Audio Input 1"]', WAIT);
      await meterShows(page, "meter-in", { above: 0.4 });
      await hangUp(page, server);
    });
  }, 60_000);

  test("fits a phone screen: no sideways scrolling, large tap targets", async () => {
    await withPage(server, PHONE, async (page) => {
      await connect(page);
      // Measure the layout once every stat tile shows its number (the widest the page gets).
      await page.waitForFunction(() => [...document.querySelectorAll(".stat output")].every((output) =>
        /\d/.test(output.textContent ?? "")), undefined, WAIT);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      const controls = ["#connect", "#mic-toggle", "#cam-toggle", "#mic-select", "#message-form button", "#say-text",
        "#say-form button", "#say-form .check"];
      for (const selector of controls) {
        const box = await page.locator(selector).boundingBox();
        expect(box?.height, selector).toBeGreaterThanOrEqual(44);
      }
      await page.screenshot({ path: join(ARTIFACTS, "client-page-phone.png") });
      await hangUp(page, server);
    });
  }, 60_000);
});

describe("test page with the mirror bot", () => {
  let server: ServerProcess;
  beforeAll(async () => void (server = await startServerProcess({ args: ["--bot", "mirror"] })), 120_000);
  afterAll(() => server?.stop());

  test("the camera shows in the preview and comes back as bot video", async () => {
    await withPage(server, DESKTOP, async (page, errors) => {
      await page.click("#cam-toggle");
      await page.waitForFunction(() => (document.getElementById("local-video") as HTMLVideoElement).videoWidth > 0,
        undefined, WAIT);
      await connect(page);
      await page.waitForSelector("#screen.has-video", WAIT);
      await page.waitForFunction(() => (document.getElementById("bot-video") as HTMLVideoElement).videoWidth > 0,
        undefined, WAIT);
      await page.waitForFunction(() => document.getElementById("codecs")?.textContent === "audio opus · video VP8",
        undefined, WAIT);
      await meterShows(page, "meter-out", { above: 0.4 });
      await page.screenshot({ path: join(ARTIFACTS, "client-page-mirror.png") });

      await page.click("#cam-toggle");
      expect(await page.isHidden("#local-video")).toBe(true);
      await hangUp(page, server);
      expect(errors).toEqual([]);
    });
  }, 60_000);
});

/** A fresh page on the server's own /client/, closed afterwards whatever happens. */
async function withPage(server: ServerProcess, viewport: { width: number; height: number },
  body: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const page = await browser.context.newPage();
  try {
    await page.setViewportSize(viewport);
    const errors = captureConsoleErrors(page);
    await page.goto(`${server.url}/client/`);
    await body(page, errors);
  } finally {
    await page.close();
  }
}

async function connect(page: Page): Promise<void> {
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="ready"]', WAIT);
  await page.waitForSelector('#log [data-type="bot-ready"]', WAIT);
}

async function hangUp(page: Page, server: ServerProcess): Promise<void> {
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="disconnected"]', WAIT);
  await waitForSessions(server, 0);
}

/** The JSON shown with the last log entry of `type`. */
async function logData(page: Page, type: string): Promise<unknown> {
  const text = await page.locator(`#log [data-type="${type}"] code`).last().textContent();
  return JSON.parse(text ?? "null");
}

/** Waits until the meter (`meter-in` or `meter-out`) shows a level above or below the given one. */
async function meterShows(page: Page, meter: string, bound: { above: number } | { below: number }): Promise<void> {
  await page.waitForFunction(([id, bound]) => {
    const level = Number(document.getElementById(id)?.getAttribute("aria-valuenow"));
    return "above" in bound ? level > bound.above : level < bound.below;
  }, [meter, bound] as const, WAIT);
}

/** Both meters' aria-valuenow, sampled every 50 ms for `ms`. */
function meterLevels(page: Page, ms: number): Promise<{ input: number[]; output: number[] }> {
  return page.evaluate(async (ms) => {
    const read = (id: string) => Number(document.getElementById(id)?.getAttribute("aria-valuenow"));
    const levels = { input: [] as number[], output: [] as number[] };
    for (const end = performance.now() + ms; performance.now() < end;) {
      levels.input.push(read("meter-in"));
      levels.output.push(read("meter-out"));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return levels;
  }, ms);
}

/** Each stat tile's number, parsed from what the page shows. */
function statValues(page: Page): Promise<Record<string, number>> {
  return page.$$eval(".stat", (tiles) => Object.fromEntries(tiles.map((tile) =>
    [(tile as HTMLElement).dataset.metric, parseFloat(tile.querySelector("output")?.textContent ?? "")])));
}

/** How many pixels a stat's sparkline has painted. */
function plottedPixels(page: Page, metric: string): Promise<number> {
  return page.$eval(`[data-metric="${metric}"] canvas`, (canvas) => {
    const { width, height } = canvas as HTMLCanvasElement;
    const pixels = (canvas as HTMLCanvasElement).getContext("2d")!.getImageData(0, 0, width, height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
    return painted;
  });
}

async function serverStatus(server: ServerProcess): Promise<{ version: string; sessions: number }> {
  return (await fetch(`${server.url}/status`)).json();
}

function waitForSessions(server: ServerProcess, wanted: number): Promise<true> {
  return eventually(async () => (await serverStatus(server)).sessions === wanted, 5000, `${wanted} sessions on the server`);
}
