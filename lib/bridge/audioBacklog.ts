/**
 * What one direction of a bridged session holds while the other end is not ready for it: a FIFO in which audio is
 * bounded by duration. Beyond `maxMs`, the oldest audio is dropped (stale speech is worth less than fresh speech) and
 * counted in /metrics; messages, which carry no duration, are bounded by count instead.
 */
import { type BridgeDirection, bridgeStats } from "./bridgeStats.ts";

/** Messages kept while the bot is unreachable or not reading; a client that sends more is misbehaving. */
const MAX_MESSAGES = 100;

interface Entry<T> {
  item: T;
  /** Duration of the audio it holds; 0 for a message. */
  ms: number;
}

export class AudioBacklog<T> {
  readonly #direction: BridgeDirection;
  readonly #maxMs: number;
  #entries: Entry<T>[] = [];
  #audioMs = 0;
  #messages = 0;
  #droppedMessages = 0;

  constructor(direction: BridgeDirection, maxMs: number) {
    this.#direction = direction;
    this.#maxMs = maxMs;
  }

  get audioMs(): number {
    return this.#audioMs;
  }

  get isEmpty(): boolean {
    return this.#entries.length === 0;
  }

  /** Messages dropped because more than MAX_MESSAGES waited. */
  get droppedMessages(): number {
    return this.#droppedMessages;
  }

  push(item: T, ms: number): void {
    this.#entries.push({ item, ms });
    this.#account(ms, ms > 0 ? 0 : 1);
    while (this.#audioMs > this.#maxMs) {
      const oldest = this.#entries.findIndex((entry) => entry.ms > 0);
      const [dropped] = this.#entries.splice(oldest, 1);
      this.#account(-dropped.ms, 0);
      bridgeStats.audioDropped(this.#direction, dropped.ms);
    }
    if (this.#messages > MAX_MESSAGES) {
      this.#entries.splice(this.#entries.findIndex((entry) => entry.ms === 0), 1);
      this.#account(0, -1);
      this.#droppedMessages++;
    }
  }

  peek(): Entry<T> | undefined {
    return this.#entries[0];
  }

  shift(): T | undefined {
    const entry = this.#entries.shift();
    if (entry) this.#account(-entry.ms, entry.ms > 0 ? 0 : -1);
    return entry?.item;
  }

  /** Drops everything, uncounted: what an interruption or the end of the session discards is not lost audio. */
  clear(): void {
    this.#account(-this.#audioMs, -this.#messages);
    this.#entries = [];
  }

  #account(ms: number, messages: number): void {
    this.#audioMs += ms;
    this.#messages += messages;
    if (ms !== 0) bridgeStats.audioQueued(this.#direction, ms);
  }
}
