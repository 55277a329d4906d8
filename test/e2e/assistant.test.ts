/**
 * The assistant with the official Pipecat client in Chromium: `--bot assistant` against the OpenAI stand-in
 * (test/support/openaiStandIn.ts, whose speech is espeak-ng's). The fake microphone asks a question; its transcript
 * comes back as user-transcription, the spoken answer as audio with energy and bot-tts-text. The user then talks over
 * the answer: the bot goes quiet within 100 ms of the interruption, and the stand-in sees its requests aborted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ASSISTANT_QUESTION, assistantTurnsWav } from "../../scripts/support/media.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { OpenAIStandIn } from "../../scripts/support/openaiStandIn.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, startProbe } from "./support/probe.ts";
import type { DataChannelMessage } from "./support/probeTypes.ts";
import { explainProbe } from "./support/servingChecks.ts";

const ANSWER = ["Paris is the capital of France.", "It lies on the river Seine.", "Would you like to know more?"];
/** Opus frames of speech are tens of bytes; the silence the sender fills gaps with is a few. */
const LOUD_FRAME_BYTES = 50;

let standIn: OpenAIStandIn;
let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  standIn = new OpenAIStandIn();
  standIn.script.transcript = ASSISTANT_QUESTION;
  standIn.script.reply = () => ANSWER.join(" ");
  // Speech streams slower than it plays, so the answer is still being fetched when the user talks over it.
  standIn.script.chunkDelayMs = 150;
  const env: Record<string, string> = { SMALLWEBRTC_ASSISTANT_GREETING: "Hi." };
  for (const service of ["STT", "LLM", "TTS"]) {
    env[`SMALLWEBRTC_ASSISTANT_${service}_BASE_URL`] = standIn.baseUrl;
    env[`SMALLWEBRTC_ASSISTANT_${service}_API_KEY`] = "sk-browser-test";
  }
  server = await startServerProcess({ args: ["--bot", "assistant"], env });
  browser = await launchBrowser({ audioFile: await assistantTurnsWav(), audioOnce: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await standIn?.stop();
});

type Rtvi = { label?: string; type?: string; data?: { text?: string } };
const rtvi = (messages: DataChannelMessage[], type: string) =>
  messages.filter((m) => (m.data as Rtvi)?.label === "rtvi-ai" && (m.data as Rtvi).type === type);

describe("the assistant in the browser", () => {
  test("hears the question, speaks the answer with its captions, and stops within 100 ms when talked over", async () => {
    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      // The microphone opens once the bot is ready, so the question is not spoken into a call still connecting.
      const started = await startProbe(page.page, { baseUrl: server.url, mic: false, recordAudioFrames: true });
      expect(started.botReady, explainProbe(started)).toBe(true);
      await controlProbe(page.page, "enableMic", true);
      const snapshot = () => controlProbe(page.page, "snapshot");

      // The question's transcript, then the answer, spoken: its captions and its audio.
      await eventually(async () => rtvi((await snapshot()).dataChannel.received, "bot-tts-text").length >= 2, 20_000,
        "the greeting's and the answer's first caption", { pollMs: 200 });
      let received = (await snapshot()).dataChannel.received;
      expect(rtvi(received, "user-transcription")[0].data).toMatchObject({ data: { text: ASSISTANT_QUESTION, final: true } });
      expect(rtvi(received, "bot-tts-text").map((m) => (m.data as Rtvi).data!.text).slice(0, 2)).toEqual(["Hi.", ANSWER[0]]);

      // The user talks over the answer: the second user-started-speaking is the interruption.
      await eventually(async () => rtvi((await snapshot()).dataChannel.received, "user-started-speaking").length >= 2,
        20_000, "the interruption", { pollMs: 200 });
      const interruptedAt = rtvi((await snapshot()).dataChannel.received, "user-started-speaking")[1].at;
      await eventually(async () => (await snapshot()).audioFramesIn.at(-1)!.at > interruptedAt + 1000, 5000,
        "a second of bot audio frames after the interruption", { pollMs: 200 });
      const result = await snapshot();
      received = result.dataChannel.received;
      const loud = result.audioFramesIn.filter((frame) => frame.bytes > LOUD_FRAME_BYTES);
      // The answer was being heard, with energy, right up to the interruption...
      expect(loud.filter((f) => f.at > interruptedAt - 1000 && f.at <= interruptedAt).length).toBeGreaterThan(20);
      expect(result.stats!.audioIn.totalAudioEnergy).toBeGreaterThan(0.05);
      // ...and not 100 ms after it, until the next answer.
      const nextAnswer = rtvi(received, "bot-started-speaking").find((m) => m.at > interruptedAt)?.at ?? Infinity;
      expect(loud.filter((f) => f.at > interruptedAt + 100 && f.at < Math.min(nextAnswer, interruptedAt + 1000)))
        .toEqual([]);
      // The reply's speech requests still streaming were aborted, as the stand-in saw.
      expect(standIn.to("speech").some((request) => request.aborted)).toBe(true);
      // Every request carried the configured key.
      expect(standIn.requests.every((request) => request.authorization === "Bearer sk-browser-test")).toBe(true);
    } finally {
      await finishProbe(page.page).catch(() => {});
      await page.close();
    }
  }, 90_000);
});
