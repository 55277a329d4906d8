/**
 * Pipeline: processors linked in order, usable itself as one processor (pipelines nest). Frames entering downstream
 * go to the first processor and leave after the last; frames entering upstream go the other way.
 */
import type { Frame } from "./frames.ts";
import { DOWNSTREAM, type FrameDirection, FrameProcessor, type ProcessorSetup, UPSTREAM } from "./frameProcessor.ts";

/**
 * An end of a pipeline. It forwards without queueing: the processors behind it queue already, and a second queue
 * here would only add a hop.
 */
class PipelineEdge extends FrameProcessor {
  constructor(
    name: string,
    /** Where frames go that leave the pipeline through this edge. */
    private readonly exit: (frame: Frame) => Promise<void>,
    private readonly exitDirection: FrameDirection,
  ) {
    super({ name });
  }

  override queueFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    return direction === this.exitDirection ? this.exit(frame) : this.pushFrame(frame, direction);
  }
}

export class Pipeline extends FrameProcessor {
  readonly processors: readonly FrameProcessor[];
  readonly #source: PipelineEdge;
  readonly #sink: PipelineEdge;

  constructor(processors: FrameProcessor[], options: { name?: string } = {}) {
    super(options);
    if (processors.length === 0) throw new Error("a pipeline needs at least one processor");
    this.processors = processors;
    this.#source = new PipelineEdge(`${this.name}::source`, (frame) => this.pushFrame(frame, UPSTREAM), UPSTREAM);
    this.#sink = new PipelineEdge(`${this.name}::sink`, (frame) => this.pushFrame(frame, DOWNSTREAM), DOWNSTREAM);
    let last: FrameProcessor = this.#source;
    for (const processor of processors) last = last.link(processor);
    last.link(this.#sink);
  }

  override setup(setup: ProcessorSetup): void {
    super.setup(setup);
    for (const processor of [this.#source, ...this.processors, this.#sink]) processor.setup(setup);
  }

  override queueFrame(frame: Frame, direction: FrameDirection = DOWNSTREAM): Promise<void> {
    return direction === DOWNSTREAM
      ? this.#source.queueFrame(frame, DOWNSTREAM)
      : this.#sink.queueFrame(frame, UPSTREAM);
  }
}
