/**
 * The RTVI observer: watches frames move through the pipeline and tells the client what is happening, as Pipecat's
 * RTVIObserver does: who is speaking, what was transcribed, what the bot says, and metrics. Messages are sent through
 * the RTVIProcessor, so they reach the client in pipeline order.
 */
import {
  BotStartedSpeakingFrame,
  BotStoppedSpeakingFrame,
  type Frame,
  LLMFullResponseEndFrame,
  LLMFullResponseStartFrame,
  LLMTextFrame,
  MetricsFrame,
  TextFrame,
  TranscriptionFrame,
  TTSStartedFrame,
  TTSStoppedFrame,
  TTSTextFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../pipeline/frames.ts";
import { DOWNSTREAM, type FrameObserver, type FrameProcessor, type FramePushed } from "../pipeline/frameProcessor.ts";
import { botOutputMessage, rtviMessage, type RTVIMessage } from "./messages.ts";
import type { RTVIProcessor } from "./rtviProcessor.ts";

export interface RTVIObserverOptions {
  /** user-/bot- started/stopped speaking (default on). */
  speaking?: boolean;
  /** user-transcription (default on). */
  transcriptions?: boolean;
  /** bot-output for text the bot produces (default on). */
  botOutput?: boolean;
  /** bot-llm-started, bot-llm-text and bot-llm-stopped (default on). */
  llm?: boolean;
  /** bot-tts-started, bot-tts-text and bot-tts-stopped (default on). */
  tts?: boolean;
  /** metrics (default on). */
  metrics?: boolean;
  /**
   * The output transport. TTS text is then reported as it leaves the output transport, which is when its audio
   * starts playing, so captions keep pace with the voice; without it, as soon as the TTS service produces it.
   */
  output?: FrameProcessor;
}

/** A frame is seen at every hop; remembering the last ids is enough to report each once. */
const SEEN_LIMIT = 512;

export class RTVIObserver implements FrameObserver {
  readonly #rtvi: RTVIProcessor;
  readonly #options: Required<Omit<RTVIObserverOptions, "output">>;
  readonly #output?: FrameProcessor;
  #seen = new Set<number>();

  constructor(rtvi: RTVIProcessor, options: RTVIObserverOptions = {}) {
    this.#rtvi = rtvi;
    const { output, ...switches } = options;
    const all = { speaking: true, transcriptions: true, botOutput: true, llm: true, tts: true, metrics: true };
    this.#options = { ...all, ...switches };
    this.#output = output;
  }

  onPushFrame({ frame, direction, source }: FramePushed): void {
    // Speaking frames travel both ways; the downstream copy is the one to report. The RTVI processor's own
    // messages are not news.
    if (direction !== DOWNSTREAM || source === this.#rtvi || this.#seen.has(frame.id)) return;
    if (frame instanceof TTSTextFrame && this.#output && source !== this.#output) return;
    const messages = this.#messagesFor(frame);
    if (messages.length === 0) return;
    this.#seen.add(frame.id);
    if (this.#seen.size > SEEN_LIMIT) this.#seen.delete(this.#seen.values().next().value!);
    for (const message of messages) this.#rtvi.send(message).catch(() => {});
  }

  #messagesFor(frame: Frame): RTVIMessage[] {
    const { llm, tts, botOutput } = this.#options;
    if (frame instanceof LLMTextFrame) return llm ? [rtviMessage("bot-llm-text", { text: frame.text })] : [];
    if (frame instanceof TTSTextFrame) {
      return [
        ...(tts ? [rtviMessage("bot-tts-text", { text: frame.text })] : []),
        ...(botOutput ? [botOutputMessage(frame.text, true)] : []),
      ];
    }
    if (llm && frame instanceof LLMFullResponseStartFrame) return [rtviMessage("bot-llm-started")];
    if (llm && frame instanceof LLMFullResponseEndFrame) return [rtviMessage("bot-llm-stopped")];
    if (tts && frame instanceof TTSStartedFrame) return [rtviMessage("bot-tts-started")];
    if (tts && frame instanceof TTSStoppedFrame) return [rtviMessage("bot-tts-stopped")];
    const message = this.#messageFor(frame);
    return message ? [message] : [];
  }

  #messageFor(frame: Frame): RTVIMessage | undefined {
    const { speaking, transcriptions, botOutput, metrics } = this.#options;
    if (speaking) {
      if (frame instanceof UserStartedSpeakingFrame) return rtviMessage("user-started-speaking");
      if (frame instanceof UserStoppedSpeakingFrame) return rtviMessage("user-stopped-speaking");
      if (frame instanceof BotStartedSpeakingFrame) return rtviMessage("bot-started-speaking");
      if (frame instanceof BotStoppedSpeakingFrame) return rtviMessage("bot-stopped-speaking");
    }
    if (transcriptions && frame instanceof TranscriptionFrame) {
      return rtviMessage("user-transcription", {
        text: frame.text,
        user_id: frame.userId,
        timestamp: frame.timestamp,
        final: frame.final,
      });
    }
    if (botOutput && frame instanceof TextFrame && !(frame instanceof TranscriptionFrame)) {
      return botOutputMessage(frame.text, false);
    }
    if (metrics && frame instanceof MetricsFrame) {
      const processing = frame.data.filter((d) => d.kind === "processing").map((d) => ({ processor: d.processor, value: d.valueSecs }));
      const ttfb = frame.data.filter((d) => d.kind === "ttfb").map((d) => ({ processor: d.processor, value: d.valueSecs }));
      return rtviMessage("metrics", { processing, ttfb });
    }
    return undefined;
  }
}

