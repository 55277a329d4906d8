/**
 * SmallWebRTCTransport: connects a pipeline to one SmallWebRTC client. `input()` brings the client's audio, video
 * and messages into the pipeline; `output()` sends bot audio, video and messages back.
 *
 *   const transport = new SmallWebRTCTransport(args.webrtcConnection, { audioInEnabled: true, audioOutEnabled: true });
 *   transport.on("clientConnected", () => ...);
 *   new Pipeline([transport.input(), bot, transport.output()]);
 */
import { TypedEmitter } from "../events/emitter.ts";
import type { Logger } from "../log/logger.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";
import { SmallWebRTCInputTransport } from "./inputTransport.ts";
import { MediaSession } from "./mediaSession.ts";
import { SmallWebRTCOutputTransport } from "./outputTransport.ts";
import { resolveTransportParams, type ResolvedTransportParams, type TransportParams } from "./transportParams.ts";

export interface TransportEvents {
  [event: string]: unknown[];
  /** The client is connected and the pipeline is running: a good moment to greet. */
  clientConnected: [connection: SmallWebRTCConnection];
  /** The client went away (not emitted when the bot ended the session itself). */
  clientDisconnected: [connection: SmallWebRTCConnection];
  /** A data-channel message that is not signalling; `sender` is the connection's pc_id. */
  appMessage: [message: unknown, sender: string];
}

export class SmallWebRTCTransport extends TypedEmitter<TransportEvents> {
  readonly connection: SmallWebRTCConnection;
  readonly params: ResolvedTransportParams;
  readonly media: MediaSession;
  readonly logger: Logger;
  #input?: SmallWebRTCInputTransport;
  #output?: SmallWebRTCOutputTransport;
  #started = new Set<"input" | "output">();
  #closing = false;
  #connected = false;

  constructor(connection: SmallWebRTCConnection, params: TransportParams = {}) {
    super(connection.logger);
    this.connection = connection;
    this.logger = connection.logger;
    this.params = resolveTransportParams(params);
    this.media = new MediaSession(connection, this.logger);
    connection.on("connected", () => this.#onConnected());
    connection.on("closed", () => this.#onClosed());
    connection.on("appMessage", (message) => {
      this.emit("appMessage", message, connection.pcId);
      this.#input?.pushAppMessage(message);
    });
  }

  /** The processor that brings client media and messages into the pipeline. */
  input(): SmallWebRTCInputTransport {
    this.#input ??= new SmallWebRTCInputTransport(this);
    return this.#input;
  }

  /** The processor that sends bot media and messages to the client. */
  output(): SmallWebRTCOutputTransport {
    this.#output ??= new SmallWebRTCOutputTransport(this);
    return this.#output;
  }

  get isConnected(): boolean {
    return this.#connected;
  }

  /** Sends a message to the client right away. */
  sendMessage(message: unknown): boolean {
    return this.connection.sendAppMessage(message);
  }

  /**
   * Called by each processor when it has its StartFrame. The connection is told the bot is ready only once every
   * processor in use is set up, so `connected` never reaches a half-started pipeline.
   */
  processorStarted(which: "input" | "output"): void {
    this.#started.add(which);
    const needed = Number(this.#input !== undefined) + Number(this.#output !== undefined);
    if (this.#started.size === needed) this.connection.connect();
  }

  /** Ends the session from the bot's side: `peerLeft` to the client, then close. Idempotent. */
  async disconnect(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.media.close();
    await this.connection.disconnect();
  }

  #onConnected(): void {
    if (this.#connected) return;
    this.#connected = true;
    this.media.start();
    this.emit("clientConnected", this.connection);
    this.#input?.pushClientConnected();
  }

  #onClosed(): void {
    this.#connected = false;
    this.media.close();
    if (!this.#closing) this.emit("clientDisconnected", this.connection);
  }
}
