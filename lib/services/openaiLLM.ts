/**
 * OpenAILLMService: runs each LLMContextFrame through a streaming chat completion (`POST {baseUrl}/chat/completions`,
 * `stream: true`) and pushes the reply as it comes: LLMFullResponseStartFrame, an LLMTextFrame per content delta,
 * LLMFullResponseEndFrame. The request runs under the frame's interrupt signal, so the user speaking aborts it.
 */
import {
  type Frame,
  LLMContextFrame,
  LLMFullResponseEndFrame,
  LLMFullResponseStartFrame,
  LLMTextFrame,
} from "../pipeline/frames.ts";
import type { FrameDirection } from "../pipeline/frameProcessor.ts";
import { serverSentEvents } from "./serverSentEvents.ts";
import type { ServiceConfig } from "./serviceConfig.ts";
import { errorReason } from "./serviceError.ts";
import { ServiceProcessor } from "./serviceProcessor.ts";

export interface OpenAILLMOptions extends ServiceConfig {
  /** The processor's name in logs, errors and metrics. Default "OpenAILLMService". */
  name?: string;
  temperature?: number;
  /** Sent as `max_tokens`, which OpenAI-compatible servers all know. */
  maxTokens?: number;
}

/** A reply is text: a stream longer than this is a server gone wrong, not an answer. */
const MAX_STREAM_BYTES = 8 * 1024 * 1024;
/** One chunk object; OpenAI's are a few hundred bytes. */
const MAX_EVENT_CHARS = 256 * 1024;

export class OpenAILLMService extends ServiceProcessor {
  readonly #options: OpenAILLMOptions;

  constructor(options: OpenAILLMOptions) {
    super(options, "OpenAILLMService");
    this.#options = options;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof LLMContextFrame) await this.#respond(frame);
    else await this.pushFrame(frame, direction);
  }

  async #respond(context: LLMContextFrame): Promise<void> {
    const signal = this.interruptSignal;
    const request = this.request(signal);
    const { temperature, maxTokens } = this.#options;
    const body = { model: this.model, messages: context.messages, stream: true, temperature, max_tokens: maxTokens };
    await this.pushFrame(new LLMFullResponseStartFrame());
    const startedAt = performance.now();
    let firstToken = true;
    try {
      const response = await request.post("/chat/completions", { json: body });
      let done = false;
      for await (const data of serverSentEvents(request.chunks(response, MAX_STREAM_BYTES), MAX_EVENT_CHARS)) {
        if (data === "[DONE]") {
          done = true;
          break;
        }
        const content = deltaContent(data);
        if (!content) continue;
        if (firstToken) {
          firstToken = false;
          await this.pushTtfb(startedAt);
        }
        await this.pushFrame(new LLMTextFrame(content, context.skipTts));
      }
      if (!done) throw new Error("stream ended before data: [DONE]");
    } catch (error) {
      await this.reportFailure(request.failure(error), signal);
    } finally {
      // Downstream closes the reply even when it was cut short.
      await this.pushFrame(new LLMFullResponseEndFrame());
    }
  }
}

/**
 * The text of one `chat.completion.chunk`: `choices[0].delta.content`. A chunk may carry none (the role, the
 * finish_reason, usage with empty choices); an `error` object in the stream is how servers report failing mid-reply.
 */
function deltaContent(data: string): string | undefined {
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    throw new Error(`malformed chunk: ${data.slice(0, 80)}`);
  }
  if (typeof chunk !== "object" || chunk === null) throw new Error(`malformed chunk: ${data.slice(0, 80)}`);
  const { choices, error } = chunk as { choices?: unknown; error?: unknown };
  if (error) throw new Error(`error in stream: ${errorReason(JSON.stringify({ error }), "no message")}`);
  if (!Array.isArray(choices)) throw new Error("malformed chunk: no choices");
  const content = (choices[0] as { delta?: { content?: unknown } } | undefined)?.delta?.content;
  if (content === undefined || content === null) return undefined;
  if (typeof content !== "string") throw new Error("malformed chunk: content is not a string");
  return content;
}
