/**
 * The conversation an LLM continues: the system prompt, then user and assistant turns, in OpenAI's message shape.
 * The user and assistant aggregators (contextAggregators.ts) fill it, as Pipecat's context aggregators do.
 */
import type { LLMMessage } from "../pipeline/frames.ts";

export interface LLMContextOptions {
  /** Turns kept besides the system messages; older ones are dropped, so a long call cannot grow without bound. */
  maxMessages?: number;
}

const DEFAULT_MAX_MESSAGES = 100;

export class LLMContext {
  readonly #messages: LLMMessage[] = [];
  readonly #maxMessages: number;

  constructor(messages: readonly LLMMessage[] = [], options: LLMContextOptions = {}) {
    this.#maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
    this.add(...messages);
  }

  /** A copy: what an LLM request is made from stays as it was, whatever the conversation does next. */
  get messages(): LLMMessage[] {
    return this.#messages.map((message) => ({ ...message }));
  }

  add(...messages: readonly LLMMessage[]): void {
    for (const message of messages) this.#messages.push({ role: message.role, content: message.content });
    let turns = this.#messages.filter((message) => message.role !== "system").length;
    while (turns > this.#maxMessages) {
      this.#messages.splice(this.#messages.findIndex((message) => message.role !== "system"), 1);
      turns--;
    }
  }
}
