import { describe, expect, test } from "bun:test";
import {
  InterruptionFrame,
  LLMContextFrame,
  LLMFullResponseEndFrame,
  LLMFullResponseStartFrame,
  LLMTextFrame,
  MetricsFrame,
} from "../../lib/pipeline/frames.ts";
import { type OpenAILLMOptions, OpenAILLMService } from "../../lib/services/openaiLLM.ts";
import { consistently, eventually } from "../support/eventually.ts";
import { type ServiceHarness, serviceTestBed } from "../support/serviceHarness.ts";

const { standIn, run } = serviceTestBed();

const KEY = "sk-test-0123456789abcdef";
const user = (content: string) => new LLMContextFrame([{ role: "user", content }]);

function llm(options: Partial<OpenAILLMOptions> = {}) {
  return run(new OpenAILLMService({ baseUrl: standIn.baseUrl, model: "gpt-test", apiKey: KEY, ...options }));
}

const replyText = (h: ServiceHarness) => h.of(LLMTextFrame).map((frame) => frame.text).join("");
const replies = (h: ServiceHarness) => h.of(LLMFullResponseEndFrame).length;

describe("OpenAILLMService", () => {
  test("streams the reply (start, text per delta, end) from OpenAI's streaming chat completion", async () => {
    standIn.script.reply = (messages) => `You said: ${messages.at(-1)!.content}. Anything else?`;
    const h = llm({ temperature: 0.5 });
    await h.task.queueFrame(
      new LLMContextFrame([{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }], true),
    );
    await eventually(() => replies(h) === 1, 3000, "the reply's end");
    expect(replyText(h)).toBe("You said: hi. Anything else?");
    expect(h.of(LLMTextFrame).length).toBe(5);
    expect(h.of(LLMTextFrame).every((frame) => frame.skipTts)).toBe(true);
    const kinds = h.frames.filter((f) =>
      f instanceof LLMFullResponseStartFrame || f instanceof LLMFullResponseEndFrame ||
      f instanceof LLMTextFrame
    ).map((f) => f.constructor.name);
    expect(kinds[0]).toBe("LLMFullResponseStartFrame");
    expect(kinds.at(-1)).toBe("LLMFullResponseEndFrame");
    const [request] = standIn.to("chat");
    expect(request.authorization).toBe(`Bearer ${KEY}`);
    expect(request.contentType).toBe("application/json");
    expect(request.body).toEqual({
      model: "gpt-test",
      messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }],
      stream: true,
      temperature: 0.5,
    });
    const [metrics] = h.of(MetricsFrame);
    expect(metrics.data).toEqual([{ processor: "OpenAILLMService", kind: "ttfb", valueSecs: expect.any(Number) }]);
    expect(h.errors).toEqual([]);
  });

  test("time to first byte is reported only when the pipeline enables metrics", async () => {
    const h = run(new OpenAILLMService({ baseUrl: standIn.baseUrl, model: "gpt-test" }), { enableMetrics: false });
    await h.task.queueFrame(user("hi"));
    await eventually(() => replies(h) === 1, 3000, "the reply");
    expect(h.of(MetricsFrame)).toEqual([]);
  });

  test("with no key no Authorization header is sent", async () => {
    const h = llm({ apiKey: undefined });
    await h.task.queueFrame(user("hi"));
    await eventually(() => replies(h) === 1, 3000, "the reply");
    expect(replyText(h)).toBe("Hi! How can I help you today?");
    expect(standIn.to("chat")[0].authorization).toBeNull();
  });

  const failures = [
    {
      what: "401",
      failure: { status: 401, message: "Incorrect API key provided: sk-tes***cdef.", code: "invalid_api_key" },
      error: "OpenAILLMService: HTTP 401: Incorrect API key provided: sk-tes***cdef.",
    },
    {
      what: "429",
      failure: {
        status: 429,
        message: "Rate limit reached for requests",
        type: "requests",
        code: "rate_limit_exceeded",
      },
      error: "OpenAILLMService: HTTP 429: Rate limit reached for requests",
    },
    {
      what: "500",
      failure: { status: 500 },
      error: "OpenAILLMService: HTTP 500: The server had an error while processing your request. Sorry about that!",
    },
    {
      what: "a 502 page from a proxy",
      failure: { status: 502, rawBody: "<html>bad</html>" },
      error: "OpenAILLMService: HTTP 502: Bad Gateway",
    },
    { what: "a malformed chunk", failure: { kind: "malformed" }, error: "OpenAILLMService: malformed chunk: " },
    {
      what: "a stream without [DONE]",
      failure: { kind: "noDone" },
      error: "OpenAILLMService: stream ended before data: [DONE]",
    },
    { what: "a cut stream", failure: { kind: "cut" }, error: "OpenAILLMService: " },
    {
      what: "a hang",
      failure: { kind: "hang" },
      error: "OpenAILLMService: no answer within 0.3 s waiting for the response",
    },
    {
      what: "a stalled stream",
      failure: { kind: "stall" },
      error: "OpenAILLMService: no answer within 0.3 s waiting for the next part of the response",
    },
    {
      what: "an endless line",
      failure: { kind: "flood" },
      error: "OpenAILLMService: event longer than 262144 characters",
    },
  ] as const;

  for (const { what, failure, error } of failures) {
    test(`${what}: a non-fatal error with the reason, one warning, the reply closed, the next turn works`, async () => {
      standIn.script.fail = (_, index) => (index === 0 ? failure : undefined);
      const h = llm({ timeoutSecs: 0.3 });
      await h.task.queueFrame(user("first"));
      await eventually(() => h.errors.length === 1 && replies(h) === 1, 3000, "the error and the reply's end");
      expect(h.errors[0].error.startsWith(error)).toBe(true);
      expect(h.errors[0].error).not.toContain("\n");
      expect(h.errors[0].fatal).toBe(false);
      expect(h.errors[0].processor).toBe("OpenAILLMService");
      const warnings = h.warnings.filter((line) => line.includes("service request failed"));
      expect(warnings.length).toBe(1);
      expect(warnings[0]).toContain("service=OpenAILLMService");
      if ("status" in failure) expect(warnings[0]).toContain(`status=${failure.status}`);
      expect(h.warnings.join("\n")).not.toContain(KEY);
      // Whatever the server did, the client let go of the request.
      const [request] = standIn.to("chat");
      const cutByServer = "kind" in failure && failure.kind === "cut";
      await eventually(
        () => request.aborted || request.completed || "status" in failure || cutByServer,
        2000,
        "the request closed",
      );

      const before = h.of(LLMTextFrame).length;
      await h.task.queueFrame(user("second"));
      await eventually(() => replies(h) === 2, 3000, "the second reply");
      expect(h.of(LLMTextFrame).slice(before).map((f) => f.text).join("")).toBe("Hi! How can I help you today?");
      expect(h.errors.length).toBe(1);
    });
  }

  test("a key echoed in an error body never reaches the error or the log", async () => {
    standIn.script.fail = () => ({ status: 401, message: `Incorrect API key provided: ${KEY}` });
    const h = llm();
    await h.task.queueFrame(user("hi"));
    await eventually(() => h.errors.length === 1, 3000, "the error");
    expect(h.errors[0].error).toBe("OpenAILLMService: HTTP 401: Incorrect API key provided: ***");
    expect(h.warnings.join("\n")).not.toContain(KEY);
    expect(h.warnings.join("\n")).toContain("Incorrect API key provided: ***");
  });

  test("an interruption aborts the request (the server sees it go), with no error and no stale text", async () => {
    standIn.script.chunkDelayMs = 150;
    const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
    standIn.script.reply = (messages) => messages.at(-1)!.content === "long" ? long : "Short.";
    const h = llm();
    await h.task.queueFrame(user("long"));
    await eventually(() => h.of(LLMTextFrame).length >= 1, 3000, "the first words");
    await h.task.queueFrame(new InterruptionFrame());
    // Well before the 6 s the whole reply would take.
    await eventually(() => standIn.to("chat")[0].aborted, 1000, "the server seeing the request aborted");
    const stale = h.of(LLMTextFrame).length;
    // Positive control: the next turn is answered in full while the old one stays silent.
    standIn.script.chunkDelayMs = 0;
    await h.task.queueFrame(user("short"));
    await eventually(() => h.of(LLMTextFrame).some((f) => f.text === "Short."), 3000, "the next reply");
    await consistently(() => h.of(LLMTextFrame).length === stale + 1, 400, "no stale text after the interruption");
    expect(h.errors).toEqual([]);
    expect(h.warnings.filter((line) => line.includes("service request failed"))).toEqual([]);
    expect(h.of(LLMTextFrame).map((f) => f.text).join("")).not.toContain("word39");
  });
});
