/**
 * FrameProcessor: one stage of a pipeline, with Pipecat's delivery rules.
 *
 * System frames are handled the moment they arrive. Data and control frames wait in a bounded queue and are handled
 * one at a time, in order; when the queue is full the sender waits, which is how back-pressure reaches the producer.
 * An InterruptionFrame discards queued frames (except uninterruptible ones), and a CancelFrame discards everything.
 * Both also cancel the frame being processed, unless it is uninterruptible: the queue moves on at once, the work's
 * `interruptSignal` aborts (services pass it to their requests), and whatever data or control frames that work still
 * pushes are dropped, so a slow service cannot deliver stale output after the user spoke.
 * A processor that throws does not break the chain: the error is logged and sent upstream as an ErrorFrame.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type Logger, silentLogger } from "../log/logger.ts";
import {
  CancelFrame,
  EndFrame,
  ErrorFrame,
  type Frame,
  InterruptionFrame,
  isUninterruptible,
  StartFrame,
  SystemFrame,
} from "./frames.ts";

export type FrameDirection = "downstream" | "upstream";
export const DOWNSTREAM: FrameDirection = "downstream";
export const UPSTREAM: FrameDirection = "upstream";

export interface FramePushed {
  source: FrameProcessor;
  destination: FrameProcessor;
  frame: Frame;
  direction: FrameDirection;
  /** Monotonic time of the push, in milliseconds. */
  at: number;
}

/** Watches frames move between processors, for metrics and debugging. Must not block or throw. */
export interface FrameObserver {
  onPushFrame(event: FramePushed): void;
}

export interface ProcessorSetup {
  logger: Logger;
  observers: readonly FrameObserver[];
}

interface Queued {
  frame: Frame;
  direction: FrameDirection;
}

const DEFAULT_QUEUE_LIMIT = 256;

/**
 * The interruption signal of the work in progress. An async context rather than a field, because after a cancel the
 * stale work and the next frame's work run side by side in the same processor, and only the context tells their
 * pushes apart.
 */
const currentWork = new AsyncLocalStorage<AbortSignal | undefined>();
const NEVER_ABORTED = new AbortController().signal;

function isStop(frame: Frame, direction: FrameDirection): boolean {
  return direction === DOWNSTREAM && (frame instanceof EndFrame || frame instanceof CancelFrame);
}
let processorCount = 0;

export abstract class FrameProcessor {
  readonly name: string;
  protected logger: Logger = silentLogger;
  #observers: readonly FrameObserver[] = [];
  #prev?: FrameProcessor;
  #next?: FrameProcessor;
  #queue: Queued[] = [];
  #queueLimit: number;
  /** Senders waiting for queue space; told `true` when an interruption dropped what they hold. */
  #spaceWaiters: ((interrupted: boolean) => void)[] = [];
  #draining = false;
  /** Aborted by the next interruption or cancel; the work on queued frames runs under it. */
  #generation = new AbortController();
  #started = false;
  #metricsEnabled = false;
  #stopped = false;

  constructor(options: { name?: string; queueLimit?: number } = {}) {
    this.name = options.name ?? `${this.constructor.name}#${processorCount++}`;
    this.#queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
  }

  /** The pipeline asked for metrics (StartParams.enableMetrics): processors report them only then. */
  protected get metricsEnabled(): boolean {
    return this.#metricsEnabled;
  }

  /** Whether a StartFrame has been processed and no EndFrame/CancelFrame yet. */
  get running(): boolean {
    return this.#started && !this.#stopped;
  }

  get next(): FrameProcessor | undefined {
    return this.#next;
  }

  get previous(): FrameProcessor | undefined {
    return this.#prev;
  }

  /** Frames waiting in this processor's queue. */
  get queuedFrames(): number {
    return this.#queue.length;
  }

  /**
   * Aborts when the user interrupts (or the pipeline is cancelled) while this work is running: pass it to requests
   * and long waits made while processing a frame, and to work started from there.
   */
  protected get interruptSignal(): AbortSignal {
    return currentWork.getStore() ?? NEVER_ABORTED;
  }

  /**
   * Runs `work` outside the frame being processed: no interruption cancels it, and what it pushes is never taken for
   * stale output. For work that outlives a frame and tracks its own end (a transcription, a speech player).
   */
  protected runDetached<T>(work: () => T): T {
    return currentWork.run(undefined, work);
  }

  /** Links `next` after this processor and returns it, so links can be chained. */
  link(next: FrameProcessor): FrameProcessor {
    this.#next = next;
    next.#prev = this;
    return next;
  }

  /** Called by the pipeline task before the StartFrame. Composite processors pass it on to their children. */
  setup(setup: ProcessorSetup): void {
    this.logger = setup.logger.child({ processor: this.name });
    this.#observers = setup.observers;
  }

  /** Entry point for neighbours: delivers `frame` by the rules above. */
  async queueFrame(frame: Frame, direction: FrameDirection = DOWNSTREAM): Promise<void> {
    if (frame instanceof SystemFrame) {
      if (frame instanceof CancelFrame) this.#interrupt(() => true);
      else if (frame instanceof InterruptionFrame) this.#interrupt((queued) => !isUninterruptible(queued.frame));
      await this.#handle(frame, direction);
      return;
    }
    if (this.#stopped) return;
    while (this.#queue.length >= this.#queueLimit) {
      const interrupted = await new Promise<boolean>((resolve) => this.#spaceWaiters.push(resolve));
      if (this.#stopped || (interrupted && !isUninterruptible(frame))) return;
    }
    this.#queue.push({ frame, direction });
    // The queue drains outside the work of whoever queued the frame: that work may be cancelled later, and the
    // frames behind it (an EndFrame) must not be taken for its stale output.
    if (!this.#draining) void this.runDetached(() => this.#drain());
  }

  /** Sends `frame` to the next processor (downstream) or the previous one (upstream). */
  async pushFrame(frame: Frame, direction: FrameDirection = DOWNSTREAM): Promise<void> {
    // Output of work that an interruption cancelled is stale; system frames (errors, metrics) still count.
    if (currentWork.getStore()?.aborted && !(frame instanceof SystemFrame)) return;
    // Clean up before passing the end on, so that once it reaches the end of the pipeline every stage is released.
    if (isStop(frame, direction)) await this.#stop();
    const destination = direction === DOWNSTREAM ? this.#next : this.#prev;
    if (!destination) return;
    if (this.#observers.length > 0) {
      const event = { source: this, destination, frame, direction, at: performance.now() };
      for (const observer of this.#observers) observer.onPushFrame(event);
    }
    await destination.queueFrame(frame, direction);
  }

  /** Reports an error upstream, where the pipeline task sees it; a fatal one ends the pipeline. */
  async pushError(error: string, fatal = false): Promise<void> {
    await this.pushFrame(new ErrorFrame(error, fatal, this.name), UPSTREAM);
  }

  /**
   * Handles one frame. The default passes every frame on in its direction; subclasses handle what they care about
   * and call `super.processFrame` (or `pushFrame`) for the rest.
   */
  protected async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    await this.pushFrame(frame, direction);
  }

  /** Releases resources after an EndFrame or CancelFrame went through. Called once. */
  protected async cleanup(): Promise<void> {}

  async #drain(): Promise<void> {
    this.#draining = true;
    while (this.#queue.length > 0) {
      const { frame, direction } = this.#queue.shift()!;
      this.#spaceWaiters.shift()?.(false);
      if (isUninterruptible(frame)) await this.#handle(frame, direction);
      else await this.#handleInterruptibly(frame, direction);
    }
    this.#draining = false;
  }

  /** Handles a queued frame under the current generation, and stops waiting for it when that is aborted. */
  async #handleInterruptibly(frame: Frame, direction: FrameDirection): Promise<void> {
    const signal = this.#generation.signal;
    const interrupted = Promise.withResolvers<void>();
    const onAbort = () => interrupted.resolve();
    signal.addEventListener("abort", onAbort);
    try {
      await Promise.race([currentWork.run(signal, () => this.#handle(frame, direction)), interrupted.promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async #handle(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof StartFrame) {
      this.#started = true;
      this.#metricsEnabled = frame.params.enableMetrics;
    }
    try {
      await this.processFrame(frame, direction);
    } catch (error) {
      // Work cut short by an interruption fails by design (aborted requests); that is not an error.
      if (currentWork.getStore()?.aborted) return;
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error("frame processing failed", { frame: frame.name, error: message });
      await this.pushError(message).catch(() => {});
    }
    // A processor that swallowed the end without pushing it still stops here.
    if (isStop(frame, direction)) await this.#stop();
  }

  async #stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#discardQueue(() => true);
    await this.cleanup().catch((error) => this.logger.error("cleanup failed", { error }));
  }

  #interrupt(matches: (queued: Queued) => boolean): void {
    this.#generation.abort();
    this.#generation = new AbortController();
    this.#discardQueue(matches);
  }

  #discardQueue(matches: (queued: Queued) => boolean): void {
    this.#queue = this.#queue.filter((queued) => !matches(queued));
    // Senders blocked on a full queue hold frames from before the interruption; they drop them too.
    for (const waiter of this.#spaceWaiters.splice(0)) waiter(true);
  }
}
