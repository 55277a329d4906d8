/** The conversation context and its aggregators: what the LLM is asked, and what the context says the bot said. */
import { describe, expect, test } from "bun:test";
import {
  type Frame,
  InterruptionFrame,
  LLMContextFrame,
  LLMFullResponseEndFrame,
  LLMFullResponseStartFrame,
  type LLMMessage,
  LLMMessagesAppendFrame,
  LLMTextFrame,
  TextFrame,
  TranscriptionFrame,
  TTSStartedFrame,
  TTSStoppedFrame,
  TTSTextFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { LLMAssistantAggregator, LLMUserAggregator } from "../../lib/services/contextAggregators.ts";
import { LLMContext } from "../../lib/services/llmContext.ts";
import { consistently, eventually } from "../support/eventually.ts";

class Collector extends FrameProcessor {
  readonly frames: Frame[] = [];
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    this.frames.push(frame);
    await this.pushFrame(frame, direction);
  }
  get contextFrames(): LLMContextFrame[] {
    return this.frames.filter((frame) => frame instanceof LLMContextFrame);
  }
}

async function withPipeline(
  run: (parts: { context: LLMContext; between: Collector; task: PipelineTask }) => Promise<void>,
): Promise<void> {
  const context = new LLMContext([{ role: "system", content: "Be brief." }]);
  const between = new Collector();
  const task = new PipelineTask(
    new Pipeline([new LLMUserAggregator(context), between, new LLMAssistantAggregator(context)]),
    { idleTimeoutSecs: 0 },
  );
  const running = task.run();
  await run({ context, between, task });
  await task.cancel();
  await running;
}

const heard = (text: string) => new TranscriptionFrame(text, "pc-1", new Date(0).toISOString());

describe("user aggregator", () => {
  test("a turn's transcription, arriving after the user stopped, becomes a user message and one LLM run", async () => {
    await withPipeline(async ({ context, between, task }) => {
      await task.queueFrames([new UserStartedSpeakingFrame(), new UserStoppedSpeakingFrame(), heard("What is two plus two?")]);
      await eventually(() => between.contextFrames.length === 1, 1000, "the LLM asked once");
      const expected: LLMMessage[] = [
        { role: "system", content: "Be brief." },
        { role: "user", content: "What is two plus two?" },
      ];
      expect(between.contextFrames[0].messages).toEqual(expected);
      expect(context.messages).toEqual(expected);
      // Transcriptions stop at the aggregator (the RTVI observer has already reported them).
      expect(between.frames.some((frame) => frame instanceof TranscriptionFrame)).toBe(false);
    });
  });

  test("speech that resumes before the transcription arrives joins the same turn; empty text runs nothing", async () => {
    await withPipeline(async ({ between, task }) => {
      await task.queueFrames([
        new UserStartedSpeakingFrame(),
        new UserStoppedSpeakingFrame(),
        new UserStartedSpeakingFrame(),
        heard("Tell me"),
        new UserStoppedSpeakingFrame(),
        heard("a joke."),
        heard("   "),
      ]);
      await eventually(() => between.contextFrames.length === 1, 1000, "one LLM run");
      expect(between.contextFrames[0].messages.at(-1)).toEqual({ role: "user", content: "Tell me a joke." });
      await task.queueFrame(new TextFrame("marker"));
      await eventually(() => between.frames.some((f) => f instanceof TextFrame && f.text === "marker"), 1000, "marker");
      expect(between.contextFrames).toHaveLength(1);
    });
  });

  test("appended messages join the context, and run the LLM only when asked to (with skipTts passed on)", async () => {
    await withPipeline(async ({ context, between, task }) => {
      await task.queueFrame(new LLMMessagesAppendFrame([{ role: "user", content: "Remember 7." }], false));
      await task.queueFrame(new LLMMessagesAppendFrame([{ role: "user", content: "What number?" }], true, true));
      await eventually(() => between.contextFrames.length === 1, 1000, "one LLM run");
      expect(between.contextFrames[0].skipTts).toBe(true);
      expect(context.messages.map((m) => m.content)).toEqual(["Be brief.", "Remember 7.", "What number?"]);
    });
  });
});

describe("assistant aggregator", () => {
  test("a spoken reply is recorded once it is over, sentence by sentence, without the LLM's tokens", async () => {
    await withPipeline(async ({ context, task }) => {
      await task.queueFrames([
        new LLMFullResponseStartFrame(),
        new LLMTextFrame("Four"),
        new TTSStartedFrame(),
        new TTSTextFrame("Four."),
        new LLMFullResponseEndFrame(),
        new TTSTextFrame("Anything else?"),
        new TTSStoppedFrame(),
      ]);
      await eventually(() => context.messages.length === 2, 1000, "the reply recorded");
      expect(context.messages.at(-1)).toEqual({ role: "assistant", content: "Four. Anything else?" });
    });
  });

  test("an interrupted reply is recorded as far as it was spoken", async () => {
    await withPipeline(async ({ context, task }) => {
      await task.queueFrames([new TTSStartedFrame(), new TTSTextFrame("The first sentence.")]);
      await consistently(() => context.messages.length === 1, 50, "nothing recorded while the reply goes on");
      await task.queueFrame(new InterruptionFrame());
      await eventually(() => context.messages.length === 2, 1000, "the spoken part recorded");
      expect(context.messages.at(-1)).toEqual({ role: "assistant", content: "The first sentence." });
      // The sentences never played are not in the context, and the next reply starts afresh.
      await task.queueFrames([new TTSStartedFrame(), new TTSTextFrame("Next."), new TTSStoppedFrame()]);
      await eventually(() => context.messages.length === 3, 1000, "the next reply");
      expect(context.messages.at(-1)).toEqual({ role: "assistant", content: "Next." });
    });
  });

  test("a reply shown but not spoken is recorded at the end of the LLM's response", async () => {
    await withPipeline(async ({ context, task }) => {
      await task.queueFrames([new LLMFullResponseStartFrame(), new TextFrame("Seven."), new LLMFullResponseEndFrame()]);
      await eventually(() => context.messages.length === 2, 1000, "the reply recorded");
      expect(context.messages.at(-1)).toEqual({ role: "assistant", content: "Seven." });
    });
  });
});

describe("context", () => {
  test("keeps the system prompt and at most maxMessages turns, dropping the oldest", () => {
    const context = new LLMContext([{ role: "system", content: "S" }], { maxMessages: 3 });
    for (const content of ["u1", "a1", "u2", "a2"]) context.add({ role: content[0] === "u" ? "user" : "assistant", content });
    expect(context.messages.map((m) => m.content)).toEqual(["S", "a1", "u2", "a2"]);
    // A copy: changing it changes nothing inside.
    context.messages[0].content = "changed";
    expect(context.messages[0].content).toBe("S");
  });
});
