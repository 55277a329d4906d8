/**
 * The RTVI processor: speaks the RTVI protocol with the client over the transport's messages. It answers
 * `client-ready` with `bot-ready`, routes `client-message` to the bot (which may answer with a `server-response`),
 * turns `disconnect-bot` into the end of the pipeline, and answers every other RTVI type it does not serve with
 * `error-response`. Messages that are not RTVI pass on untouched.
 */
import { EventHub } from "../events/emitter.ts";
import {
  EndTaskFrame,
  type Frame,
  InputTransportMessageFrame,
  OutputTransportMessageUrgentFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor, UPSTREAM } from "../pipeline/frameProcessor.ts";
import {
  botReady,
  errorResponse,
  negotiateVersion,
  parseRTVIMessage,
  type RTVIMessage,
  rtviMessage,
} from "./messages.ts";

export interface ClientMessage {
  id?: string;
  /** The message name (`data.t`). */
  type: string;
  /** The payload (`data.d`). */
  data: unknown;
}

export interface RTVIEvents {
  [event: string]: unknown[];
  clientReady: [];
  clientMessage: [message: ClientMessage];
}

export class RTVIProcessor extends FrameProcessor {
  readonly events = new EventHub<RTVIEvents>();
  #clientReady = false;

  constructor() {
    super({ name: "RTVIProcessor" });
  }

  get clientReady(): boolean {
    return this.#clientReady;
  }

  /** Sends an RTVI message to the client at once. */
  async send(message: RTVIMessage): Promise<void> {
    await this.pushFrame(new OutputTransportMessageUrgentFrame(message));
  }

  /** Sends a `server-message` (any JSON) to the client. */
  sendServerMessage(data: unknown): Promise<void> {
    return this.send(rtviMessage("server-message", data));
  }

  /** Answers a client request (`client-message` with an id) with `server-response`. */
  sendServerResponse(request: ClientMessage, data: unknown): Promise<void> {
    return this.send(rtviMessage("server-response", { t: request.type, d: data }, request.id));
  }

  /** Answers a client request with `error-response`. */
  sendErrorResponse(request: { id?: string }, error: string): Promise<void> {
    return this.send(errorResponse(request.id, error));
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    const rtvi = frame instanceof InputTransportMessageFrame ? parseRTVIMessage(frame.message) : undefined;
    if (!rtvi) {
      await this.pushFrame(frame, direction);
      return;
    }
    await this.#handle(rtvi);
  }

  async #handle(message: RTVIMessage): Promise<void> {
    switch (message.type) {
      case "client-ready": {
        const { version, warning } = negotiateVersion(message.data);
        if (warning) await this.send(errorResponse(message.id, warning));
        await this.send(botReady(message.id, version));
        this.#clientReady = true;
        this.events.emit("clientReady");
        return;
      }
      case "client-message": {
        const data = (message.data ?? {}) as { t?: unknown; d?: unknown };
        if (typeof data.t !== "string") {
          await this.send(errorResponse(message.id, "client-message needs data.t"));
          return;
        }
        this.events.emit("clientMessage", { id: message.id, type: data.t, data: data.d });
        return;
      }
      case "disconnect-bot":
        await this.pushFrame(new EndTaskFrame("the client asked the bot to disconnect"), UPSTREAM);
        return;
      default:
        await this.send(errorResponse(message.id, `Unsupported type ${message.type}`));
    }
  }
}
