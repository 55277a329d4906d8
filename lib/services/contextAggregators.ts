/**
 * Context aggregators, as in Pipecat's pipeline `... stt -> user -> llm -> tts -> transport.output() -> assistant`:
 * the user aggregator turns a finished user turn into a context message and asks the LLM to answer; the assistant
 * aggregator, placed after the output transport, records what the bot actually said.
 */
import {
  type Frame,
  InterruptionFrame,
  LLMContextFrame,
  LLMFullResponseEndFrame,
  LLMMessagesAppendFrame,
  LLMTextFrame,
  TextFrame,
  TranscriptionFrame,
  TTSStartedFrame,
  TTSStoppedFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import type { LLMContext } from "./llmContext.ts";

/**
 * A user turn is complete when its transcription arrives and the user is not speaking (the transcription of a turn
 * comes after the user stopped). Speech that resumes before it arrives joins the same turn.
 */
export class LLMUserAggregator extends FrameProcessor {
  readonly context: LLMContext;
  #userSpeaking = false;
  #heard: string[] = [];

  constructor(context: LLMContext) {
    super({ name: "LLMUserAggregator" });
    this.context = context;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof TranscriptionFrame) {
      if (frame.final && frame.text.trim()) this.#heard.push(frame.text.trim());
      if (!this.#userSpeaking) await this.#completeTurn();
      return;
    }
    if (frame instanceof LLMMessagesAppendFrame) {
      this.context.add(...frame.messages);
      if (frame.runLlm) await this.pushFrame(new LLMContextFrame(this.context.messages, frame.skipTts));
      return;
    }
    if (frame instanceof UserStartedSpeakingFrame) this.#userSpeaking = true;
    else if (frame instanceof UserStoppedSpeakingFrame) this.#userSpeaking = false;
    await this.pushFrame(frame, direction);
  }

  async #completeTurn(): Promise<void> {
    if (this.#heard.length === 0) return;
    this.context.add({ role: "user", content: this.#heard.join(" ") });
    this.#heard = [];
    await this.pushFrame(new LLMContextFrame(this.context.messages));
  }
}

/**
 * Records the bot's reply in the context once it is over, or as far as it got when the user interrupted it. TTS text
 * passes the output transport as its sentence starts to play, so an interrupted reply keeps the sentences that were
 * started and loses those never heard. Text shown but not spoken (plain TextFrames) counts as said too.
 */
export class LLMAssistantAggregator extends FrameProcessor {
  readonly context: LLMContext;
  #said: string[] = [];
  #speaking = false;

  constructor(context: LLMContext) {
    super({ name: "LLMAssistantAggregator" });
    this.context = context;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (isSaid(frame)) this.#said.push(frame.text.trim());
    else if (frame instanceof TTSStartedFrame) this.#speaking = true;
    else if (frame instanceof TTSStoppedFrame || frame instanceof InterruptionFrame) {
      this.#speaking = false;
      this.#commit();
    } else if (frame instanceof LLMFullResponseEndFrame && !this.#speaking) this.#commit();
    await this.pushFrame(frame, direction);
  }

  #commit(): void {
    const content = this.#said.filter(Boolean).join(" ");
    this.#said = [];
    if (content) this.context.add({ role: "assistant", content });
  }
}

/** What the bot said or showed: TTS text and plain text, not LLM tokens (their sentences follow) or transcripts. */
function isSaid(frame: Frame): frame is TextFrame {
  return frame instanceof TextFrame && !(frame instanceof LLMTextFrame) && !(frame instanceof TranscriptionFrame);
}
