/**
 * OpenAITTSService: speaks LLM replies sentence by sentence with `POST {baseUrl}/audio/speech` (`response_format:
 * "pcm"`: 24 kHz 16-bit mono) and pushes the audio as the bytes arrive. While one sentence plays, the next few are
 * already being synthesised, so they follow without a gap; output stays strictly in order.
 *
 * Per reply, downstream sees TTSStartedFrame before the first audio, a TTSTextFrame just before each sentence's audio
 * (captions, and what the context records as said), and TTSStoppedFrame at the end. Text marked skipTts is shown, not
 * spoken: it goes on as TextFrames, a sentence at a time. An interruption aborts every request and drops the rest.
 */
import {
  CancelFrame,
  EndFrame,
  type Frame,
  InterruptionFrame,
  LLMFullResponseEndFrame,
  LLMFullResponseStartFrame,
  LLMTextFrame,
  SystemFrame,
  TextFrame,
  TTSAudioRawFrame,
  TTSSpeakFrame,
  TTSStartedFrame,
  TTSStoppedFrame,
  TTSTextFrame,
} from "../pipeline/frames.ts";
import { DOWNSTREAM, type FrameDirection } from "../pipeline/frameProcessor.ts";
import { SentenceAggregator } from "./sentenceAggregator.ts";
import type { ServiceConfig } from "./serviceConfig.ts";
import { ServiceProcessor } from "./serviceProcessor.ts";
import { SpeechStream } from "./speechStream.ts";

export interface OpenAITTSOptions extends ServiceConfig {
  /** The processor's name in logs, errors and metrics. Default "OpenAITTSService". */
  name?: string;
  /** The voice, e.g. "alloy" (the default, as in Pipecat) on OpenAI or "af_heart" on Kokoro-FastAPI. */
  voice?: string;
  /** Sentences being synthesised at once, the one playing included. Default 3. */
  maxInFlight?: number;
}

/** OpenAI's `pcm` format: raw 24 kHz 16-bit signed little-endian mono. */
export const TTS_SAMPLE_RATE = 24000;
const BYTES_PER_SECOND = TTS_SAMPLE_RATE * 2;
/** One sentence's speech: more than this is a server gone wrong. */
const MAX_SENTENCE_BYTES = 120 * BYTES_PER_SECOND;
/** Speech read ahead per waiting sentence. */
const MAX_BUFFERED_BYTES = 30 * BYTES_PER_SECOND;
/** Outputs (sentences and frames) waiting their turn; beyond this, frames wait upstream. */
const MAX_QUEUED_OUTPUTS = 64;

/** One reply: its requests can be dropped together when one fails. */
class Reply {
  readonly abandoned = new AbortController();
  readonly signal: AbortSignal;
  /** TTSStartedFrame went out: the reply's audio has begun. */
  started = false;
  constructor(readonly interrupted: AbortSignal) {
    this.signal = AbortSignal.any([interrupted, this.abandoned.signal]);
  }
}

type Output =
  | { frame: Frame; direction: FrameDirection }
  | { sentence: string; reply: Reply; stream?: SpeechStream }
  | { endOf: Reply };

/** Everything between two interruptions: the outputs in order, and the player that pushes them. */
class SpeechTurn {
  readonly interrupted = new AbortController();
  readonly outputs: Output[] = [];
  readonly spoken = new SentenceAggregator();
  readonly shown = new SentenceAggregator();
  reply?: Reply;
  playing?: Promise<void>;
  /** Wakes a frame waiting for room among the outputs. */
  room?: () => void;
}

export class OpenAITTSService extends ServiceProcessor {
  readonly #voice: string;
  readonly #maxInFlight: number;
  #turn = new SpeechTurn();

  constructor(options: OpenAITTSOptions) {
    super(options, "OpenAITTSService");
    this.#voice = options.voice ?? "alloy";
    if (!this.#voice) throw new Error(`${this.name}: voice is empty`);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 3);
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InterruptionFrame || frame instanceof CancelFrame) this.#interrupt();
    if (frame instanceof SystemFrame || direction !== DOWNSTREAM) return await this.pushFrame(frame, direction);
    const turn = this.#turn;
    if (frame instanceof LLMFullResponseStartFrame) {
      this.#endReply(turn);
      turn.reply = new Reply(turn.interrupted.signal);
      this.#enqueue(turn, { frame, direction });
    } else if (frame instanceof LLMTextFrame) {
      const reply = (turn.reply ??= new Reply(turn.interrupted.signal));
      if (frame.skipTts) {
        for (const text of turn.shown.push(frame.text)) this.#enqueue(turn, { frame: new TextFrame(text), direction });
      } else {
        for (const sentence of turn.spoken.push(frame.text)) this.#enqueue(turn, { sentence, reply });
      }
    } else if (frame instanceof LLMFullResponseEndFrame) {
      this.#endReply(turn);
      this.#enqueue(turn, { frame, direction });
    } else if (frame instanceof TTSSpeakFrame) {
      const reply = new Reply(turn.interrupted.signal);
      this.#enqueue(turn, { sentence: frame.text, reply });
      this.#enqueue(turn, { endOf: reply });
    } else {
      this.#endReply(turn);
      this.#enqueue(turn, { frame, direction });
    }
    if (frame instanceof EndFrame) await turn.playing;
    while (turn.outputs.length >= MAX_QUEUED_OUTPUTS && !turn.interrupted.signal.aborted) {
      await new Promise<void>((resolve) => (turn.room = resolve));
    }
  }

  protected override async cleanup(): Promise<void> {
    this.#interrupt();
  }

  #interrupt(): void {
    this.#turn.interrupted.abort();
    this.#turn.room?.();
    this.#turn = new SpeechTurn();
  }

  /** Closes the open reply: the text left over is its last sentence. */
  #endReply(turn: SpeechTurn): void {
    const reply = turn.reply;
    if (!reply) return;
    turn.reply = undefined;
    const shown = turn.shown.flush();
    if (shown) this.#enqueue(turn, { frame: new TextFrame(shown), direction: DOWNSTREAM });
    const sentence = turn.spoken.flush();
    if (sentence) this.#enqueue(turn, { sentence, reply });
    this.#enqueue(turn, { endOf: reply });
  }

  #enqueue(turn: SpeechTurn, output: Output): void {
    turn.outputs.push(output);
    this.#startRequests(turn);
    // The player outlives the frame that started it; its staleness is tracked by the speech turn's signal.
    turn.playing ??= this.runDetached(() => this.#play(turn));
  }

  /** Starts the requests of the first sentences waiting, up to the in-flight limit (the playing one counts). */
  #startRequests(turn: SpeechTurn): void {
    let inFlight = 0;
    for (const output of turn.outputs) {
      if (!("sentence" in output) || output.reply.signal.aborted) continue;
      if (++inFlight > this.#maxInFlight) return;
      if (output.stream) continue;
      const body = { model: this.model, input: output.sentence, voice: this.#voice, response_format: "pcm" };
      const limits = { maxBytes: MAX_SENTENCE_BYTES, maxBufferedBytes: MAX_BUFFERED_BYTES };
      output.stream = new SpeechStream(this.request(output.reply.signal), { json: body }, limits);
    }
  }

  /** Pushes the turn's outputs in order until there are none left or the turn is interrupted. */
  async #play(turn: SpeechTurn): Promise<void> {
    const signal = turn.interrupted.signal;
    while (turn.outputs.length > 0 && !signal.aborted) {
      const output = turn.outputs[0];
      if ("frame" in output) await this.pushFrame(output.frame, output.direction);
      else if ("endOf" in output) {
        if (output.endOf.started) await this.pushFrame(new TTSStoppedFrame());
      } else if (output.stream) await this.#speak(output.sentence, output.reply, output.stream);
      if (signal.aborted) break;
      turn.outputs.shift();
      this.#startRequests(turn);
      turn.room?.();
    }
    turn.playing = undefined;
  }

  async #speak(sentence: string, reply: Reply, stream: SpeechStream): Promise<void> {
    if (reply.signal.aborted) return;
    let first = true;
    try {
      for await (const samples of stream.samples()) {
        if (reply.signal.aborted) return;
        if (first) {
          first = false;
          if (!reply.started) {
            reply.started = true;
            await this.pushTtfb(stream.startedAt, stream.firstByteAt);
            await this.pushFrame(new TTSStartedFrame());
          }
          await this.pushFrame(new TTSTextFrame(sentence));
        }
        await this.pushFrame(new TTSAudioRawFrame(samples, TTS_SAMPLE_RATE, 1));
      }
    } catch (error) {
      // One failure is enough: the rest of this reply is dropped rather than failing sentence by sentence.
      reply.abandoned.abort();
      await this.reportFailure(error, reply.interrupted);
    }
  }
}
