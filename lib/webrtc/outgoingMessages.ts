import type { RTCDataChannel } from "werift";

export interface OutgoingMessagesOptions {
  /** Messages held while no channel is open (Pipecat keeps 50 and drops the rest). */
  maxQueuedBeforeOpen: number;
  /** Bytes held behind an open channel that is not draining; beyond this, sends are refused. */
  maxBacklogBytes: number;
  /** Bytes handed to SCTP at once. werift's send path grows quadratically with its own queue depth, so keep it shallow. */
  inFlightBytes: number;
}

export type SendResult = "sent" | "queued" | "dropped";

/**
 * Ordered outgoing data-channel messages with bounded memory. Before the channel opens, messages wait (up to
 * `maxQueuedBeforeOpen`); once it is open they are fed to SCTP only while its buffer is below `inFlightBytes`, and the
 * rest follow on `bufferedamountlow`. This keeps werift out of its deep-queue stall and keeps message order.
 */
export class OutgoingMessages {
  #queue: string[] = [];
  #queuedBytes = 0;
  #channel?: RTCDataChannel;
  #unsubscribe?: () => void;
  #discarding = false;
  readonly #options: OutgoingMessagesOptions;

  constructor(options: OutgoingMessagesOptions) {
    this.#options = options;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Starts draining into an open channel. A later channel replaces the earlier one (the client's last one wins). */
  attach(channel: RTCDataChannel): void {
    this.detach();
    this.#channel = channel;
    this.#discarding = false;
    channel.bufferedAmountLowThreshold = this.#options.inFlightBytes / 2;
    const subscription = channel.bufferedAmountLow.subscribe(() => this.#drain());
    this.#unsubscribe = () => subscription.unSubscribe();
    this.#drain();
  }

  detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#channel = undefined;
  }

  /** Drops what is queued and refuses new messages until a channel is attached (Pipecat's data-channel timeout). */
  discard(): void {
    this.#discarding = true;
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  send(text: string): SendResult {
    if (this.#discarding) return "dropped";
    const open = this.#channel?.readyState === "open";
    const full = open
      ? this.#queuedBytes + text.length > this.#options.maxBacklogBytes
      : this.#queue.length >= this.#options.maxQueuedBeforeOpen;
    if (full) return "dropped";
    this.#queue.push(text);
    this.#queuedBytes += text.length;
    this.#drain();
    return this.#queue.length === 0 ? "sent" : "queued";
  }

  #drain(): void {
    const channel = this.#channel;
    if (!channel || channel.readyState !== "open") return;
    while (this.#queue.length > 0 && channel.bufferedAmount < this.#options.inFlightBytes) {
      const text = this.#queue.shift()!;
      this.#queuedBytes -= text.length;
      channel.send(text);
    }
  }
}
