/**
 * The official client in Chromium calls the echo bot with a background sound under it (test/fixtures/mixerBot: a
 * 440 Hz WAV through WavLoopMixer), and the test listens to what Chromium plays. The microphone sends speech with
 * 440 Hz notched out, so any 440 Hz in the bot's audio is the background: it is measured (a least-squares fit at that
 * exact pitch, per 100 ms) both while the echo plays and between its sentences (where the echo carries the
 * microphone's silence), before and after the bot changes the volume mid-call; at volume 0 it is gone while the echo
 * goes on, which shows the speech adds none of it. The bot's own silences are test/integration/audioMixer.test.ts's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BACKGROUND_TONE_HZ, backgroundToneWav, speechWithout440Wav } from "../../scripts/support/media.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, type ProbePage, startProbe } from "./support/probe.ts";
import { explainProbe } from "./support/servingChecks.ts";

const RATE = 16000;
const WINDOW = RATE / 10;
/** The fixture's loudness of the tone (half of full scale), times the bot's starting volume (0.5). */
const EXPECTED_AT_HALF = 16384 * 0.5;

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess({
    args: ["--bot", join(repoRoot, "test/fixtures/mixerBot/bot.ts")],
    env: { MIXER_BOT_SOUND: await backgroundToneWav() },
  });
  browser = await launchBrowser({ audioFile: await speechWithout440Wav(), videoFile: null });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** One 100 ms window of the bot's audio: the background's amplitude, and the level of everything else (the echo). */
interface Window {
  tone: number;
  rest: number;
}

/** 100 ms windows of `pcm`: a window holds 44 whole cycles of 440 Hz, so a plain least-squares fit separates it. */
function windows(pcm: Int16Array): Window[] {
  const result: Window[] = [];
  const omega = (2 * Math.PI * BACKGROUND_TONE_HZ) / RATE;
  for (let start = 0; start + WINDOW <= pcm.length; start += WINDOW) {
    let cos = 0;
    let sin = 0;
    for (let i = 0; i < WINDOW; i++) {
      cos += pcm[start + i] * Math.cos(omega * i);
      sin += pcm[start + i] * Math.sin(omega * i);
    }
    const [a, b] = [(2 * cos) / WINDOW, (2 * sin) / WINDOW];
    let rest = 0;
    for (let i = 0; i < WINDOW; i++) {
      rest += (pcm[start + i] - a * Math.cos(omega * i) - b * Math.sin(omega * i)) ** 2;
    }
    result.push({ tone: Math.hypot(a, b), rest: Math.sqrt(rest / WINDOW) });
  }
  return result;
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)];

/** Echo playing, or not: the echoed speech is thousands; between sentences only the codec's noise is left. */
function split(all: Window[]): { echo: Window[]; between: Window[] } {
  return { echo: all.filter((w) => w.rest > 1000), between: all.filter((w) => w.rest < 300) };
}

async function recorded(page: ProbePage): Promise<Int16Array> {
  const base64 = await controlProbe(page.page, "botAudio");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Int16Array(bytes.buffer);
}

/** Records on for `ms` after a point (from 1 s after it, so a change has taken hold), and splits what came. */
async function listen(page: ProbePage, from: number, ms: number) {
  const until = from + ((ms + 1000) * RATE) / 1000;
  const pcm = await eventually(async () => {
    const so = await recorded(page);
    return so.length >= until && so;
  }, ms + 10_000, `${ms} ms more of the bot's audio`, { pollMs: 250 });
  return { ...split(windows(pcm.subarray(from + RATE, until))), end: pcm.length };
}

describe("a background sound under the echo, in the official client", () => {
  test("the tone is heard during the echo and between, and a volume change mid-call changes it", async () => {
    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const started = await startProbe(page.page, {
        baseUrl: server.url,
        connectTimeoutMs: 10_000,
        recordBotAudio: true,
      });
      expect(started.botReady, explainProbe(started)).toBe(true);

      // The microphone's file loops every 7.6 s: 5 s of speech, then silence.
      const half = await listen(page, 0, 8000);
      const describe = (phase: { echo: Window[]; between: Window[] }) =>
        JSON.stringify({
          echo: phase.echo.map((w) => [Math.round(w.tone), Math.round(w.rest)]),
          between: phase.between.map((w) => [Math.round(w.tone), Math.round(w.rest)]),
        });
      expect(half.echo.length, describe(half)).toBeGreaterThanOrEqual(10);
      expect(half.between.length, describe(half)).toBeGreaterThanOrEqual(5);
      const halfBetween = median(half.between.map((w) => w.tone));
      const halfEcho = median(half.echo.map((w) => w.tone));
      expect(halfBetween / EXPECTED_AT_HALF, describe(half)).toBeGreaterThan(0.7);
      expect(halfBetween / EXPECTED_AT_HALF, describe(half)).toBeLessThan(1.3);
      expect(halfEcho / halfBetween, describe(half)).toBeGreaterThan(0.8);
      expect(halfEcho / halfBetween, describe(half)).toBeLessThan(1.25);

      await controlProbe(page.page, "sendClientMessage", "mixer-volume", { volume: 0.1 });
      const tenth = await listen(page, half.end, 8000);
      expect(tenth.echo.length, describe(tenth)).toBeGreaterThanOrEqual(10);
      expect(tenth.between.length, describe(tenth)).toBeGreaterThanOrEqual(5);
      const tenthBetween = median(tenth.between.map((w) => w.tone)) / halfBetween;
      const tenthEcho = median(tenth.echo.map((w) => w.tone)) / halfEcho;
      expect(tenthBetween, describe(tenth)).toBeGreaterThan(0.15);
      expect(tenthBetween, describe(tenth)).toBeLessThan(0.25);
      expect(tenthEcho, describe(tenth)).toBeGreaterThan(0.15);
      expect(tenthEcho, describe(tenth)).toBeLessThan(0.3);

      // The control: at volume 0 the echo goes on and 440 Hz is gone from it.
      await controlProbe(page.page, "sendClientMessage", "mixer-volume", { volume: 0 });
      const none = await listen(page, tenth.end, 8000);
      expect(none.echo.length, describe(none)).toBeGreaterThanOrEqual(10);
      expect(median(none.echo.map((w) => w.tone)) / halfEcho, describe(none)).toBeLessThan(0.03);
      expect(Math.max(...none.between.map((w) => w.tone)) / halfBetween, describe(none)).toBeLessThan(0.03);
      await finishProbe(page.page);
    } finally {
      await page.close();
    }
  }, 120_000);
});
