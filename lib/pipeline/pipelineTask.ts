/**
 * PipelineTask: runs one pipeline from StartFrame to EndFrame (or CancelFrame). It is where frames are queued in,
 * where errors pushed upstream end up, and where an idle bot is stopped.
 */
import { TypedEmitter } from "../events/emitter.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import {
  BotSpeakingFrame,
  CancelFrame,
  CancelTaskFrame,
  EndFrame,
  EndTaskFrame,
  ErrorFrame,
  type Frame,
  type StartParams,
  StartFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "./frames.ts";
import { DOWNSTREAM, type FrameDirection, type FrameObserver, FrameProcessor, UPSTREAM } from "./frameProcessor.ts";

export interface PipelineTaskOptions {
  params?: Partial<StartParams>;
  observers?: FrameObserver[];
  logger?: Logger;
  /** Cancel the task when none of `idleFrames` reached the end for this long. Default 300 s; 0 turns it off. */
  idleTimeoutSecs?: number;
  /** Frames that count as activity for the idle timeout. */
  idleFrames?: (abstract new (...args: never[]) => Frame)[];
  /** How long `cancel()` waits for the CancelFrame to get through before giving up. */
  cancelTimeoutMs?: number;
}

export interface PipelineTaskEvents {
  [event: string]: unknown[];
  started: [];
  /** The pipeline stopped: `ended` after an EndFrame, `cancelled` after a CancelFrame. */
  finished: [how: "ended" | "cancelled"];
  error: [frame: ErrorFrame];
  idleTimeout: [];
  /** A frame left the end of the pipeline (after the output transport). */
  frameReachedDownstream: [frame: Frame];
}

export const DEFAULT_START_PARAMS: StartParams = {
  audioInSampleRate: 16000,
  audioOutSampleRate: 24000,
  allowInterruptions: true,
  enableMetrics: false,
};

/** The task's own ends: upstream frames stop at the head, downstream frames at the tail. */
class TaskEdge extends FrameProcessor {
  constructor(
    name: string,
    private readonly arrived: (frame: Frame, direction: FrameDirection) => void,
  ) {
    super({ name });
  }

  override queueFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if ((this.next && direction === DOWNSTREAM) || (this.previous && direction === UPSTREAM)) {
      return this.pushFrame(frame, direction);
    }
    this.arrived(frame, direction);
    return Promise.resolve();
  }
}

export class PipelineTask extends TypedEmitter<PipelineTaskEvents> {
  readonly pipeline: FrameProcessor;
  readonly params: StartParams;
  readonly #head: TaskEdge;
  readonly #options: PipelineTaskOptions;
  readonly #logger: Logger;
  #finished = Promise.withResolvers<"ended" | "cancelled">();
  #state: "idle" | "running" | "finished" = "idle";
  #idleTimer?: ReturnType<typeof setTimeout>;

  constructor(pipeline: FrameProcessor, options: PipelineTaskOptions = {}) {
    const logger = options.logger ?? silentLogger;
    super(logger);
    this.pipeline = pipeline;
    this.params = { ...DEFAULT_START_PARAMS, ...options.params };
    this.#options = options;
    this.#logger = logger;
    this.#head = new TaskEdge("PipelineTask::head", (frame) => this.#onUpstream(frame));
    const tail = new TaskEdge("PipelineTask::tail", (frame) => this.#onDownstream(frame));
    this.#head.link(pipeline).link(tail);
    const setup = { logger, observers: options.observers ?? [] };
    for (const processor of [this.#head, pipeline, tail]) processor.setup(setup);
  }

  get finished(): boolean {
    return this.#state === "finished";
  }

  /** Starts the pipeline and resolves when it has finished. */
  async run(): Promise<"ended" | "cancelled"> {
    if (this.#state !== "idle") throw new Error("a PipelineTask runs only once");
    this.#state = "running";
    this.#armIdleTimer();
    await this.#head.pushFrame(new StartFrame(this.params));
    this.emit("started");
    return await this.#finished.promise;
  }

  /** Sends frames into the pipeline, downstream, in order. */
  async queueFrames(frames: Frame[]): Promise<void> {
    for (const frame of frames) await this.queueFrame(frame);
  }

  async queueFrame(frame: Frame): Promise<void> {
    if (this.#state === "finished") return;
    await this.#head.pushFrame(frame);
  }

  /** Ends gracefully: everything already queued is processed first. */
  stopWhenDone(): Promise<void> {
    return this.queueFrame(new EndFrame());
  }

  /** Stops now: queued frames are dropped. Resolves once the pipeline has stopped (or the cancel timeout passed). */
  async cancel(reason?: string): Promise<void> {
    if (this.#state === "finished") return;
    if (this.#state === "idle") {
      this.#finish("cancelled");
      return;
    }
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, this.#options.cancelTimeoutMs ?? 2000));
    await Promise.race([this.#head.pushFrame(new CancelFrame(reason)).then(() => this.#finished.promise), timeout]);
    this.#finish("cancelled");
  }

  #onUpstream(frame: Frame): void {
    if (frame instanceof EndTaskFrame) void this.stopWhenDone();
    else if (frame instanceof CancelTaskFrame) void this.cancel(frame.reason);
    else if (frame instanceof ErrorFrame) {
      // The stage that failed has logged it already; a fatal error is news of its own, as it ends the pipeline.
      const fields = { error: frame.error, processor: frame.processor, fatal: frame.fatal };
      if (frame.fatal) this.#logger.warn("pipeline error", fields);
      else this.#logger.debug("pipeline error", fields);
      this.emit("error", frame);
      if (frame.fatal) void this.cancel("fatal error");
    }
  }

  #onDownstream(frame: Frame): void {
    this.emit("frameReachedDownstream", frame);
    if (frame instanceof EndFrame) this.#finish("ended");
    else if (frame instanceof CancelFrame) this.#finish("cancelled");
    else if (this.#isActivity(frame)) this.#armIdleTimer();
  }

  #isActivity(frame: Frame): boolean {
    const kinds = this.#options.idleFrames ?? [BotSpeakingFrame, UserStartedSpeakingFrame, UserStoppedSpeakingFrame];
    return kinds.some((kind) => frame instanceof kind);
  }

  #armIdleTimer(): void {
    const secs = this.#options.idleTimeoutSecs ?? 300;
    if (secs <= 0 || this.#state !== "running") return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#logger.info("pipeline idle, cancelling", { idleTimeoutSecs: secs });
      this.emit("idleTimeout");
      void this.cancel("idle");
    }, secs * 1000);
  }

  #finish(how: "ended" | "cancelled"): void {
    if (this.#state === "finished") return;
    this.#state = "finished";
    clearTimeout(this.#idleTimer);
    this.emit("finished", how);
    this.#finished.resolve(how);
  }
}
