/**
 * The RTVI observer: watches frames move through the pipeline and tells the client what is happening, as Pipecat's
 * RTVIObserver does: who is speaking, what was transcribed, what the bot says, and metrics. Messages are sent through
 * the RTVIProcessor, so they reach the client in pipeline order.
 */
import {
  BotStartedSpeakingFrame,
  BotStoppedSpeakingFrame,
  type Frame,
  MetricsFrame,
  TextFrame,
  TranscriptionFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../pipeline/frames.ts";
import { DOWNSTREAM, type FrameObserver, type FramePushed } from "../pipeline/frameProcessor.ts";
import { rtviMessage, type RTVIMessage } from "./messages.ts";
import type { RTVIProcessor } from "./rtviProcessor.ts";

export interface RTVIObserverOptions {
  /** user-/bot- started/stopped speaking (default on). */
  speaking?: boolean;
  /** user-transcription (default on). */
  transcriptions?: boolean;
  /** bot-output for text the bot produces (default on). */
  botOutput?: boolean;
  /** metrics (default on). */
  metrics?: boolean;
}

/** A frame is seen at every hop; remembering the last ids is enough to report each once. */
const SEEN_LIMIT = 512;

export class RTVIObserver implements FrameObserver {
  readonly #rtvi: RTVIProcessor;
  readonly #options: Required<RTVIObserverOptions>;
  #seen = new Set<number>();

  constructor(rtvi: RTVIProcessor, options: RTVIObserverOptions = {}) {
    this.#rtvi = rtvi;
    this.#options = { speaking: true, transcriptions: true, botOutput: true, metrics: true, ...options };
  }

  onPushFrame({ frame, direction, source }: FramePushed): void {
    // Speaking frames travel both ways; the downstream copy is the one to report. The RTVI processor's own
    // messages are not news.
    if (direction !== DOWNSTREAM || source === this.#rtvi || this.#seen.has(frame.id)) return;
    const message = this.#messageFor(frame);
    if (!message) return;
    this.#seen.add(frame.id);
    if (this.#seen.size > SEEN_LIMIT) this.#seen.delete(this.#seen.values().next().value!);
    this.#rtvi.send(message).catch(() => {});
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
      return rtviMessage("bot-output", { text: frame.text, aggregated_by: "sentence", will_be_spoken: false, spoken_status: "new" });
    }
    if (metrics && frame instanceof MetricsFrame) {
      const processing = frame.data.filter((d) => d.kind === "processing").map((d) => ({ processor: d.processor, value: d.valueSecs }));
      const ttfb = frame.data.filter((d) => d.kind === "ttfb").map((d) => ({ processor: d.processor, value: d.valueSecs }));
      return rtviMessage("metrics", { processing, ttfb });
    }
    return undefined;
  }
}
