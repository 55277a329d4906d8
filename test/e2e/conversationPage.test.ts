/**
 * The test page's conversation view, in headless Chromium against a scripted bot (test/fixtures/conversationBot)
 * that sends what an assistant sends: transcripts when the fake microphone speaks, replies streamed as LLM tokens,
 * and, when spoken, a tone per sentence with its `bot-tts-text` once played. The page must show the user's lines
 * (spoken and typed), the reply as it streams, how much of it has been spoken, and the spoken turn's voice-to-voice
 * latency, measured from the end of the speech to the first sound of the answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { turnSpeechWav } from "../../scripts/support/media.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import {
  PARTIAL_TRANSCRIPT,
  SPOKEN_ANSWER,
  TOKEN_MS,
  tokens,
  TRANSCRIPT,
  typedAnswer,
  VAD_STOP_SECS,
} from "../fixtures/conversationBot/script.ts";
import { eventually } from "../support/eventually.ts";
import { captureConsoleErrors, launchBrowser, type LaunchedBrowser } from "./support/browser.ts";

const BOT = "test/fixtures/conversationBot/bot.ts";
const WAIT = { timeout: 15_000 };

/** How a bot line looked at one moment. */
interface BotLineState {
  spoken: string;
  unspoken: string;
  streaming: boolean;
  textOnly: boolean;
  latencyMs: number | null;
}

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess({ args: ["--bot", BOT] });
  browser = await launchBrowser({ audioFile: await turnSpeechWav(), audioOnce: true, videoFile: null });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("the test page shows the conversation", () => {
  test("a spoken turn: its transcript in place of the partial one, the answer spoken, the latency in ms", async () => {
    await withPage(async (page, errors) => {
      // The fake microphone plays its file from when it opens: open it once the bot listens, so that the bot hears
      // the speech as it is said (a session still starting would hear it late, from its backlog).
      await page.click("#mic-toggle");
      await connect(page);
      await page.click("#mic-toggle");
      await page.waitForFunction((text) => {
        const line = document.querySelector('#conversation [data-role="user"][data-source="voice"]');
        return line?.hasAttribute("data-partial") && line.textContent === text;
      }, PARTIAL_TRANSCRIPT, WAIT);
      await page.waitForFunction((text) => {
        const line = document.querySelector('#conversation [data-role="user"][data-source="voice"]');
        return line && !line.hasAttribute("data-partial") && line.textContent === text;
      }, TRANSCRIPT, WAIT);
      expect(await page.locator('#conversation [data-role="user"]').count()).toBe(1);

      const answer = SPOKEN_ANSWER.join(" ");
      await waitForBotLine(page, "the answer spoken, with its latency",
        (line) => line.spoken === answer && line.latencyMs !== null);
      const [line] = await botLines(page);
      expect(line).toMatchObject({ spoken: answer, unspoken: "", streaming: false });

      // The bot answers no sooner than its VAD's silence plus the first sentence's tokens after the speech ended;
      // measuring from the user-stopped-speaking event instead would come out below that. The rest is the trip
      // through the network and the jitter buffer on loopback, and a frame of level readings at each end.
      const botDelayMs = VAD_STOP_SECS * 1000 + tokens(SPOKEN_ANSWER[0]!, 0).length * TOKEN_MS;
      console.log(`voice-to-voice latency ${line!.latencyMs} ms; the bot's own delay ${botDelayMs} ms`);
      expect(line!.latencyMs!).toBeGreaterThan(botDelayMs - 100);
      expect(line!.latencyMs!).toBeLessThan(botDelayMs + 600);
      expect(await page.textContent('#conversation [data-latency-ms]')).toBe(`${line!.latencyMs} ms`);
      expect(errors).toEqual([]);
    });
  }, 60_000);

  test("typed lines: the reply streams, is marked as spoken sentence by sentence, or shown once when not spoken",
    async () => {
      await withPage(async (page, errors) => {
        // The microphone stays off: every line of this conversation is typed.
        await page.click("#mic-toggle");
        await connect(page);

        await page.fill("#say-text", "hello page");
        await page.press("#say-text", "Enter");
        await page.waitForSelector('#conversation [data-role="user"][data-source="typed"]', WAIT);
        expect(await page.textContent('#conversation [data-role="user"]')).toBe("hello page");
        expect(await page.inputValue("#say-text")).toBe("");
        const spokenAnswer = typedAnswer("hello page");
        await waitForBotLine(page, "the typed line's answer spoken",
          (line) => line.spoken === spokenAnswer.join(" ") && !line.streaming);
        expect(await serverMessages(page)).toEqual([
          { received: "send-text", content: "hello page", options: { run_immediately: true, audio_response: true } },
        ]);

        const { states: history, maxOutputLevel } = await recorded(page);
        // Streamed: the first token shown alone while the reply was still coming.
        expect(history).toContainEqual(expect.objectContaining({ spoken: "", unspoken: "You", streaming: true }));
        // Spoken part by part: the first sentence marked while the second was still to be heard.
        expect(history).toContainEqual(expect.objectContaining({
          spoken: spokenAnswer[0],
          unspoken: ` ${spokenAnswer[1]}`,
        }));
        // Heard (the positive control), yet no latency: no one spoke, so there is no voice-to-voice time.
        expect(maxOutputLevel).toBeGreaterThan(0.3);
        expect(await page.locator("#conversation [data-latency-ms]").count()).toBe(0);

        await page.uncheck("#say-speak");
        await page.fill("#say-text", "quietly");
        await page.click("#say-form button");
        const textOnly = typedAnswer("quietly").join(" ");
        // Its tokens and its unspoken bot-output both carry the text; it is shown once.
        await waitForBotLine(page, "the unspoken answer",
          (line) => line.unspoken === textOnly && line.textOnly && !line.streaming);
        expect((await serverMessages(page))[1]).toEqual(
          { received: "send-text", content: "quietly", options: { run_immediately: true, audio_response: false } },
        );
        expect(await page.$$eval('#conversation [data-role="user"]', (lines) => lines.map((l) => l.textContent)))
          .toEqual(["hello page", "quietly"]);
        expect((await botLines(page)).map(({ spoken, unspoken }) => spoken + unspoken))
          .toEqual([spokenAnswer.join(" "), textOnly]);

        // A new call starts with an empty conversation.
        await page.click("#connect");
        await page.waitForSelector('#state[data-state="disconnected"]', WAIT);
        await connect(page);
        expect(await page.locator("#conversation li").count()).toBe(0);
        expect(errors).toEqual([]);
      });
    }, 60_000);
});

/** A fresh page on the server's own /client/, closed afterwards whatever happens. */
async function withPage(body: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const page = await browser.context.newPage();
  try {
    const errors = captureConsoleErrors(page);
    await page.addInitScript(definePageHelpers);
    await page.goto(`${server.url}/client/`);
    await body(page, errors);
  } finally {
    await page.close();
  }
}

interface PageHelpers {
  botLineState(line: Element): BotLineState;
  recorded: { states: BotLineState[]; maxOutputLevel: number };
}

/** Runs in the page: reads a bot line, and notes every state the bot lines pass through once recording starts, so
 * that fleeting ones (a reply half streamed, half spoken) can be checked afterwards, and the loudest bot audio. */
function definePageHelpers(): void {
  const helpers = globalThis as unknown as PageHelpers;
  helpers.botLineState = (line) => {
    const latency = line.querySelector("[data-latency-ms]") as HTMLElement | null;
    return {
      spoken: line.querySelector("[data-spoken]")?.textContent ?? "",
      unspoken: line.querySelector("[data-unspoken]")?.textContent ?? "",
      streaming: line.hasAttribute("data-streaming"),
      textOnly: line.hasAttribute("data-text-only"),
      latencyMs: latency ? Number(latency.dataset.latencyMs) : null,
    };
  };
  helpers.recorded = { states: [], maxOutputLevel: 0 };
  addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("conversation")!;
    new MutationObserver(() => {
      const lines = list.querySelectorAll('[data-role="bot"]');
      for (const line of lines) helpers.recorded.states.push(helpers.botLineState(line));
    }).observe(list, { subtree: true, childList: true, characterData: true, attributes: true });
    const meter = document.getElementById("meter-out")!;
    new MutationObserver(() => {
      const level = Number(meter.getAttribute("aria-valuenow"));
      helpers.recorded.maxOutputLevel = Math.max(helpers.recorded.maxOutputLevel, level);
    }).observe(meter, { attributes: true, attributeFilter: ["aria-valuenow"] });
  });
}

async function connect(page: Page): Promise<void> {
  await page.click("#connect");
  await page.waitForSelector('#state[data-state="ready"]', WAIT);
}

/** Every bot line as the page shows it now. */
function botLines(page: Page): Promise<BotLineState[]> {
  return page.$$eval('#conversation [data-role="bot"]', (lines) =>
    lines.map((line) => (globalThis as unknown as PageHelpers).botLineState(line)));
}

/** Waits until the last bot line is as `holds` wants it. */
async function waitForBotLine(page: Page, what: string, holds: (line: BotLineState) => boolean): Promise<void> {
  await eventually(async () => {
    const last = (await botLines(page)).at(-1);
    return last !== undefined && holds(last);
  }, WAIT.timeout, what, { pollMs: 50 });
}

function recorded(page: Page): Promise<PageHelpers["recorded"]> {
  return page.evaluate(() => (globalThis as unknown as PageHelpers).recorded);
}

/** The data of every server-message in the page's RTVI log. */
function serverMessages(page: Page): Promise<unknown[]> {
  return page.$$eval('#log [data-type="server-message"] code', (codes) =>
    codes.map((code) => JSON.parse(code.textContent ?? "null")));
}
