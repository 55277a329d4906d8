/**
 * The assistant bot: a voice assistant from config alone. Pipecat's pipeline, with OpenAI-compatible services:
 *
 *   transport.input() -> RTVI -> STT -> user context -> LLM -> greeter -> TTS -> transport.output()
 *     -> assistant context
 *
 * Silero VAD finds the user's turns; speaking over the bot interrupts it, which aborts the LLM and TTS requests in
 * flight and drops the audio not yet played. Each service is OpenAI's by default, or any server speaking its API.
 */
import { SileroVADAnalyzer } from "../audio/vad/sileroVadAnalyzer.ts";
import { ConfigError } from "../config/layers.ts";
import type { Config } from "../config/schema.ts";
import { ClientConnectedFrame, type Frame, TTSSpeakFrame } from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import { LLMAssistantAggregator, LLMUserAggregator } from "../services/contextAggregators.ts";
import { LLMContext } from "../services/llmContext.ts";
import { isOpenAI, type ServiceConfig, ServiceConfigError, validateServiceConfig } from "../services/serviceConfig.ts";
import { OpenAILLMService } from "../services/openaiLLM.ts";
import { OpenAISTTService } from "../services/openaiSTT.ts";
import { OpenAITTSService } from "../services/openaiTTS.ts";
import type { TransportParams } from "../transport/transportParams.ts";
import type { BuiltInBot, RunnerArguments } from "./bot.ts";
import { runBotPipeline } from "./botPipeline.ts";

type AssistantConfig = Config["assistant"];

/** Says the greeting once the client's media is up, through the TTS like any reply (so the context records it). */
class Greeter extends FrameProcessor {
  readonly #greeting: string;

  constructor(greeting: string) {
    super({ name: "Greeter" });
    this.#greeting = greeting;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    await this.pushFrame(frame, direction);
    if (frame instanceof ClientConnectedFrame && this.#greeting.trim()) {
      await this.pushFrame(new TTSSpeakFrame(this.#greeting));
    }
  }
}

/**
 * A service's settings as it runs them: the key is `apiKey`, else the env variable `apiKeyEnv` names, which defaults
 * to OPENAI_API_KEY for OpenAI's own URL only (an OpenAI key never goes to a LAN server unasked). Anything that
 * cannot work, OpenAI without a key above all, stops the server at start-up in one line.
 */
export function serviceSettings<S extends ServiceConfig & { apiKeyEnv?: string }>(
  name: string,
  service: S,
  env: Record<string, string | undefined>,
): Omit<S, "apiKeyEnv"> {
  const { apiKeyEnv, ...settings } = service;
  const envName = apiKeyEnv ?? (isOpenAI(service.baseUrl) ? "OPENAI_API_KEY" : undefined);
  const apiKey = settings.apiKey ?? ((envName && env[envName]) || undefined);
  const resolved = { ...settings, apiKey };
  try {
    validateServiceConfig(`assistant.${name}`, resolved);
  } catch (error) {
    if (!(error instanceof ServiceConfigError)) throw error;
    const hint = apiKey ? "" : `: set ${envName ?? "OPENAI_API_KEY"} or assistant.${name}.apiKey`;
    throw new ConfigError(`${error.message}${hint}`);
  }
  return resolved;
}

/**
 * The assistant for this config; settings that cannot work are found here, at start-up. Each session's `params` are
 * laid over the bot's own (the config's `audio.inFilter` and `audio.mixer` come this way).
 */
export function assistantBot(config: AssistantConfig, env: Record<string, string | undefined>): BuiltInBot {
  const stt = serviceSettings("stt", config.stt, env);
  const llm = serviceSettings("llm", config.llm, env);
  const tts = serviceSettings("tts", config.tts, env);
  return async (args: RunnerArguments, params: TransportParams = {}) => {
    const vadAnalyzer = await SileroVADAnalyzer.create({ stopSecs: config.vad.stopSecs });
    const context = new LLMContext([{ role: "system", content: config.systemPrompt }]);
    await runBotPipeline(
      args,
      { audioInEnabled: true, audioOutEnabled: true, audioOutSampleRate: 24000, vadAnalyzer, ...params },
      () => [
        new OpenAISTTService({ ...stt, userId: args.webrtcConnection.pcId }),
        new LLMUserAggregator(context),
        new OpenAILLMService(llm),
        new Greeter(config.greeting),
        new OpenAITTSService(tts),
      ],
      { rtvi: { llm: true }, afterOutput: [new LLMAssistantAggregator(context)], params: { enableMetrics: true } },
    );
  };
}
