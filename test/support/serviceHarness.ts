/** One service processor in a running pipeline task, with what came out of it and what it logged. */
import { afterAll, afterEach } from "bun:test";
import { createLogger } from "../../lib/log/logger.ts";
import { type ErrorFrame, type Frame } from "../../lib/pipeline/frames.ts";
import type { FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { defaultScript, OpenAIStandIn } from "../../scripts/support/openaiStandIn.ts";

export interface ServiceHarness {
  task: PipelineTask;
  /** Frames that left the end of the pipeline, in order. */
  frames: Frame[];
  /** ErrorFrames that reached the task. */
  errors: ErrorFrame[];
  /** Log lines at warn level and above. */
  warnings: string[];
  of<T extends Frame>(type: abstract new (...args: never[]) => T): T[];
  end(): Promise<void>;
}

/** Metrics are on unless `enableMetrics` is false, as the assistant runs. */
export function runService(processor: FrameProcessor, { enableMetrics = true } = {}): ServiceHarness {
  const warnings: string[] = [];
  const logger = createLogger({ level: "warn", write: (line) => warnings.push(line) });
  const task = new PipelineTask(new Pipeline([processor]), { idleTimeoutSecs: 0, logger, params: { enableMetrics } });
  const frames: Frame[] = [];
  const errors: ErrorFrame[] = [];
  task.on("frameReachedDownstream", (frame) => frames.push(frame));
  task.on("error", (frame) => errors.push(frame));
  const run = task.run();
  return {
    task,
    frames,
    errors,
    warnings,
    of: <T extends Frame>(type: abstract new (...args: never[]) => T) =>
      frames.filter((f): f is T => f instanceof type),
    end: async () => {
      await task.cancel();
      await run;
    },
  };
}

export interface ServiceTestBed {
  standIn: OpenAIStandIn;
  /** Runs `processor` as runService does; the test's harness is ended after it. */
  run(processor: FrameProcessor, options?: { enableMetrics?: boolean }): ServiceHarness;
}

/**
 * What every service test file needs: one OpenAI stand-in for the file, its script and records reset after each test,
 * and the harness each test started ended.
 */
export function serviceTestBed(): ServiceTestBed {
  const standIn = new OpenAIStandIn();
  let harness: ServiceHarness | undefined;
  afterEach(async () => {
    await harness?.end();
    harness = undefined;
    standIn.requests.length = 0;
    standIn.script = defaultScript();
  });
  afterAll(() => standIn.stop());
  return { standIn, run: (processor, options) => (harness = runService(processor, options)) };
}
