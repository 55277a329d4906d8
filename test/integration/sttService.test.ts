import { describe, expect, test } from "bun:test";
import {
  InputAudioRawFrame,
  InterruptionFrame,
  MetricsFrame,
  TranscriptionFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../../lib/pipeline/frames.ts";
import { type OpenAISTTOptions, OpenAISTTService } from "../../lib/services/openaiSTT.ts";
import { consistently, eventually } from "../support/eventually.ts";
import { type ServiceHarness, serviceTestBed } from "../support/serviceHarness.ts";

const { standIn, run } = serviceTestBed();

function stt(options: Partial<OpenAISTTOptions> = {}) {
  return run(new OpenAISTTService({ baseUrl: standIn.baseUrl, model: "whisper-1", ...options }));
}

/** 20 ms of 16 kHz audio whose every sample is `value`, so the WAV shows which frames it holds. */
const audio = (value: number) => new InputAudioRawFrame(new Int16Array(320).fill(value), 16000);

/** A turn: `before` frames of 1s, the user starts, `during` frames of 2s, the user stops. */
async function speak(h: ServiceHarness, before: number, during: number): Promise<void> {
  for (let i = 0; i < before; i++) await h.task.queueFrame(audio(1));
  await h.task.queueFrame(new UserStartedSpeakingFrame());
  for (let i = 0; i < during; i++) await h.task.queueFrame(audio(2));
  await h.task.queueFrame(new UserStoppedSpeakingFrame());
}

/** The samples of a 16-bit mono WAV, after checking its header. */
function wavSamples(bytes: Uint8Array, rate: number): Int16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("RIFF");
  expect(view.getUint16(20, true)).toBe(1);
  expect(view.getUint16(22, true)).toBe(1);
  expect(view.getUint32(24, true)).toBe(rate);
  expect(view.getUint16(34, true)).toBe(16);
  expect(view.getUint32(40, true)).toBe(bytes.length - 44);
  return new Int16Array(bytes.slice(44).buffer);
}

describe("OpenAISTTService", () => {
  test("one request per turn, a WAV of the turn and its pre-roll; the transcript comes out, audio passes", async () => {
    standIn.script.transcript = "  What time is it?  ";
    const h = stt({ apiKey: "sk-stt", prerollMs: 100, userId: "user-1" });
    await speak(h, 30, 50);
    const transcription = await eventually(() => h.of(TranscriptionFrame)[0], 3000, "the transcription");
    expect(transcription.text).toBe("What time is it?");
    expect(transcription.userId).toBe("user-1");
    expect(Math.abs(Date.parse(transcription.timestamp) - Date.now())).toBeLessThan(5000);
    const [request] = standIn.to("transcriptions");
    expect(request.authorization).toBe("Bearer sk-stt");
    expect(request.contentType).toStartWith("multipart/form-data");
    expect(request.body.model).toBe("whisper-1");
    expect(request.body.response_format).toBe("json");
    const file = request.body.file as { name: string; type: string; bytes: Uint8Array };
    expect(file.type).toMatch(/^audio\/(x-)?wav/);
    expect(file.name).toBe("turn.wav");
    const samples = wavSamples(file.bytes, 16000);
    // 100 ms of pre-roll (5 frames of 1s), then the 50 frames of the turn.
    expect(samples.length).toBe(55 * 320);
    expect(samples[0]).toBe(1);
    expect(samples[5 * 320 - 1]).toBe(1);
    expect(samples[5 * 320]).toBe(2);
    expect(h.of(InputAudioRawFrame).length).toBe(80);
    expect(h.of(MetricsFrame)[0].data[0]).toMatchObject({ processor: "OpenAISTTService", kind: "ttfb" });
    expect(h.errors).toEqual([]);
  });

  test("no key: no Authorization header", async () => {
    const h = stt();
    await speak(h, 0, 5);
    await eventually(() => h.of(TranscriptionFrame).length === 1, 3000, "the transcription");
    expect(standIn.to("transcriptions")[0].authorization).toBeNull();
  });

  test("empty text pushes nothing; the next turn's does", async () => {
    standIn.script.transcript = " ";
    const h = stt();
    await speak(h, 0, 5);
    await eventually(() => standIn.to("transcriptions")[0]?.completed, 3000, "the first answer");
    standIn.script.transcript = "Yes.";
    await speak(h, 0, 5);
    await eventually(() => h.of(TranscriptionFrame).length > 0, 3000, "the second transcription");
    expect(h.of(TranscriptionFrame).map((t) => t.text)).toEqual(["Yes."]);
  });

  test("a turn is bounded: audio past maxTurnSecs is not sent", async () => {
    const h = stt({ prerollMs: 0, maxTurnSecs: 0.2 });
    await speak(h, 0, 50);
    await eventually(() => h.of(TranscriptionFrame).length === 1, 3000, "the transcription");
    const file = standIn.to("transcriptions")[0].body.file as { bytes: Uint8Array };
    expect(wavSamples(file.bytes, 16000).length).toBe(10 * 320);
  });

  test("the user speaking again does not cancel the previous turn's transcription", async () => {
    standIn.script.firstChunkDelayMs = 300;
    const h = stt();
    await speak(h, 0, 5);
    await eventually(() => standIn.to("transcriptions").length === 1, 3000, "the request sent");
    await h.task.queueFrame(new UserStartedSpeakingFrame());
    await h.task.queueFrame(new InterruptionFrame());
    await eventually(() => h.of(TranscriptionFrame).length === 1, 3000, "the transcription despite the interruption");
    expect(standIn.to("transcriptions")[0].aborted).toBe(false);
  });

  const failures = [
    {
      what: "401",
      failure: { status: 401, message: "Incorrect API key provided" },
      error: "OpenAISTTService: HTTP 401: Incorrect API key provided",
    },
    {
      what: "429",
      failure: { status: 429, message: "Rate limit reached" },
      error: "OpenAISTTService: HTTP 429: Rate limit reached",
    },
    { what: "500", failure: { status: 500 }, error: "OpenAISTTService: HTTP 500: The server had an error" },
    {
      what: "a body that is not JSON",
      failure: { kind: "malformed" },
      error: "OpenAISTTService: malformed response: <html>",
    },
    {
      what: "a hang",
      failure: { kind: "hang" },
      error: "OpenAISTTService: no answer within 0.3 s waiting for the response",
    },
    {
      what: "an endless body",
      failure: { kind: "flood" },
      error: "OpenAISTTService: response longer than 1048576 bytes",
    },
  ] as const;

  for (const { what, failure, error } of failures) {
    test(`${what}: a non-fatal error naming the service, one warning, and the next turn is transcribed`, async () => {
      standIn.script.fail = (_, index) => (index === 0 ? failure : undefined);
      const h = stt({ timeoutSecs: 0.3 });
      await speak(h, 0, 5);
      await eventually(() => h.errors.length === 1, 3000, "the error");
      expect(h.errors[0].error).toStartWith(error);
      expect(h.errors[0].fatal).toBe(false);
      const warnings = h.warnings.filter((line) => line.includes("service request failed"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("service=OpenAISTTService");
      if ("status" in failure) expect(warnings[0]).toContain(`status=${failure.status}`);
      if ("kind" in failure && failure.kind !== "malformed") {
        await eventually(
          () => standIn.to("transcriptions")[0].aborted,
          2000,
          "the server seeing the request abandoned",
        );
      }
      await speak(h, 0, 5);
      await eventually(() => h.of(TranscriptionFrame).length === 1, 3000, "the next turn's transcription");
      await consistently(() => h.errors.length === 1, 100, "no second error");
    });
  }
});
