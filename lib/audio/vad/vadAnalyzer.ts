/**
 * Voice activity detection, with Pipecat's parameters and states. An analyzer turns a stream of 16-bit PCM into
 * speaking/quiet decisions with hysteresis: speech must last `startSecs` to count as started and silence must last
 * `stopSecs` to count as stopped.
 */

export type VADState = "quiet" | "starting" | "speaking" | "stopping";

export interface VADParams {
  /** Model confidence (0-1) above which a window counts as voice. */
  confidence: number;
  /** Voice needed before speech counts as started. */
  startSecs: number;
  /** Silence needed before speech counts as stopped. */
  stopSecs: number;
  /** Loudness (0-1, see `audioVolume`) below which a window never counts as voice. */
  minVolume: number;
}

export const DEFAULT_VAD_PARAMS: VADParams = { confidence: 0.7, startSecs: 0.2, stopSecs: 0.2, minVolume: 0.6 };

export interface VADAnalyzer {
  readonly params: VADParams;
  /** The analyzer's input rate; the input transport sets it from the pipeline before any audio. */
  setSampleRate(sampleRate: number): void;
  /** Feeds audio (any length) and returns the state after it. */
  analyze(pcm: Int16Array): VADState;
  /** Forgets buffered audio and returns to quiet (for example after an interruption). */
  reset(): void;
}
