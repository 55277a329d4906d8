/**
 * What the transport's input and output processors are given, as Pipecat's SmallWebRTCClient is: the client's
 * connection and media, the transport params, and a way to say "set up" and "end". They never see the transport, so
 * the transport can own them without an import cycle.
 */
import type { Logger } from "../log/logger.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";
import { MediaSession } from "./mediaSession.ts";
import type { ResolvedTransportParams } from "./transportParams.ts";

export type ProcessorSide = "input" | "output";

export class SmallWebRTCClient {
  readonly connection: SmallWebRTCConnection;
  readonly params: ResolvedTransportParams;
  readonly media: MediaSession;
  readonly logger: Logger;
  readonly #expected = new Set<ProcessorSide>();
  readonly #started = new Set<ProcessorSide>();
  readonly #stopped = new Set<ProcessorSide>();
  #closing = false;

  constructor(connection: SmallWebRTCConnection, params: ResolvedTransportParams) {
    this.connection = connection;
    this.params = params;
    this.logger = connection.logger;
    this.media = new MediaSession(connection, this.logger);
  }

  /** The pc_id, which also names the user in frames such as UserImageRawFrame. */
  get id(): string {
    return this.connection.pcId;
  }

  /** Whether the bot is ending the session itself (so the client's departure is not news). */
  get closing(): boolean {
    return this.#closing;
  }

  /** A processor for `side` exists and will report `processorStarted`. */
  expect(side: ProcessorSide): void {
    this.#expected.add(side);
  }

  /**
   * Called by each processor when it has its StartFrame. The connection is told the bot is ready only once every
   * processor in use is set up, so `connected` never reaches a half-started pipeline.
   */
  processorStarted(side: ProcessorSide): void {
    this.#started.add(side);
    if (this.#started.size === this.#expected.size) this.connection.connect();
  }

  /**
   * Called by each processor when it has stopped. The session ends once every processor in use has: an EndFrame
   * passes the input first, and the output still has the bot's last words and the end silence to send.
   */
  async processorStopped(side: ProcessorSide): Promise<void> {
    this.#stopped.add(side);
    if (this.#stopped.size === this.#expected.size) await this.disconnect();
  }

  /** Sends a message to the client right away. */
  sendMessage(message: unknown): boolean {
    return this.connection.sendAppMessage(message);
  }

  /** Ends the session from the bot's side: `peerLeft` to the client, then close. Idempotent. */
  async disconnect(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.media.close();
    await this.connection.disconnect();
  }
}
