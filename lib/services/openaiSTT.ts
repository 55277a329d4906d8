/**
 * OpenAISTTService: one transcription request per user turn. It keeps the audio from a little before the user started
 * speaking (VAD decides late, and the first syllable would be lost) to when they stopped, sends it as a WAV to
 * `POST {baseUrl}/audio/transcriptions`, and pushes the text as a TranscriptionFrame. Every frame passes on unchanged.
 *
 * A transcription is the user's words, so the user speaking again must not cancel it: it runs as this processor's
 * own work, in order, outside any frame's interruption, and stops only when the pipeline does.
 */
import { encodeWav } from "../media/wav.ts";
import {
  type Frame,
  InputAudioRawFrame,
  TranscriptionFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../pipeline/frames.ts";
import type { FrameDirection } from "../pipeline/frameProcessor.ts";
import { recordStageLatency } from "../pipeline/stageLatency.ts";
import type { ServiceConfig } from "./serviceConfig.ts";
import { ServiceProcessor } from "./serviceProcessor.ts";

export interface OpenAISTTOptions extends ServiceConfig {
  /** The processor's name in logs, errors and metrics. Default "OpenAISTTService". */
  name?: string;
  /** ISO-639-1 language of the speech, when known: it helps accuracy and latency. */
  language?: string;
  /** Audio kept from before the user started speaking. Default 500 ms. */
  prerollMs?: number;
  /** The longest turn sent; the rest is dropped, bounding memory per session. Default 60 s. */
  maxTurnSecs?: number;
  /** The `userId` of the TranscriptionFrames. Default "". */
  userId?: string;
}

/** The answer is `{"text": ...}`; more than this is not a transcription. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Turns waiting for their transcription; more means the service cannot keep up, and a new turn is dropped. */
const MAX_PENDING_TURNS = 4;

export class OpenAISTTService extends ServiceProcessor {
  readonly #options: OpenAISTTOptions;
  readonly #prerollMs: number;
  readonly #maxTurnMs: number;
  readonly #stopped = new AbortController();
  #recent: InputAudioRawFrame[] = [];
  #turn?: InputAudioRawFrame[];
  #turnMs = 0;
  #transcriptions = Promise.resolve();
  #pending = 0;

  constructor(options: OpenAISTTOptions) {
    super(options, "OpenAISTTService");
    this.#options = options;
    this.#prerollMs = options.prerollMs ?? 500;
    this.#maxTurnMs = (options.maxTurnSecs ?? 60) * 1000;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InputAudioRawFrame) {
      this.#listen(frame);
    } else if (frame instanceof UserStartedSpeakingFrame) {
      this.#turn = [...this.#recent];
      this.#turnMs = durationMs(this.#turn);
    } else if (frame instanceof UserStoppedSpeakingFrame) {
      const turn = this.#turn;
      this.#turn = undefined;
      if (turn?.length) this.#transcribeLater(turn, frame.createdAt);
    }
    await this.pushFrame(frame, direction);
  }

  protected override async cleanup(): Promise<void> {
    this.#stopped.abort();
    this.#turn = undefined;
    this.#recent = [];
  }

  #listen(frame: InputAudioRawFrame): void {
    this.#recent.push(frame);
    while (durationMs(this.#recent) > this.#prerollMs) this.#recent.shift();
    if (this.#turn && this.#turnMs < this.#maxTurnMs) {
      this.#turn.push(frame);
      this.#turnMs += frame.durationMs;
    }
  }

  /** `endedAt`: when VAD ended the turn (performance.now()). */
  #transcribeLater(turn: InputAudioRawFrame[], endedAt: number): void {
    if (this.#pending >= MAX_PENDING_TURNS) {
      this.logger.warn("turn dropped: transcriptions are not keeping up", {
        service: this.name,
        pending: this.#pending,
      });
      return;
    }
    this.#pending++;
    // A new turn interrupts the bot, but this turn's words still count: the transcription runs outside it.
    this.runDetached(() => {
      this.#transcriptions = this.#transcriptions
        .then(() => this.#transcribe(turn, endedAt))
        .catch((error) => this.logger.error("transcription failed", { error }))
        .finally(() => this.#pending--);
    });
  }

  async #transcribe(turn: InputAudioRawFrame[], endedAt: number): Promise<void> {
    const signal = this.#stopped.signal;
    if (signal.aborted) return;
    const request = this.request(signal);
    const { sampleRate, numChannels } = turn[0];
    const form = new FormData();
    form.append(
      "file",
      new Blob([encodeWav(joinSamples(turn), sampleRate, numChannels)], { type: "audio/wav" }),
      "turn.wav",
    );
    form.append("model", this.model);
    form.append("response_format", "json");
    if (this.#options.language) form.append("language", this.#options.language);
    const startedAt = performance.now();
    recordStageLatency("turn_end_to_stt_request", startedAt - endedAt);
    try {
      const response = await request.post("/audio/transcriptions", { form });
      await this.pushTtfb(startedAt);
      const text = transcriptText(new TextDecoder().decode(await request.bytes(response, MAX_RESPONSE_BYTES)));
      if (text) {
        await this.pushFrame(new TranscriptionFrame(text, this.#options.userId ?? "", new Date().toISOString()));
      }
    } catch (error) {
      await this.reportFailure(request.failure(error), signal);
    }
  }
}

function transcriptText(body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`malformed response: ${body.slice(0, 80)}`);
  }
  const text = (parsed as { text?: unknown } | null)?.text;
  if (typeof text !== "string") throw new Error("malformed response: no text");
  return text.trim();
}

function durationMs(frames: InputAudioRawFrame[]): number {
  return frames.reduce((sum, frame) => sum + frame.durationMs, 0);
}

function joinSamples(frames: InputAudioRawFrame[]): Int16Array {
  const samples = new Int16Array(frames.reduce((sum, frame) => sum + frame.audio.length, 0));
  let offset = 0;
  for (const frame of frames) {
    samples.set(frame.audio, offset);
    offset += frame.audio.length;
  }
  return samples;
}
