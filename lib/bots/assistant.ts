/**
 * The assistant bot: a voice assistant from config alone. Pipecat's pipeline, with OpenAI-compatible services:
 *
 *   transport.input() -> RTVI -> STT -> user context -> LLM -> greeter -> TTS -> transport.output() -> assistant context
 *
 * Silero VAD finds the user's turns; speaking over the bot interrupts it, which aborts the LLM and TTS requests in
 * flight and drops the audio not yet played. Each service is OpenAI's by default, or any server speaking its API.
 */
import { SileroVADAnalyzer } from "../audio/vad/sileroVadAnalyzer.ts";
import { ConfigError } from "../config/layers.ts";
import { type Config, OPENAI_BASE_URL } from "../config/schema.ts";
import { ClientConnectedFrame, type Frame, TTSSpeakFrame } from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import { LLMAssistantAggregator, LLMUserAggregator } from "../services/contextAggregators.ts";
import { LLMContext } from "../services/llmContext.ts";
import { OpenAILLMService } from "../services/openaiLLM.ts";
import { OpenAISTTService } from "../services/openaiSTT.ts";
import { OpenAITTSService } from "../services/openaiTTS.ts";
import type { Bot } from "./bot.ts";
import { runBotPipeline } from "./botPipeline.ts";

type AssistantConfig = Config["assistant"];
type ServiceConfig = AssistantConfig["llm"];

/** Says the greeting once the client's media is up, through the TTS like any reply (so the context records it). */
class Greeter extends FrameProcessor {
  readonly #greeting: string;

  constructor(greeting: string) {
    super({ name: "Greeter" });
    this.#greeting = greeting;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    await this.pushFrame(frame, direction);
    if (frame instanceof ClientConnectedFrame && this.#greeting.trim()) await this.pushFrame(new TTSSpeakFrame(this.#greeting));
  }
}

/**
 * The key a service sends: `apiKey`, else the env variable `apiKeyEnv` names (OPENAI_API_KEY by default for OpenAI's
 * own URL only). OpenAI without a key would fail every turn, so it stops the server at start-up instead.
 */
export function serviceApiKey(
  name: string,
  service: ServiceConfig,
  env: Record<string, string | undefined>,
): string | undefined {
  const isOpenAI = service.baseUrl === OPENAI_BASE_URL;
  const envName = service.apiKeyEnv ?? (isOpenAI ? "OPENAI_API_KEY" : undefined);
  const key = service.apiKey ?? (envName ? env[envName] || undefined : undefined);
  if (!key && isOpenAI) {
    throw new ConfigError(
      `assistant.${name}: OpenAI's API needs a key: set ${envName ?? "OPENAI_API_KEY"} or assistant.${name}.apiKey ` +
        `(or point assistant.${name}.baseUrl at your own server)`,
    );
  }
  return key;
}

/** The assistant for this config; missing keys are found here, at start-up. */
export function assistantBot(config: AssistantConfig, env: Record<string, string | undefined>): Bot {
  const service = (name: "stt" | "llm" | "tts") => {
    const { apiKeyEnv: _, ...settings } = config[name];
    return { ...settings, apiKey: serviceApiKey(name, config[name], env) };
  };
  const stt = service("stt");
  const llm = service("llm");
  const tts = service("tts");
  return async (args) => {
    const vadAnalyzer = await SileroVADAnalyzer.create({ stopSecs: config.vad.stopSecs });
    const context = new LLMContext([{ role: "system", content: config.systemPrompt }]);
    await runBotPipeline(
      args,
      { audioInEnabled: true, audioOutEnabled: true, audioOutSampleRate: 24000, vadAnalyzer },
      () => [
        new OpenAISTTService(stt),
        new LLMUserAggregator(context),
        new OpenAILLMService(llm),
        new Greeter(config.greeting),
        new OpenAITTSService(tts),
      ],
      { rtvi: { llm: true }, afterOutput: [new LLMAssistantAggregator(context)] },
    );
  };
}
