import { describe, expect, test } from "bun:test";
import { SentenceAggregator } from "../../lib/services/sentenceAggregator.ts";
import { EventStreamError, serverSentEvents } from "../../lib/services/serverSentEvents.ts";
import { requireKeyForOpenAI, ServiceConfigError, validateServiceConfig } from "../../lib/services/serviceConfig.ts";
import { errorReason, ServiceError } from "../../lib/services/serviceError.ts";
import { OpenAILLMService } from "../../lib/services/openaiLLM.ts";
import { OpenAITTSService } from "../../lib/services/openaiTTS.ts";

async function events(pieces: string[], max = 1000): Promise<string[]> {
  async function* chunks() {
    for (const piece of pieces) yield new TextEncoder().encode(piece);
  }
  const out: string[] = [];
  for await (const data of serverSentEvents(chunks(), max)) out.push(data);
  return out;
}

describe("server-sent events", () => {
  test("data lines, multi-line data, comments, other fields and every line ending, split anywhere", async () => {
    const stream = ': keep-alive\n\ndata: {"a":1}\n\nevent: x\r\ndata: one\r\ndata:two\nid: 7\r\n\r\ndata: [DONE]\r\r';
    const expected = ['{"a":1}', "one\ntwo", "[DONE]"];
    expect(await events([stream])).toEqual(expected);
    // Every split point, including between "\r" and "\n".
    for (let i = 1; i < stream.length; i++) {
      expect(await events([stream.slice(0, i), stream.slice(i)])).toEqual(expected);
    }
  });

  test("an event the stream cut before its blank line is dropped", async () => {
    expect(await events(["data: whole\n\ndata: cut"])).toEqual(["whole"]);
    expect(await events(["data: whole\n\ndata: cut\n"])).toEqual(["whole"]);
  });

  test("a line or an event longer than the limit is an error, not memory", async () => {
    await expect(events(["data: " + "x".repeat(2000)], 1000)).rejects.toThrow(EventStreamError);
    await expect(events([("data: " + "x".repeat(100) + "\n").repeat(20) + "\n"], 1000)).rejects.toThrow(
      "event longer than 1000",
    );
  });
});

describe("sentences", () => {
  const split = (text: string, pieceChars = 3) => {
    const aggregator = new SentenceAggregator(60);
    const sentences: string[] = [];
    for (let i = 0; i < text.length; i += pieceChars) sentences.push(...aggregator.push(text.slice(i, i + pieceChars)));
    const rest = aggregator.flush();
    return rest ? [...sentences, rest] : sentences;
  };

  test("end at . ! ? and a space, or a line break; not in decimals, abbreviations, initials, list numbers", () => {
    expect(split('Hi! It is 3.5 degrees, Dr. Smith. "Really?" she asked.\n1. First item\n2. Second, e.g. this one.'))
      .toEqual([
        "Hi!",
        "It is 3.5 degrees, Dr. Smith.",
        '"Really?"',
        "she asked.",
        "1. First item",
        "2. Second, e.g. this one.",
      ]);
    expect(split("J. R. R. Tolkien wrote it. Done")).toEqual(["J. R. R. Tolkien wrote it.", "Done"]);
  });

  test("a sentence is complete only once what follows its stop is known; the rest comes out at the flush", () => {
    const aggregator = new SentenceAggregator();
    expect(aggregator.push("It costs 3.")).toEqual([]);
    expect(aggregator.push("5 dollars. And")).toEqual(["It costs 3.5 dollars."]);
    expect(aggregator.flush()).toBe("And");
    expect(aggregator.flush()).toBeUndefined();
  });

  test("text with no stop is cut at a space once it is too long for one request", () => {
    const sentences = split("word ".repeat(40).trim(), 7);
    expect(sentences.every((s) => s.length <= 60)).toBe(true);
    expect(sentences.join(" ")).toBe("word ".repeat(40).trim());
  });
});

describe("service config", () => {
  test("OpenAI's own URL without a key is refused in one line naming the service; a key or a LAN URL passes", () => {
    const openai = { baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini" };
    expect(() => requireKeyForOpenAI("OpenAILLMService", openai)).toThrow(
      new ServiceConfigError(
        "OpenAILLMService: https://api.openai.com/v1 is OpenAI's API and needs an API key (none is set)",
      ),
    );
    expect(() => requireKeyForOpenAI("OpenAILLMService", { ...openai, apiKey: "" })).toThrow(ServiceConfigError);
    requireKeyForOpenAI("OpenAILLMService", { ...openai, apiKey: "sk-x" });
    requireKeyForOpenAI("OpenAILLMService", { baseUrl: "http://192.168.1.20:11434/v1", model: "llama3.2" });
    expect(() => new OpenAILLMService(openai)).toThrow("needs an API key");
  });

  test("bad settings are one line naming the service", () => {
    const check = (config: object) => () => validateServiceConfig("OpenAITTSService", config as never);
    expect(check({ baseUrl: "not a url", model: "m" })).toThrow('OpenAITTSService: baseUrl "not a url" is not a URL');
    expect(check({ baseUrl: "ftp://x/v1", model: "m" })).toThrow("OpenAITTSService: baseUrl must be http or https");
    expect(check({ baseUrl: "http://x/v1", model: "" })).toThrow("OpenAITTSService: model is empty");
    expect(check({ baseUrl: "http://x/v1", model: "m", timeoutSecs: 0 })).toThrow(
      "timeoutSecs must be a positive number",
    );
    expect(() => new OpenAITTSService({ baseUrl: "http://x/v1", model: "m", voice: "" })).toThrow(
      "OpenAITTSService: voice is empty",
    );
  });
});

describe("service errors", () => {
  test("the reason comes from OpenAI's error object, else the status text", () => {
    const body = JSON.stringify({
      error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" },
    });
    expect(errorReason(body, "Too Many Requests")).toBe("Rate limit reached");
    expect(errorReason("<html>", "Bad Gateway")).toBe("Bad Gateway");
    expect(errorReason(JSON.stringify({ error: "model not found" }), "Not Found")).toBe("model not found");
    expect(new ServiceError("OpenAISTTService", "Rate limit reached", 429).message)
      .toBe("OpenAISTTService: HTTP 429: Rate limit reached");
    expect(new ServiceError("OpenAISTTService", "no answer").message).toBe("OpenAISTTService: no answer");
  });
});
