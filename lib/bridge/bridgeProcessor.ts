/**
 * The bot of a bridged session, as a processor between the transport's input and output: client audio and messages
 * go to the remote bot over its WebSocket, and what the bot sends comes back into the pipeline (docs/protocol.md §7).
 *
 * - Client audio leaves as the transport delivers it: 20 ms mono frames at the bridge's input rate.
 * - Bot audio arrives faster than real time (Pipecat sends at about twice that). It waits here, and is handed to the
 *   output a little ahead of playback, so that what is queued is bounded and counted in one place and an
 *   interruption has little to discard downstream. A live bot's audio arrives in real time and goes straight on.
 * - Each way, at most `maxQueuedMs` of audio waits; the oldest goes first (audioBacklog.ts).
 */
import type { Logger } from "../log/logger.ts";
import {
  type Frame,
  InputAudioRawFrame,
  InputTransportMessageFrame,
  InterruptionFrame,
  OutputAudioRawFrame,
  OutputTransportMessageUrgentFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import { EventHub } from "../events/emitter.ts";
import { botOutputMessage, rtviMessage } from "../rtvi/messages.ts";
import { AudioBacklog } from "./audioBacklog.ts";
import { BotSocket } from "./botSocket.ts";
import { bridgeStats } from "./bridgeStats.ts";
import { type BotFrame, decodeFrame, encodeAudio, encodeMessage, FrameDecodeError } from "./frameCodec.ts";

export interface BridgeProcessorOptions {
  url: string;
  connectTimeoutMs: number;
  maxQueuedMs: number;
  logger: Logger;
  /**
   * Bot audio the output holds right now, in ms, for a live output: its sender skips quiet frames to keep latency
   * low, so what it holds falls faster than it plays, and only it knows by how much. Without it, the output plays
   * every frame, and what it holds follows from what was handed over and the time since.
   */
  outputQueuedMs?: () => number;
}

export interface BridgeEvents {
  [event: string]: unknown[];
  /** The bot closed its WebSocket: the session is over. */
  botLeft: [code: number, reason: string];
}

interface BotAudio {
  audio: Int16Array;
  sampleRate: number;
  numChannels: number;
}

/** Bot audio is handed to the output this far ahead of playback: enough to ride out a late timer. */
const LEAD_MS = 60;
/** Bot audio is handed over in pieces of at most this much, so that the lead holds for bots that send long frames. */
const PIECE_MS = 40;
/** The bot's socket may hold this much unsent before client audio waits here instead, where it is bounded. */
const MAX_SOCKET_BUFFERED_BYTES = 16 * 1024;
/** How soon to retry sending to a bot that is not reading. */
const RETRY_SEND_MS = 20;

export class BridgeProcessor extends FrameProcessor {
  readonly events = new EventHub<BridgeEvents>();
  readonly #options: BridgeProcessorOptions;
  readonly #toBot: AudioBacklog<Uint8Array<ArrayBuffer>>;
  readonly #toClient: AudioBacklog<BotAudio>;
  #socket?: BotSocket;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #pumpTimer?: ReturnType<typeof setTimeout>;
  /** When the bot audio handed to the output so far will have been played (for an output that plays all of it). */
  #playhead = 0;
  #decodeErrors = 0;

  constructor(options: BridgeProcessorOptions) {
    super({ name: "BridgeProcessor" });
    this.#options = options;
    this.#toBot = new AudioBacklog("toBot", options.maxQueuedMs);
    this.#toClient = new AudioBacklog("toClient", options.maxQueuedMs);
  }

  /** Bot audio waiting to be played, in ms. */
  get queuedBotAudioMs(): number {
    return this.#toClient.audioMs;
  }

  /** Client audio waiting for the bot, in ms. */
  get queuedClientAudioMs(): number {
    return this.#toBot.audioMs;
  }

  /**
   * Opens the WebSocket to the bot with these upgrade headers (upgradeHeaders.ts); what the client sent meanwhile
   * follows. Rejects with BotUnreachableError. A session that ended while the socket was opening closes it at once.
   */
  async connect(headers: Record<string, string>): Promise<void> {
    const { url, connectTimeoutMs } = this.#options;
    let socket: BotSocket;
    try {
      socket = await BotSocket.open({ url, headers, connectTimeoutMs, logger: this.logger });
    } catch (error) {
      bridgeStats.connectFailed();
      throw error;
    }
    bridgeStats.socketOpened();
    this.#socket = socket;
    socket.on("message", (bytes) => this.#onBotMessage(bytes));
    socket.on("closed", (code, reason) => {
      this.#closeSocket();
      this.events.emit("botLeft", code, reason);
    });
    if (!this.running) this.#closeSocket();
    else this.#sendToBot();
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InputAudioRawFrame) {
      this.#toBot.push(encodeAudio(frame.audio, frame.sampleRate, frame.numChannels), frame.durationMs);
      this.#sendToBot();
    } else if (frame instanceof InputTransportMessageFrame) {
      this.#toBot.push(encodeMessage(frame.message), 0);
      this.#sendToBot();
    } else {
      await this.pushFrame(frame, direction);
    }
  }

  protected override cleanup(): Promise<void> {
    this.#closeSocket();
    this.#stopBotAudio();
    this.#toBot.clear();
    clearTimeout(this.#retryTimer);
    return Promise.resolve();
  }

  /** Sends what waits while the socket takes it; a bot that stops reading leaves the rest here, bounded. */
  #sendToBot(): void {
    const socket = this.#socket;
    if (!socket?.isOpen || this.#retryTimer) return;
    while (!this.#toBot.isEmpty && socket.bufferedAmount < MAX_SOCKET_BUFFERED_BYTES) socket.send(this.#toBot.shift()!);
    if (this.#toBot.isEmpty) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#sendToBot();
    }, RETRY_SEND_MS);
  }

  #onBotMessage(bytes: Uint8Array): void {
    if (!this.running) return;
    let frame: BotFrame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      if (!(error instanceof FrameDecodeError)) throw error;
      if (this.#decodeErrors++ % 100 === 0) {
        this.logger.warn("ignored a message from the bot", { reason: error.message });
      }
      return;
    }
    switch (frame.kind) {
      case "audio":
        this.#queueBotAudio(frame);
        return;
      case "interruption":
        this.#stopBotAudio();
        void this.#push(new InterruptionFrame());
        return;
      case "message":
        void this.#push(new OutputTransportMessageUrgentFrame(frame.message));
        return;
      // Bare text frames become the RTVI messages Pipecat's RTVI observer sends for them.
      case "transcription":
        void this.#push(new OutputTransportMessageUrgentFrame(rtviMessage("user-transcription", {
          text: frame.text,
          user_id: frame.userId,
          timestamp: frame.timestamp,
          final: true,
        })));
        return;
      case "text":
        void this.#push(new OutputTransportMessageUrgentFrame(botOutputMessage(frame.text, false)));
        return;
    }
  }

  #queueBotAudio({ audio, sampleRate, numChannels }: BotAudio): void {
    const pieceSamples = Math.max(1, Math.round((sampleRate * PIECE_MS) / 1000)) * numChannels;
    for (let start = 0; start < audio.length; start += pieceSamples) {
      const piece = audio.subarray(start, start + pieceSamples);
      this.#toClient.push({ audio: piece, sampleRate, numChannels }, (piece.length / numChannels / sampleRate) * 1000);
    }
    if (!this.#pumpTimer) this.#pumpBotAudio();
  }

  /** Hands bot audio to the output at playback pace, LEAD_MS ahead. */
  #pumpBotAudio(): void {
    this.#pumpTimer = undefined;
    while (this.running) {
      const next = this.#toClient.peek();
      if (!next) return;
      const now = performance.now();
      const ahead = this.#options.outputQueuedMs?.() ?? this.#playhead - now;
      if (ahead > LEAD_MS) {
        this.#pumpTimer = setTimeout(() => this.#pumpBotAudio(), ahead - LEAD_MS);
        return;
      }
      const { audio, sampleRate, numChannels } = this.#toClient.shift()!;
      this.#playhead = Math.max(this.#playhead, now) + next.ms;
      void this.#push(new OutputAudioRawFrame(audio, sampleRate, numChannels));
      // A live output counts a frame once it has taken it, a moment after the push: look again then.
      if (this.#options.outputQueuedMs && !this.#toClient.isEmpty) {
        this.#pumpTimer = setTimeout(() => this.#pumpBotAudio(), 0);
        return;
      }
    }
  }

  /** Drops the bot audio not yet handed over; the InterruptionFrame that follows clears the rest downstream. */
  #stopBotAudio(): void {
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    this.#toClient.clear();
    this.#playhead = 0;
  }

  #closeSocket(): void {
    if (!this.#socket) return;
    this.#socket.close(1000);
    this.#socket = undefined;
    bridgeStats.socketClosed();
  }

  async #push(frame: Frame): Promise<void> {
    try {
      await this.pushFrame(frame);
    } catch (error) {
      this.logger.error("pushing a bot frame failed", { frame: frame.name, error });
    }
  }
}
