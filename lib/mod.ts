/**
 * smallwebrtc's public API: everything a bot needs, and the only path users import from.
 *
 *   import { runMain, SmallWebRTCTransport, Pipeline, PipelineTask, PipelineRunner, type RunnerArguments } from "./lib/mod.ts";
 */

// Running bots
export { runMain, type RunMainOptions } from "./runner/runMain.ts";
export type { Bot, RunnerArguments } from "./bots/bot.ts";
export { type BotContext, type BotPipelineOptions, runBotPipeline } from "./bots/botPipeline.ts";
export { echoBot, EchoProcessor } from "./bots/echo.ts";
export { parrotBot, ParrotProcessor, type ParrotOptions } from "./bots/parrot.ts";
export { mirrorBot, MirrorProcessor } from "./bots/mirror.ts";

// Pipeline
export * from "./pipeline/frames.ts";
export {
  DOWNSTREAM,
  type FrameDirection,
  type FrameObserver,
  FrameProcessor,
  type FramePushed,
  UPSTREAM,
} from "./pipeline/frameProcessor.ts";
export { Pipeline } from "./pipeline/pipeline.ts";
export { PipelineRunner } from "./pipeline/pipelineRunner.ts";
export { PipelineTask, type PipelineTaskEvents, type PipelineTaskOptions } from "./pipeline/pipelineTask.ts";

// Transport and connection
export { SmallWebRTCTransport, type TransportEvents } from "./transport/smallWebRTCTransport.ts";
export type { TransportParams } from "./transport/transportParams.ts";
export type { AudioMixer } from "./media/audioMixer.ts";
export type { MixerSettings } from "./pipeline/mixerSettings.ts";
export { WavLoopMixer, type WavLoopMixerOptions } from "./media/wavLoopMixer.ts";
export { WavError } from "./media/wav.ts";
export {
  type Answer,
  type ConnectionEvents,
  type ConnectionState,
  RECEIVER,
  SmallWebRTCConnection,
} from "./webrtc/connection.ts";
export { SignallingError, type SignallingErrorReason } from "./webrtc/errors.ts";

// Voice activity detection
export { SileroVADAnalyzer } from "./audio/vad/sileroVadAnalyzer.ts";
export { DEFAULT_VAD_PARAMS, type VADAnalyzer, type VADParams, type VADState } from "./audio/vad/vadAnalyzer.ts";

// Filters on client audio
export type { AudioFilter } from "./audio/filters/audioFilter.ts";
export { RNNoiseFilter, type RNNoiseFilterOptions } from "./audio/filters/rnnoiseFilter.ts";

// RTVI
export {
  type ClientMessage,
  type ClientMessageKind,
  RTVIProcessor,
  type RTVIEvents,
  type RTVIProcessorOptions,
} from "./rtvi/rtviProcessor.ts";
export { RTVIObserver, type RTVIObserverOptions } from "./rtvi/rtviObserver.ts";
export { RTVI_PROTOCOL_VERSION, type RTVIMessage, rtviMessage } from "./rtvi/messages.ts";

// Speech and LLM services (OpenAI and OpenAI-compatible servers)
export { OpenAISTTService, type OpenAISTTOptions } from "./services/openaiSTT.ts";
export { OpenAILLMService, type OpenAILLMOptions } from "./services/openaiLLM.ts";
export { OpenAITTSService, type OpenAITTSOptions, TTS_SAMPLE_RATE } from "./services/openaiTTS.ts";
export { LLMContext, type LLMContextOptions } from "./services/llmContext.ts";
export { LLMAssistantAggregator, LLMUserAggregator } from "./services/contextAggregators.ts";
export {
  DEFAULT_TIMEOUT_SECS,
  requireKeyForOpenAI,
  type ServiceConfig,
  ServiceConfigError,
} from "./services/serviceConfig.ts";
export { ServiceError } from "./services/serviceError.ts";

// Serving without the runner
export { SmallWebRTCServer, type ServerOptions } from "./server/smallWebRTCServer.ts";
export { type Config, ConfigSchema } from "./config/schema.ts";
export { loadConfig } from "./config/load.ts";
export { createLogger, type Logger, type LogLevel } from "./log/logger.ts";
