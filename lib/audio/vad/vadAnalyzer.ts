/**
 * Voice activity detection with Pipecat's parameters and states. An analyzer cuts the audio into the model's
 * windows, asks the model how likely each window is voice, and applies hysteresis: voice must last `startSecs` to
 * count as started, and silence `stopSecs` to count as stopped.
 */
import { smoothedVolume } from "./audioVolume.ts";

export type VADState = "quiet" | "starting" | "speaking" | "stopping";

export interface VADParams {
  /** Model confidence (0-1) from which a window counts as voice. */
  confidence: number;
  /** Voice needed before speech counts as started. */
  startSecs: number;
  /** Silence needed before speech counts as stopped. */
  stopSecs: number;
  /** Loudness (0-1, see audioVolume.ts; 0.6 is about -50 dBFS) below which a window never counts as voice. */
  minVolume: number;
}

export const DEFAULT_VAD_PARAMS: VADParams = { confidence: 0.7, startSecs: 0.2, stopSecs: 0.2, minVolume: 0.6 };

export interface VADAnalyzer {
  readonly params: VADParams;
  /** The input rate; the input transport sets it from the pipeline before any audio. */
  setSampleRate(sampleRate: number): void;
  /** Feeds audio (any length) and resolves with the state after it. Calls must not overlap. */
  analyze(pcm: Int16Array): Promise<VADState>;
  /** Forgets buffered audio and model state and returns to quiet. */
  reset(): void;
}

/**
 * The windowing and hysteresis every analyzer shares; a subclass only supplies the model: its window size and a
 * voice confidence per window.
 */
export abstract class WindowedVADAnalyzer implements VADAnalyzer {
  readonly params: VADParams;
  protected sampleRate = 16000;
  #buffer = new Int16Array(0);
  #state: VADState = "quiet";
  #voiceWindows = 0;
  #silentWindows = 0;
  #volume = 0;
  /** Windows were too quiet to ask the model about since it last ran: its state describes older audio. */
  #modelSkipped = false;

  constructor(params: Partial<VADParams> = {}) {
    this.params = { ...DEFAULT_VAD_PARAMS, ...params };
  }

  /** Samples per model window at the current rate. */
  protected abstract windowSize(): number;
  /** Probability (0-1) that `window` is voice. */
  protected abstract voiceConfidence(window: Int16Array): Promise<number>;
  /** Clears model state (called by reset()). */
  protected abstract resetModel(): void;

  setSampleRate(sampleRate: number): void {
    this.sampleRate = sampleRate;
    this.reset();
  }

  get state(): VADState {
    return this.#state;
  }

  async analyze(pcm: Int16Array): Promise<VADState> {
    const merged = new Int16Array(this.#buffer.length + pcm.length);
    merged.set(this.#buffer);
    merged.set(pcm, this.#buffer.length);
    const size = this.windowSize();
    let offset = 0;
    for (; offset + size <= merged.length; offset += size) {
      const window = merged.subarray(offset, offset + size);
      this.#volume = smoothedVolume(window, this.#volume);
      const audible = this.#volume >= this.params.minVolume;
      if (!audible) this.#modelSkipped = true;
      this.#step(audible && (await this.#confidence(window)) >= this.params.confidence);
    }
    this.#buffer = merged.slice(offset);
    return this.#state;
  }

  /**
   * The model's confidence, asked only for windows loud enough to count as voice: most of a call is quiet, and the
   * model is the costliest part of a session. After quiet windows the model starts afresh, as for a new stream.
   */
  #confidence(window: Int16Array): Promise<number> {
    if (this.#modelSkipped) this.resetModel();
    this.#modelSkipped = false;
    return this.voiceConfidence(window);
  }

  reset(): void {
    this.#buffer = new Int16Array(0);
    this.#state = "quiet";
    this.#voiceWindows = 0;
    this.#silentWindows = 0;
    this.#volume = 0;
    this.resetModel();
  }

  #step(voice: boolean): void {
    const windowSecs = this.windowSize() / this.sampleRate;
    const startWindows = Math.max(1, Math.round(this.params.startSecs / windowSecs));
    const stopWindows = Math.max(1, Math.round(this.params.stopSecs / windowSecs));
    if (voice) {
      this.#silentWindows = 0;
      this.#voiceWindows++;
      if (this.#state === "quiet" || this.#state === "starting") {
        this.#state = this.#voiceWindows >= startWindows ? "speaking" : "starting";
      } else {
        this.#state = "speaking";
      }
    } else {
      this.#voiceWindows = 0;
      this.#silentWindows++;
      if (this.#state === "speaking" || this.#state === "stopping") {
        this.#state = this.#silentWindows >= stopWindows ? "quiet" : "stopping";
      } else {
        this.#state = "quiet";
      }
    }
  }
}
