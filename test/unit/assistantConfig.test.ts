/** The assistant's settings: OpenAI defaults, where keys come from (and where they never go), start-up errors. */
import { describe, expect, test } from "bun:test";
import { serviceSettings } from "../../lib/bots/assistant.ts";
import { BUILT_IN_BOT_FUNCTIONS } from "../../lib/bots/builtInBots.ts";
import { ConfigError } from "../../lib/config/layers.ts";
import { ConfigSchema } from "../../lib/config/schema.ts";

const config = (assistant: unknown = {}) => ConfigSchema.parse({ bot: "assistant", assistant });

describe("assistant settings", () => {
  test("default to OpenAI's API and models, with the key from OPENAI_API_KEY", () => {
    const { stt, llm, tts, vad } = config().assistant;
    expect(serviceSettings("stt", stt, { OPENAI_API_KEY: "sk-test" })).toEqual({
      baseUrl: "https://api.openai.com/v1",
      model: "gpt-4o-mini-transcribe",
      timeoutSecs: 30,
      apiKey: "sk-test",
    });
    expect(llm.model).toBe("gpt-4.1-mini");
    expect(tts).toMatchObject({ model: "gpt-4o-mini-tts", voice: "alloy" });
    expect(vad.stopSecs).toBe(0.8);
  });

  test("OpenAI without a key stops the server at start-up, in one line that says what to set", () => {
    expect(() => BUILT_IN_BOT_FUNCTIONS.assistant(config(), {})).toThrow(ConfigError);
    expect(() => BUILT_IN_BOT_FUNCTIONS.assistant(config(), {})).toThrow(
      "assistant.stt: https://api.openai.com/v1 is OpenAI's API and needs an API key (none is set): " +
        "set OPENAI_API_KEY or assistant.stt.apiKey",
    );
    // An empty variable is no key either.
    expect(() => BUILT_IN_BOT_FUNCTIONS.assistant(config(), { OPENAI_API_KEY: "" })).toThrow(ConfigError);
    expect(BUILT_IN_BOT_FUNCTIONS.assistant(config(), { OPENAI_API_KEY: "sk-test" })).toBeFunction();
  });

  test("a LAN server gets no key unless one is configured for it: OPENAI_API_KEY never goes there by default", () => {
    const lan = { baseUrl: "http://192.168.1.30:11434/v1/", model: "llama3.2:3b" };
    const { llm } = config({ llm: lan }).assistant;
    expect(serviceSettings("llm", llm, { OPENAI_API_KEY: "sk-secret" })).toEqual({
      baseUrl: "http://192.168.1.30:11434/v1",
      model: "llama3.2:3b",
      timeoutSecs: 30,
      apiKey: undefined,
    });
    const withEnv = config({ llm: { ...lan, apiKeyEnv: "OLLAMA_KEY" } }).assistant.llm;
    expect(serviceSettings("llm", withEnv, { OLLAMA_KEY: "k1", OPENAI_API_KEY: "sk-secret" }).apiKey).toBe("k1");
    const withKey = config({ llm: { ...lan, apiKey: "k2" } }).assistant.llm;
    expect(serviceSettings("llm", withKey, {}).apiKey).toBe("k2");
  });

  test("bad values are refused by the schema, naming the key", () => {
    const problems = (assistant: unknown) => ConfigSchema.safeParse({ assistant }).error?.issues.map((i) => i.path.join("."));
    expect(problems({ llm: { baseUrl: "ftp://x" } })).toEqual(["assistant.llm.baseUrl"]);
    expect(problems({ tts: { voice: "" } })).toEqual(["assistant.tts.voice"]);
    expect(problems({ vad: { stopSecs: 0 } })).toEqual(["assistant.vad.stopSecs"]);
    expect(problems({ stt: { apiKeyEnv: "not a name" } })).toEqual(["assistant.stt.apiKeyEnv"]);
    expect(problems({ llm: { temperature: 2 } })).toEqual(["assistant.llm"]);
  });
});
