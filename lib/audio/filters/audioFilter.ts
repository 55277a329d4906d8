import type { FilterControlFrame } from "../../pipeline/frames.ts";

/**
 * A filter on client audio (TransportParams `audioInFilter`, Pipecat's BaseAudioFilter): the input transport runs it
 * on every 20 ms frame of client audio before the VAD sees it and before it goes down the pipeline. Make one per
 * transport: it holds that session's state from `start` to `stop`.
 */
export interface AudioFilter {
  /** The pipeline starts: audio will come mono at `sampleRate` (the transport's audioInSampleRate). */
  start(sampleRate: number): void | Promise<void>;
  /**
   * Filters one frame of client audio, in order; what it returns replaces the frame. Synchronous, because it runs
   * as each frame is decoded. A filter that returns as many samples as it was given keeps the frames 20 ms long.
   */
  filter(pcm: Int16Array): Int16Array;
  /** The pipeline has stopped: free what `start` took. */
  stop(): void | Promise<void>;
  /** A FilterControlFrame (such as FilterEnableFrame) reached the input transport. */
  processFrame(frame: FilterControlFrame): void | Promise<void>;
}
