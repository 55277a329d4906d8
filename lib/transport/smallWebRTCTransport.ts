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
import type { MediaSession } from "./mediaSession.ts";
import { SmallWebRTCOutputTransport } from "./outputTransport.ts";
import { SmallWebRTCClient } from "./smallWebRTCClient.ts";
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
  readonly logger: Logger;
  readonly #client: SmallWebRTCClient;
  #input?: SmallWebRTCInputTransport;
  #output?: SmallWebRTCOutputTransport;
  #connected = false;

  constructor(connection: SmallWebRTCConnection, params: TransportParams = {}) {
    super(connection.logger);
    this.connection = connection;
    this.logger = connection.logger;
    this.params = resolveTransportParams(params);
    this.#client = new SmallWebRTCClient(connection, this.params);
    connection.on("connected", () => this.#onConnected());
    connection.on("closed", () => this.#onClosed());
    connection.on("appMessage", (message) => {
      this.emit("appMessage", message, connection.pcId);
      this.#input?.pushAppMessage(message);
    });
  }

  /** The client's media: receivers and senders. */
  get media(): MediaSession {
    return this.#client.media;
  }

  /** The processor that brings client media and messages into the pipeline. */
  input(): SmallWebRTCInputTransport {
    if (!this.#input) {
      this.#client.expect("input");
      this.#input = new SmallWebRTCInputTransport(this.#client);
    }
    return this.#input;
  }

  /** The processor that sends bot media and messages to the client. */
  output(): SmallWebRTCOutputTransport {
    if (!this.#output) {
      this.#client.expect("output");
      this.#output = new SmallWebRTCOutputTransport(this.#client);
    }
    return this.#output;
  }

  get isConnected(): boolean {
    return this.#connected;
  }

  /** Sends a message to the client right away. */
  sendMessage(message: unknown): boolean {
    return this.#client.sendMessage(message);
  }

  /** Ends the session from the bot's side: `peerLeft` to the client, then close. Idempotent. */
  disconnect(): Promise<void> {
    return this.#client.disconnect();
  }

  #onConnected(): void {
    if (this.#connected) return;
    this.#connected = true;
    this.#client.media.start();
    this.emit("clientConnected", this.connection);
    this.#input?.pushClientConnected();
  }

  #onClosed(): void {
    this.#connected = false;
    this.#client.media.close();
    if (!this.#client.closing) this.emit("clientDisconnected", this.connection);
  }
}
