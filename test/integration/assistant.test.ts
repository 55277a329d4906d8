/**
 * The assistant bot over a real werift peer, against the OpenAI stand-in (test/support/openaiStandIn.ts): a spoken
 * turn goes through speech to text, the LLM and text to speech, and comes back as speech with every RTVI message a
 * client displays; typed turns, failing services and interruptions behave as the issue asks.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { assistantBot } from "../../lib/bots/assistant.ts";
import { ConfigSchema } from "../../lib/config/schema.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import type { LLMMessage } from "../../lib/pipeline/frames.ts";
import { findEcho, parseWav, readWav, resample, rms } from "../../scripts/support/audio.ts";
import { vadFixture } from "../../scripts/support/media.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { OpenAIStandIn } from "../../scripts/support/openaiStandIn.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

type Rtvi = { label: "rtvi-ai"; type: string; data?: Record<string, unknown> };

const QUESTION = "What is the capital of France?";
const ANSWER = ["Paris is the capital of France.", "It sits on the Seine.", "Anything else?"];

let standIn: OpenAIStandIn;
let server: TestServer | undefined;
let peer: TestClient | undefined;
let logLines: string[];
/** The speech fixture (16 kHz) and the same at 48 kHz, as a browser sends it. */
let speech16k: Int16Array;
let speech48k: Int16Array;

beforeAll(async () => {
  speech16k = readWav(await vadFixture("speech")).pcm;
  speech48k = Int16Array.from({ length: speech16k.length * 3 }, (_, i) => speech16k[Math.floor(i / 3)]);
});

afterEach(async () => {
  await peer?.close();
  await server?.close();
  await standIn?.stop();
  peer = server = undefined;
});

async function connect(assistant: Record<string, unknown> = {}): Promise<TestClient> {
  standIn = new OpenAIStandIn();
  standIn.script.transcript = QUESTION;
  standIn.script.reply = () => ANSWER.join(" ");
  const service = { baseUrl: standIn.baseUrl, apiKey: "sk-test" };
  const config = ConfigSchema.parse({
    assistant: { greeting: "", stt: service, llm: service, tts: service, ...assistant },
  });
  logLines = [];
  const logger = createLogger({ level: "info", write: (line) => logLines.push(line) });
  server = startTestServer({}, assistantBot(config.assistant, {}), logger);
  peer = new TestClient();
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
  return peer;
}

const rtvi = (client: TestClient) =>
  client.received.filter((m): m is Rtvi => (m as { label?: string })?.label === "rtvi-ai");
const types = (client: TestClient) => rtvi(client).map((m) => m.type);
const ofType = (client: TestClient, type: string) => rtvi(client).filter((m) => m.type === type);

/** Speech, then `silenceSecs` of silence, sent in real time. */
function say(client: TestClient, silenceSecs: number): Promise<void> {
  return client.sendAudio(Int16Array.from({ length: speech48k.length + 48000 * silenceSecs }, (_, i) => speech48k[i] ?? 0));
}

/** The bot's audio at 16 kHz in timestamp order, each 20 ms packet with its arrival time. */
function botAudio(client: TestClient): { pcm: Int16Array; arrivals: number[] } {
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const order = client.audioIn.map((_, i) => i).sort((a, b) => client.audioIn[a].header.timestamp - client.audioIn[b].header.timestamp);
  const pcm = new Int16Array(order.length * 320);
  order.forEach((index, i) => pcm.set(decoder.decode(client.audioIn[index].payload), i * 320));
  decoder.free();
  return { pcm, arrivals: order.map((index) => client.audioInAt[index]) };
}

const sendText = (client: TestClient, content: string, options: Record<string, boolean> = {}) =>
  client.send({ label: "rtvi-ai", type: "send-text", id: "t1", data: { content, options } });

describe("assistant bot", () => {
  test("a spoken turn is transcribed, answered with the conversation, and spoken back with every RTVI message", async () => {
    // A long stopSecs: the pause between the fixture's two sentences must not end the turn.
    const client = await connect({ greeting: "Welcome.", vad: { stopSecs: 1.2 } });
    await eventually(() => ofType(client, "bot-tts-stopped").length === 1, 10_000, "the greeting spoken");
    await say(client, 1);
    const reply = () => types(client).slice(types(client).indexOf("user-transcription"));
    await eventually(() => reply().includes("bot-stopped-speaking"), 20_000, "the reply played");

    // The turn's audio went to speech to text as one WAV: all of the speech, at the pipeline's 16 kHz.
    const [transcription] = standIn.to("transcriptions");
    expect(transcription.body).toMatchObject({ model: "gpt-4o-mini-transcribe", response_format: "json" });
    const wav = parseWav((transcription.body.file as { bytes: Uint8Array }).bytes);
    expect(wav.sampleRate).toBe(16000);
    // The fixture has 1 s of silence before its speech and 1.5 s after.
    const sent = findEcho(speech16k.subarray(16000, -24000), wav.pcm, 16000);
    expect(sent.envelopeCorrelation).toBeGreaterThan(0.9);
    expect(wav.pcm.length / 16000).toBeLessThan(speech16k.length / 16000 + 1);

    // The LLM got the conversation: the system prompt, the greeting as said, the user's words.
    const [chat] = standIn.to("chat");
    const messages = chat.body.messages as LLMMessage[];
    expect(messages.map((m) => m.role)).toEqual(["system", "assistant", "user"]);
    expect(messages.slice(1)).toEqual([{ role: "assistant", content: "Welcome." }, { role: "user", content: QUESTION }]);
    expect(chat.body.stream).toBe(true);

    // Each sentence was spoken by the TTS, in order, and the client heard it.
    expect(standIn.to("speech").map((r) => r.body.input)).toEqual(["Welcome.", ...ANSWER]);
    expect(standIn.to("speech")[1].body).toMatchObject({ model: "gpt-4o-mini-tts", voice: "alloy", response_format: "pcm" });
    const heard = botAudio(client).pcm;
    const firstSentence = resample(await standIn.speech(ANSWER[0]), 24000, 16000);
    expect(findEcho(firstSentence, heard, 16000).envelopeCorrelation).toBeGreaterThan(0.8);

    // What the client was told, in order.
    const after = reply();
    // (bot-tts-stopped says the speech was made, not that it was played: it may come before the bot speaks.)
    const pairs = [["user-transcription", "bot-llm-started"], ["bot-llm-started", "bot-llm-text"],
      ["bot-llm-text", "bot-llm-stopped"], ["bot-llm-started", "bot-tts-started"], ["bot-tts-started", "bot-tts-text"],
      ["bot-tts-text", "bot-tts-stopped"], ["bot-tts-started", "bot-started-speaking"],
      ["bot-started-speaking", "bot-stopped-speaking"]];
    for (const [earlier, later] of pairs) {
      expect(after.indexOf(later), `${earlier} before ${later}`).toBeGreaterThan(after.indexOf(earlier));
    }
    expect(ofType(client, "user-transcription")[0].data).toMatchObject({ text: QUESTION, final: true });
    expect(ofType(client, "bot-llm-text").map((m) => m.data!.text).join("")).toBe(ANSWER.join(" "));
    expect(ofType(client, "bot-tts-text").map((m) => m.data!.text)).toEqual(["Welcome.", ...ANSWER]);
    expect(ofType(client, "bot-output").map((m) => m.data)).toContainEqual(
      expect.objectContaining({ text: ANSWER[1], spoken: true, aggregated_by: "sentence" }),
    );
    const ttfb = ofType(client, "metrics").flatMap((m) => m.data!.ttfb as { processor: string; value: number }[]);
    expect(new Set(ttfb.map((t) => t.processor))).toEqual(new Set(["OpenAISTTService", "OpenAILLMService", "OpenAITTSService"]));
    expect(ttfb.every((t) => t.value >= 0 && t.value < 5)).toBe(true);
  }, 40_000);

  test("a typed turn without audio: the reply is shown as bot-output, never spoken", async () => {
    const client = await connect();
    sendText(client, "Just type it.", { audio_response: false });
    await eventually(() => ofType(client, "bot-llm-stopped").length === 1, 5000, "the reply");
    await eventually(() => ofType(client, "bot-output").length === ANSWER.length, 5000, "the reply shown");
    expect(ofType(client, "bot-output").map((m) => m.data)).toEqual(
      ANSWER.map((text) => expect.objectContaining({ text, spoken: false, will_be_spoken: false })),
    );
    expect((standIn.to("chat")[0].body.messages as LLMMessage[]).at(-1)).toEqual({ role: "user", content: "Just type it." });
    expect(standIn.to("speech")).toEqual([]);
    expect(types(client)).not.toContain("bot-tts-text");
    // The shown reply is part of the conversation, so the next turn's LLM request carries it.
    sendText(client, "And then?", { audio_response: false });
    await eventually(() => standIn.to("chat").length === 2 && ofType(client, "bot-llm-stopped").length === 2, 5000, "turn 2");
    expect((standIn.to("chat")[1].body.messages as LLMMessage[]).slice(-2)).toEqual([
      { role: "assistant", content: ANSWER.join(" ") },
      { role: "user", content: "And then?" },
    ]);
  }, 20_000);

  test("a failing LLM costs one turn: an RTVI error with the reason, one log line, and the next turn works", async () => {
    const client = await connect();
    standIn.script.fail = (endpoint, index) =>
      endpoint === "chat" && index === 0 ? { status: 500, message: "The server had an error while processing your request." } : undefined;
    sendText(client, "First try.", { audio_response: false });
    await eventually(() => ofType(client, "error").length === 1, 5000, "the RTVI error");
    expect(ofType(client, "error")[0].data).toEqual({
      error: "OpenAILLMService: HTTP 500: The server had an error while processing your request.",
      fatal: false,
    });
    const failures = logLines.filter((line) => line.includes("OpenAILLMService"));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain("status=500");
    sendText(client, "Second try.", { audio_response: false });
    await eventually(() => ofType(client, "bot-output").length === ANSWER.length, 5000, "the second turn answered");
    expect(ofType(client, "error")).toHaveLength(1);
    expect((await (await server!.request("/status")).json()).sessions).toBe(1);
  }, 20_000);

  test("speaking over the reply stops it within 100 ms, aborts the requests in flight, and keeps only what was said", async () => {
    const client = await connect();
    // A slow TTS: each sentence streams slower than it plays, so the reply is still being fetched when it is cut off.
    standIn.script.chunkDelayMs = 150;
    await say(client, 1);
    await eventually(() => ofType(client, "bot-tts-text").length >= 1 && ofType(client, "bot-started-speaking").length >= 1,
      10_000, "the reply starting to play");
    await say(client, 0.5);
    const answered = () => standIn.to("chat").find((r) => (r.body.messages as LLMMessage[]).some((m) => m.role === "assistant"));
    await eventually(() => answered() !== undefined, 10_000, "the next turn's LLM request");

    // The user's speech over the reply interrupted it (user-started-speaking while the bot spoke), and no loud bot
    // audio arrived more than 100 ms after the client heard of the interruption.
    const botStarted = types(client).indexOf("bot-started-speaking");
    const interruption = rtvi(client).findIndex((m, i) => m.type === "user-started-speaking" && i > botStarted);
    expect(interruption).toBeGreaterThan(botStarted);
    const interruptedAt = client.receivedAt[client.received.indexOf(rtvi(client)[interruption])];
    const { pcm, arrivals } = botAudio(client);
    const loud = arrivals.filter((_, i) => rms(pcm.subarray(i * 320, (i + 1) * 320)) > 300);
    expect(loud.filter((at) => at > interruptedAt - 500 && at <= interruptedAt).length).toBeGreaterThan(5);
    expect(loud.filter((at) => at > interruptedAt + 100 && at < interruptedAt + 1500)).toEqual([]);
    // The sentences still being fetched were aborted on the stand-in.
    expect(standIn.to("speech").some((request) => request.aborted)).toBe(true);
    // The context keeps the sentences that had started playing, not the whole planned reply.
    const messages = answered()!.body.messages as LLMMessage[];
    const said = messages.find((m) => m.role === "assistant")!.content;
    expect(ANSWER[0]).toBe(said.slice(0, ANSWER[0].length));
    expect(said).not.toBe(ANSWER.join(" "));
  }, 40_000);
});
