import { describe, expect, test } from "bun:test";
import {
  CancelFrame,
  EndFrame,
  ErrorFrame,
  type Frame,
  InterruptionFrame,
  StartFrame,
  TextFrame,
  UserStartedSpeakingFrame,
} from "../../lib/pipeline/frames.ts";
import { DOWNSTREAM, type FrameDirection, FrameProcessor, UPSTREAM } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { eventually } from "../support/eventually.ts";

/** Records what it sees, optionally slowly, and passes everything on. */
class Recorder extends FrameProcessor {
  readonly seen: string[] = [];
  /** Text frames whose (slow) processing has begun. */
  started = 0;
  cleanedUp = 0;
  constructor(private readonly delayMs = 0, name?: string) {
    super({ name, queueLimit: 4 });
  }
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof TextFrame) {
      this.started++;
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      this.seen.push(frame.text);
    } else {
      this.seen.push(frame.constructor.name);
    }
    await this.pushFrame(frame, direction);
  }
  protected override async cleanup() {
    this.cleanedUp++;
  }
}

class Uppercase extends FrameProcessor {
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    await this.pushFrame(frame instanceof TextFrame ? new TextFrame(frame.text.toUpperCase()) : frame, direction);
  }
}

class Exploding extends FrameProcessor {
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof TextFrame && frame.text === "boom") throw new Error("kaboom");
    await this.pushFrame(frame, direction);
  }
}

const texts = (n: number) => Array.from({ length: n }, (_, i) => new TextFrame(`t${i}`));

describe("pipeline", () => {
  test("frames pass every processor in order, and EndFrame finishes the task after them", async () => {
    const first = new Recorder();
    const last = new Recorder(2);
    const task = new PipelineTask(new Pipeline([first, new Uppercase(), last]), { idleTimeoutSecs: 0 });
    const reached: string[] = [];
    task.on("frameReachedDownstream", (f) => reached.push(f instanceof TextFrame ? f.text : f.constructor.name));
    const run = task.run();
    await task.queueFrames([...texts(10), new EndFrame()]);

    expect(await run).toBe("ended");
    expect(first.seen).toEqual(["StartFrame", ...texts(10).map((f) => f.text), "EndFrame"]);
    expect(last.seen).toEqual(["StartFrame", ...texts(10).map((f) => f.text.toUpperCase()), "EndFrame"]);
    expect(reached.at(-1)).toBe("EndFrame");
    expect(first.cleanedUp + last.cleanedUp).toBe(2);
  });

  test("nested pipelines behave like one processor", async () => {
    const inner = new Recorder();
    const outer = new Recorder();
    const task = new PipelineTask(new Pipeline([new Pipeline([new Uppercase(), inner]), outer]), { idleTimeoutSecs: 0 });
    const run = task.run();
    await task.queueFrames([new TextFrame("a"), new EndFrame()]);
    await run;
    expect(outer.seen).toEqual(["StartFrame", "A", "EndFrame"]);
  });

  test("cancel drops queued frames and finishes quickly", async () => {
    const slow = new Recorder(50);
    const task = new PipelineTask(new Pipeline([slow]), { idleTimeoutSecs: 0 });
    const run = task.run();
    void task.queueFrames(texts(20));
    await eventually(() => slow.started > 0 && slow.queuedFrames === 4, 1000, "text frames queued behind a slow one");
    const started = performance.now();
    await task.cancel();
    expect(await run).toBe("cancelled");
    expect(performance.now() - started).toBeLessThan(500);
    expect(slow.seen.filter((s) => s.startsWith("t")).length).toBeLessThan(6);
    expect(slow.cleanedUp).toBe(1);
  });

  test("an interruption discards queued data frames but not the EndFrame behind them", async () => {
    const slow = new Recorder(30);
    const task = new PipelineTask(new Pipeline([slow]), { idleTimeoutSecs: 0 });
    const run = task.run();
    void task.queueFrames([...texts(10), new EndFrame()]);
    await eventually(() => slow.started > 0 && slow.queuedFrames === 4, 1000, "text frames queued behind a slow one");
    await task.queueFrame(new InterruptionFrame());
    expect(await run).toBe("ended");
    const processed = slow.seen.filter((s) => s.startsWith("t"));
    expect(processed.length).toBeLessThan(10);
    expect(slow.seen).toContain("InterruptionFrame");
    expect(slow.seen.at(-1)).toBe("EndFrame");
  });

  test("an interruption cancels the frame being processed: its signal aborts and its late output is dropped", async () => {
    /** A slow service: answers each text after a wait it cannot shorten, unless its signal aborts. */
    class SlowService extends FrameProcessor {
      aborted = 0;
      finishedLate = 0;
      protected override async processFrame(frame: Frame, direction: FrameDirection) {
        if (!(frame instanceof TextFrame)) return this.pushFrame(frame, direction);
        const signal = this.interruptSignal;
        signal.addEventListener("abort", () => this.aborted++);
        await new Promise((resolve) => setTimeout(resolve, 150));
        if (signal.aborted) this.finishedLate++;
        await this.pushFrame(new TextFrame(`answer to ${frame.text}`), direction);
      }
    }
    const service = new SlowService();
    const after = new Recorder();
    const task = new PipelineTask(new Pipeline([service, after]), { idleTimeoutSecs: 0 });
    const run = task.run();
    await task.queueFrame(new TextFrame("old"));
    await eventually(() => service.queuedFrames === 0, 1000, "the slow frame taken off the queue");
    await task.queueFrame(new InterruptionFrame());
    // The queue moved on at once: the next frame is answered while the cancelled one still waits.
    await task.queueFrame(new TextFrame("new"));
    await eventually(() => service.finishedLate === 1 && after.seen.includes("answer to new"), 2000, "both done");
    await task.queueFrame(new EndFrame());
    await run;
    expect(service.aborted).toBe(1);
    expect(after.seen).not.toContain("answer to old");
    expect(after.seen.filter((s) => s.startsWith("answer"))).toEqual(["answer to new"]);
  });

  test("an EndFrame still gets through a processor whose queue was started by work that was later interrupted", async () => {
    const first = new Recorder();
    const slow = new Recorder(100);
    const task = new PipelineTask(new Pipeline([first, slow]), { idleTimeoutSecs: 0 });
    const run = task.run();
    // `slow`'s queue starts draining inside `first`'s work on "x"; the EndFrame waits in that queue behind "x" when
    // the interruption cancels both.
    await task.queueFrame(new TextFrame("x"));
    await eventually(() => slow.started === 1, 1000, "x handed on");
    await task.queueFrame(new EndFrame());
    await eventually(() => slow.queuedFrames === 1, 1000, "the EndFrame queued behind x");
    await task.queueFrame(new InterruptionFrame());
    expect(await Promise.race([run, new Promise((resolve) => setTimeout(() => resolve("stuck"), 2000))])).toBe("ended");
  });

  test("system frames overtake queued data frames", async () => {
    const slow = new Recorder(100);
    const task = new PipelineTask(new Pipeline([slow]), { idleTimeoutSecs: 0 });
    const run = task.run();
    void task.queueFrames(texts(3));
    await eventually(() => slow.started > 0 && slow.queuedFrames > 0, 1000, "text frames queued behind a slow one");
    await task.queueFrame(new UserStartedSpeakingFrame());
    await task.queueFrame(new EndFrame());
    await run;
    expect(slow.seen.indexOf("UserStartedSpeakingFrame")).toBeLessThan(slow.seen.indexOf("t2"));
  });

  test("an exception becomes an ErrorFrame upstream and does not stop the pipeline", async () => {
    const after = new Recorder();
    const task = new PipelineTask(new Pipeline([new Exploding(), after]), { idleTimeoutSecs: 0 });
    const errors: ErrorFrame[] = [];
    task.on("error", (frame) => errors.push(frame));
    const run = task.run();
    await task.queueFrames([new TextFrame("boom"), new TextFrame("fine"), new EndFrame()]);
    await run;
    expect(errors.map((e) => e.error)).toEqual(["kaboom"]);
    expect(after.seen).toEqual(["StartFrame", "fine", "EndFrame"]);
  });

  test("a fatal error cancels the task", async () => {
    class Fatal extends FrameProcessor {
      protected override async processFrame(frame: Frame, direction: FrameDirection) {
        if (frame instanceof TextFrame) await this.pushError("cannot go on", true);
        else await this.pushFrame(frame, direction);
      }
    }
    const task = new PipelineTask(new Pipeline([new Fatal()]), { idleTimeoutSecs: 0 });
    const run = task.run();
    await task.queueFrame(new TextFrame("x"));
    expect(await run).toBe("cancelled");
  });

  test("upstream frames travel back through the processors", async () => {
    const first = new Recorder();
    class Replier extends FrameProcessor {
      protected override async processFrame(frame: Frame, direction: FrameDirection) {
        if (frame instanceof TextFrame) await this.pushFrame(new TextFrame(`re:${frame.text}`), UPSTREAM);
        await this.pushFrame(frame, direction);
      }
    }
    const task = new PipelineTask(new Pipeline([first, new Replier()]), { idleTimeoutSecs: 0 });
    const run = task.run();
    await task.queueFrames([new TextFrame("hi"), new EndFrame()]);
    await run;
    expect(first.seen).toContain("re:hi");
  });

  test("the idle timeout cancels a task without activity", async () => {
    const task = new PipelineTask(new Pipeline([new Recorder()]), { idleTimeoutSecs: 0.1 });
    let idle = 0;
    task.on("idleTimeout", () => idle++);
    expect(await task.run()).toBe("cancelled");
    expect(idle).toBe(1);
  });

  test("observers see every push", async () => {
    const pushes: string[] = [];
    const task = new PipelineTask(new Pipeline([new Recorder(0, "a"), new Recorder(0, "b")]), {
      idleTimeoutSecs: 0,
      observers: [{ onPushFrame: (e) => e.frame instanceof TextFrame && pushes.push(`${e.source.name}>${e.destination.name}`) }],
    });
    const run = task.run();
    await task.queueFrames([new TextFrame("x"), new EndFrame()]);
    await run;
    expect(pushes).toContain("a>b");
    expect(pushes.length).toBeGreaterThanOrEqual(3);
  });

  test("StartFrame carries the pipeline parameters", async () => {
    let start: StartFrame | undefined;
    class Grab extends FrameProcessor {
      protected override async processFrame(frame: Frame, direction: FrameDirection) {
        if (frame instanceof StartFrame) start = frame;
        await this.pushFrame(frame, direction);
      }
    }
    const task = new PipelineTask(new Pipeline([new Grab()]), { idleTimeoutSecs: 0, params: { audioOutSampleRate: 48000 } });
    const run = task.run();
    await task.queueFrame(new CancelFrame());
    await run;
    expect(start?.params).toMatchObject({ audioInSampleRate: 16000, audioOutSampleRate: 48000, allowInterruptions: true });
    expect(DOWNSTREAM).toBe("downstream");
  });
});
