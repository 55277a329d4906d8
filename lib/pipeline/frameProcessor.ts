/**
 * FrameProcessor: one stage of a pipeline, with Pipecat's delivery rules.
 *
 * System frames are handled the moment they arrive. Data and control frames wait in a bounded queue and are handled
 * one at a time, in order; when the queue is full the sender waits, which is how back-pressure reaches the producer.
 * An InterruptionFrame discards queued frames (except uninterruptible ones), and a CancelFrame discards everything.
 * A processor that throws does not break the chain: the error is logged and sent upstream as an ErrorFrame.
 */
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
  #started = false;
  #stopped = false;

  constructor(options: { name?: string; queueLimit?: number } = {}) {
    this.name = options.name ?? `${this.constructor.name}#${processorCount++}`;
    this.#queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
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
      if (frame instanceof CancelFrame) this.#discardQueue(() => true);
      else if (frame instanceof InterruptionFrame) this.#discardQueue((queued) => !isUninterruptible(queued.frame));
      await this.#handle(frame, direction);
      return;
    }
    if (this.#stopped) return;
    while (this.#queue.length >= this.#queueLimit) {
      const interrupted = await new Promise<boolean>((resolve) => this.#spaceWaiters.push(resolve));
      if (this.#stopped || (interrupted && !isUninterruptible(frame))) return;
    }
    this.#queue.push({ frame, direction });
    if (!this.#draining) void this.#drain();
  }

  /** Sends `frame` to the next processor (downstream) or the previous one (upstream). */
  async pushFrame(frame: Frame, direction: FrameDirection = DOWNSTREAM): Promise<void> {
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
      await this.#handle(frame, direction);
    }
    this.#draining = false;
  }

  async #handle(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof StartFrame) this.#started = true;
    try {
      await this.processFrame(frame, direction);
    } catch (error) {
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

  #discardQueue(matches: (queued: Queued) => boolean): void {
    this.#queue = this.#queue.filter((queued) => !matches(queued));
    // Senders blocked on a full queue hold frames from before the interruption; they drop them too.
    for (const waiter of this.#spaceWaiters.splice(0)) waiter(true);
  }
}
