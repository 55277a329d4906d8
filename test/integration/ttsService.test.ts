import { describe, expect, test } from "bun:test";
import {
  type Frame,
  InterruptionFrame,
  LLMFullResponseEndFrame,
  LLMFullResponseStartFrame,
  LLMTextFrame,
  MetricsFrame,
  TextFrame,
  TTSAudioRawFrame,
  TTSSpeakFrame,
  TTSStartedFrame,
  TTSStoppedFrame,
  TTSTextFrame,
} from "../../lib/pipeline/frames.ts";
import { type OpenAITTSOptions, OpenAITTSService } from "../../lib/services/openaiTTS.ts";
import { consistently, eventually } from "../support/eventually.ts";
import { type ServiceHarness, serviceTestBed } from "../support/serviceHarness.ts";

const { standIn, run } = serviceTestBed();

function tts(options: Partial<OpenAITTSOptions> = {}) {
  return run(new OpenAITTSService({ baseUrl: standIn.baseUrl, model: "tts-1", voice: "alloy", ...options }));
}

/** An LLM reply streamed a few characters at a time, as tokens come. */
async function reply(h: ServiceHarness, text: string, skipTts = false): Promise<void> {
  await h.task.queueFrame(new LLMFullResponseStartFrame());
  for (const token of text.match(/.{1,4}/gs) ?? []) await h.task.queueFrame(new LLMTextFrame(token, skipTts));
  await h.task.queueFrame(new LLMFullResponseEndFrame());
}

/** The reply as downstream saw it: each TTSTextFrame with the audio that followed it, and the control frames. */
function transcript(frames: Frame[]): string[] {
  const out: string[] = [];
  for (const frame of frames) {
    if (frame instanceof TTSTextFrame) out.push(`text:${frame.text}`);
    else if (frame instanceof TTSAudioRawFrame) {
      if (!out.at(-1)?.startsWith("audio")) out.push("audio");
    } else if (frame instanceof TextFrame) out.push(`shown:${frame.text}`);
    else if (!(frame instanceof MetricsFrame)) out.push(frame.constructor.name);
  }
  return out.filter((entry) => entry !== "StartFrame");
}

function audioOf(frames: Frame[]): Int16Array {
  const chunks = frames.filter((f): f is TTSAudioRawFrame => f instanceof TTSAudioRawFrame);
  const all = new Int16Array(chunks.reduce((n, f) => n + f.audio.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    expect(chunk.sampleRate).toBe(24000);
    all.set(chunk.audio, offset);
    offset += chunk.audio.length;
  }
  return all;
}

async function expectedAudio(...sentences: string[]): Promise<Int16Array> {
  const parts = await Promise.all(sentences.map((sentence) => standIn.speech(sentence)));
  const all = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

const done = (h: ServiceHarness, replies = 1) => h.of(LLMFullResponseEndFrame).length === replies;

describe("OpenAITTSService", () => {
  test("speaks a streamed reply sentence by sentence, in order, with espeak's speech byte for byte", async () => {
    standIn.script.speechChunkBytes = 4801; // odd: samples straddle chunks
    const h = tts({ apiKey: "sk-tts" });
    await reply(h, "Hello there, Dr. Smith. It costs 3.5 dollars!\nReally? Yes");
    await eventually(() => done(h), 5000, "the reply's end");
    const sentences = ["Hello there, Dr. Smith.", "It costs 3.5 dollars!", "Really?", "Yes"];
    expect(transcript(h.frames)).toEqual([
      "LLMFullResponseStartFrame",
      "TTSStartedFrame",
      ...sentences.flatMap((s) => [`text:${s}`, "audio"]),
      "TTSStoppedFrame",
      "LLMFullResponseEndFrame",
    ]);
    expect(audioOf(h.frames)).toEqual(await expectedAudio(...sentences));
    const requests = standIn.to("speech");
    expect(requests.map((r) => r.body)).toEqual(
      sentences.map((input) => ({ model: "tts-1", input, voice: "alloy", response_format: "pcm" })),
    );
    expect(requests.every((r) => r.authorization === "Bearer sk-tts")).toBe(true);
    expect(h.of(MetricsFrame).map((m) => m.data[0])).toEqual([
      { processor: "OpenAITTSService", kind: "ttfb", valueSecs: expect.any(Number) },
    ]);
    expect(h.errors).toEqual([]);
  });

  test("the next sentences are requested while the first plays, at most maxInFlight at once, in order", async () => {
    standIn.script.realSpeech = false;
    standIn.script.chunkDelayMs = 30;
    standIn.script.speechChunkBytes = 9600;
    const h = tts({ apiKey: undefined, maxInFlight: 2 });
    const sentences = ["One one.", "Two two.", "Three three.", "Four four."];
    await reply(h, sentences.join(" "));
    await eventually(() => done(h), 10000, "the reply's end");
    const requests = standIn.to("speech");
    expect(requests.map((r) => r.body.input)).toEqual(sentences);
    expect(requests.every((r) => r.authorization === null)).toBe(true);
    // Prefetch: the second sentence was asked for before the first had finished arriving...
    expect(requests[1].at).toBeLessThan(requests[0].completedAt!);
    // ...but never more than two at once: the third waited for the first.
    expect(requests[2].at).toBeGreaterThanOrEqual(requests[0].completedAt!);
    expect(transcript(h.frames).filter((e) => e.startsWith("text:"))).toEqual(sentences.map((s) => `text:${s}`));
    expect(audioOf(h.frames)).toEqual(await expectedAudio(...sentences));
  });

  test("TTSSpeakFrame speaks its text as it is, in one request", async () => {
    const h = tts();
    await h.task.queueFrame(new TTSSpeakFrame("Welcome. Ask me anything."));
    await eventually(() => h.of(TTSStoppedFrame).length === 1, 5000, "the greeting's end");
    expect(transcript(h.frames)).toEqual([
      "TTSStartedFrame",
      "text:Welcome. Ask me anything.",
      "audio",
      "TTSStoppedFrame",
    ]);
    expect(standIn.to("speech").map((r) => r.body.input)).toEqual(["Welcome. Ask me anything."]);
  });

  test("skipTts text is shown a sentence at a time, never spoken", async () => {
    const h = tts();
    await reply(h, "Shown only. Not spoken", true);
    await eventually(() => done(h), 3000, "the reply's end");
    expect(transcript(h.frames)).toEqual([
      "LLMFullResponseStartFrame",
      "shown:Shown only.",
      "shown:Not spoken",
      "LLMFullResponseEndFrame",
    ]);
    expect(standIn.to("speech")).toEqual([]);
  });

  test("an interruption aborts every request in flight (seen on the server) and drops the rest", async () => {
    standIn.script.realSpeech = false;
    standIn.script.chunkDelayMs = 100;
    const h = tts({ maxInFlight: 3 });
    await reply(h, "First sentence here. Second sentence here. Third sentence here. Fourth sentence here.");
    await eventually(
      () => h.of(TTSAudioRawFrame).length >= 1 && standIn.to("speech").length === 3,
      5000,
      "audio playing with three requests open",
    );
    await h.task.queueFrame(new InterruptionFrame());
    await eventually(
      () => standIn.to("speech").every((r) => r.aborted),
      2000,
      "every open request aborted on the server",
    );
    const stale = h.frames.length;
    // Positive control: speech after the interruption plays, while nothing of the old reply follows.
    standIn.script.chunkDelayMs = 0;
    await h.task.queueFrame(new TTSSpeakFrame("After."));
    await eventually(() => h.of(TTSTextFrame).some((f) => f.text === "After."), 3000, "the new speech");
    await consistently(
      () => !h.frames.slice(stale).some((f) => f instanceof TTSTextFrame && f.text !== "After."),
      300,
      "nothing of the interrupted reply",
    );
    expect(standIn.to("speech").map((r) => r.body.input)).toEqual([
      "First sentence here.",
      "Second sentence here.",
      "Third sentence here.",
      "After.",
    ]);
    expect(h.errors).toEqual([]);
    expect(h.warnings.filter((line) => line.includes("service request failed"))).toEqual([]);
  });

  const failures = [
    {
      what: "401",
      failure: { status: 401, message: "Incorrect API key provided" },
      error: "OpenAITTSService: HTTP 401: Incorrect API key provided",
    },
    {
      what: "429",
      failure: { status: 429, message: "Rate limit reached" },
      error: "OpenAITTSService: HTTP 429: Rate limit reached",
    },
    { what: "500", failure: { status: 500 }, error: "OpenAITTSService: HTTP 500: The server had an error" },
    { what: "a body cut short", failure: { kind: "cut" }, error: "OpenAITTSService: " },
    {
      what: "a hang",
      failure: { kind: "hang" },
      error: "OpenAITTSService: no answer within 0.3 s waiting for the response",
    },
    {
      what: "a stall",
      failure: { kind: "stall" },
      error: "OpenAITTSService: no answer within 0.3 s waiting for the next part",
    },
    {
      what: "an endless body",
      failure: { kind: "flood" },
      error: "OpenAITTSService: response longer than 5760000 bytes",
    },
  ] as const;

  for (const { what, failure, error } of failures) {
    test(`${what}: one error per reply, its other sentences dropped, the next reply spoken`, async () => {
      standIn.script.realSpeech = false;
      standIn.script.fail = (_, index) => (index === 0 ? failure : undefined);
      const h = tts({ timeoutSecs: 0.3 });
      await reply(h, "Broken one. Broken two.");
      await eventually(() => done(h), 5000, "the failed reply's end");
      expect(h.errors).toHaveLength(1);
      expect(h.errors[0].error).toStartWith(error);
      expect(h.errors[0].fatal).toBe(false);
      const warnings = h.warnings.filter((line) => line.includes("service request failed"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("service=OpenAITTSService");
      expect(h.of(TTSTextFrame).map((f) => f.text)).not.toContain("Broken two.");
      expect(h.of(TTSStartedFrame).length).toBe(h.of(TTSStoppedFrame).length);

      await reply(h, "Working again.");
      await eventually(() => done(h, 2), 5000, "the next reply");
      expect(h.of(TTSTextFrame).at(-1)!.text).toBe("Working again.");
      expect(h.errors).toHaveLength(1);
    });
  }
});
