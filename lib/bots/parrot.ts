/**
 * The parrot bot: it listens, and when you stop talking it says back what you said. Speak while it is talking and
 * it stops at once (the input transport's VAD raises an interruption). It proves VAD, turn-taking and interruptions
 * with no speech services at all.
 */
import { SileroVADAnalyzer } from "../audio/vad/sileroVadAnalyzer.ts";
import {
  type Frame,
  InputAudioRawFrame,
  OutputAudioRawFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import type { TransportParams } from "../transport/transportParams.ts";
import type { RunnerArguments } from "./bot.ts";
import { runBotPipeline } from "./botPipeline.ts";

export interface ParrotOptions {
  /**
   * Audio kept from before the VAD said "started": VAD needs `startSecs` of voice to decide, and without this the
   * first syllable would be cut off.
   */
  prerollMs?: number;
  /** The longest utterance kept; the rest is dropped, bounding memory per session. */
  maxUtteranceSecs?: number;
}

export class ParrotProcessor extends FrameProcessor {
  readonly #prerollMs: number;
  readonly #maxMs: number;
  #recent: InputAudioRawFrame[] = [];
  #utterance?: InputAudioRawFrame[];

  constructor(options: ParrotOptions = {}) {
    super({ name: "ParrotProcessor" });
    this.#prerollMs = options.prerollMs ?? 500;
    this.#maxMs = (options.maxUtteranceSecs ?? 30) * 1000;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InputAudioRawFrame) {
      this.#listen(frame);
    } else if (frame instanceof UserStartedSpeakingFrame) {
      this.#utterance = [...this.#recent];
    } else if (frame instanceof UserStoppedSpeakingFrame) {
      const utterance = this.#utterance;
      this.#utterance = undefined;
      if (utterance?.length) await this.pushFrame(joinAudio(utterance), direction);
    }
    if (!(frame instanceof InputAudioRawFrame)) await this.pushFrame(frame, direction);
  }

  #listen(frame: InputAudioRawFrame): void {
    this.#recent.push(frame);
    while (durationMs(this.#recent) > this.#prerollMs) this.#recent.shift();
    if (this.#utterance && durationMs(this.#utterance) < this.#maxMs) this.#utterance.push(frame);
  }
}

function durationMs(frames: InputAudioRawFrame[]): number {
  return frames.reduce((sum, frame) => sum + frame.durationMs, 0);
}

/** One frame for the whole utterance: an interruption then drops all of it from the sender's queue at once. */
function joinAudio(frames: InputAudioRawFrame[]): OutputAudioRawFrame {
  const audio = new Int16Array(frames.reduce((sum, frame) => sum + frame.audio.length, 0));
  let offset = 0;
  for (const frame of frames) {
    audio.set(frame.audio, offset);
    offset += frame.audio.length;
  }
  return new OutputAudioRawFrame(audio, frames[0].sampleRate, frames[0].numChannels);
}

/** `params` are laid over the parrot's own: the config's `audio.inFilter` and `audio.mixer` come this way. */
export async function parrotBot(args: RunnerArguments, params: TransportParams = {}): Promise<void> {
  const vadAnalyzer = await SileroVADAnalyzer.create({ stopSecs: 0.8 });
  await runBotPipeline(
    args,
    { audioInEnabled: true, audioOutEnabled: true, audioOutSampleRate: 16000, vadAnalyzer, ...params },
    () => [new ParrotProcessor()],
  );
}
