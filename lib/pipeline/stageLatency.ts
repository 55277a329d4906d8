/**
 * Process-wide latency of the stages smallwebrtc itself adds to a voice turn, for /metrics and scripts/bench: the
 * recent samples of each stage, so quantiles describe the server as it runs now. Stages record milliseconds.
 */

export type Stage =
  /** From VAD ending the user's turn to the speech-to-text request being sent. */
  | "turn_end_to_stt_request"
  /** From bot audio being handed to the pipeline (a TTS chunk as it arrived) to its first RTP packet. */
  | "bot_audio_to_rtp";

/** Samples kept per stage: the last few minutes of turns on a busy server. */
const WINDOW = 1000;

const samples = new Map<Stage, number[]>();

export function recordStageLatency(stage: Stage, ms: number): void {
  let recent = samples.get(stage);
  if (!recent) samples.set(stage, (recent = []));
  recent.push(ms);
  if (recent.length > WINDOW) recent.shift();
}

export interface StageSummary {
  stage: Stage;
  count: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** Quantiles of each stage's recent samples (stages never measured are left out). */
export function stageLatencies(): StageSummary[] {
  return [...samples].map(([stage, recent]) => {
    const sorted = recent.toSorted((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { stage, count: sorted.length, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: sorted.at(-1)! };
  });
}
