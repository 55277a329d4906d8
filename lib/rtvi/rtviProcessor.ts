/**
 * The RTVI processor: speaks the RTVI protocol with the client over the transport's messages. It answers
 * `client-ready` with `bot-ready`, routes `client-message`, `ui-event` and `ui-snapshot` to the bot as client
 * messages (the bot may answer with a `server-response`), turns `disconnect-bot` into the end of the pipeline, and, for a bot with an LLM, `send-text` and
 * `append-to-context` into additions to its conversation. It answers every other RTVI type it does not serve with
 * `error-response`, and tells the client of errors pipeline stages report. Messages that are not RTVI pass on
 * untouched.
 */
import { EventHub } from "../events/emitter.ts";
import {
  EndTaskFrame,
  ErrorFrame,
  type Frame,
  InputTransportMessageFrame,
  InterruptionFrame,
  LLMMessagesAppendFrame,
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

/** The RTVI types that reach the bot as client messages (docs/protocol.md §4.3). */
export type ClientMessageKind = "client-message" | "ui-event" | "ui-snapshot";

export interface ClientMessage {
  id?: string;
  /** The RTVI type it came as: client-js `sendClientMessage`, `sendUIEvent` or `startUISnapshotStream`. */
  kind: ClientMessageKind;
  /** The message name: `data.t` of a `client-message`, `data.event` of a `ui-event`, or `ui-snapshot`. */
  type: string;
  /** The payload: `data.d`, `data.payload`, or a snapshot's whole `data` (`{tree}`, the page's accessibility tree). */
  data: unknown;
}

export interface RTVIEvents {
  [event: string]: unknown[];
  clientReady: [];
  clientMessage: [message: ClientMessage];
}

export interface RTVIProcessorOptions {
  /**
   * The pipeline has an LLM with a context aggregator: `send-text` and `append-to-context` become
   * LLMMessagesAppendFrames. Without one they are answered with `error-response`.
   */
  llm?: boolean;
}

export class RTVIProcessor extends FrameProcessor {
  readonly events = new EventHub<RTVIEvents>();
  readonly #llm: boolean;
  #clientReady = false;

  constructor(options: RTVIProcessorOptions = {}) {
    super({ name: "RTVIProcessor" });
    this.#llm = options.llm ?? false;
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
    // A stage's error, on its way up to the task: the client hears of it too (the bot goes on unless it is fatal).
    if (frame instanceof ErrorFrame && direction === UPSTREAM) {
      await this.send(rtviMessage("error", { error: frame.error, fatal: frame.fatal }));
    }
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
      case "client-message":
      case "ui-event":
      case "ui-snapshot": {
        const parsed = parseClientMessage(message.type, message.id, message.data);
        if (typeof parsed === "string") await this.send(errorResponse(message.id, parsed));
        else this.events.emit("clientMessage", parsed);
        return;
      }
      case "disconnect-bot":
        await this.pushFrame(new EndTaskFrame("the client asked the bot to disconnect"), UPSTREAM);
        return;
      case "send-text":
      case "append-to-context": {
        if (!this.#llm) {
          await this.send(errorResponse(message.id, `${message.type} needs a bot with an LLM, and this bot has none`));
          return;
        }
        const parsed = message.type === "send-text" ? parseSendText(message.data) : parseAppendToContext(message.data);
        if (typeof parsed === "string") {
          await this.send(errorResponse(message.id, `${message.type}: ${parsed}`));
          return;
        }
        // A typed turn that runs at once cuts the bot off first, as a spoken one does.
        if (parsed.runLlm) await this.pushFrame(new InterruptionFrame());
        await this.pushFrame(parsed);
        return;
      }
      default:
        await this.send(errorResponse(message.id, `Unsupported type ${message.type}`));
    }
  }
}

/** A client message as the bot sees it, or why it is malformed. */
function parseClientMessage(kind: ClientMessageKind, id: string | undefined, raw: unknown): ClientMessage | string {
  const data = (raw ?? {}) as Record<string, unknown>;
  switch (kind) {
    case "client-message":
      if (typeof data.t !== "string") return "client-message needs data.t";
      return { id, kind, type: data.t, data: data.d };
    case "ui-event":
      if (typeof data.event !== "string") return "ui-event needs data.event";
      return { id, kind, type: data.event, data: data.payload };
    case "ui-snapshot":
      if (typeof data.tree !== "object" || data.tree === null) return "ui-snapshot needs data.tree";
      return { id, kind, type: kind, data };
  }
}

/** `send-text` (client-js sendText): `{content, options: {run_immediately = true, audio_response = true}}`. */
function parseSendText(data: unknown): LLMMessagesAppendFrame | string {
  const { content, options = {} } = (data ?? {}) as { content?: unknown; options?: Record<string, unknown> };
  if (typeof content !== "string" || !content.trim()) return "data.content must be a non-empty string";
  if (typeof options !== "object" || options === null) return "data.options must be an object";
  const { run_immediately: runLlm = true, audio_response: audioResponse = true } = options;
  if (typeof runLlm !== "boolean" || typeof audioResponse !== "boolean") {
    return "data.options.run_immediately and audio_response must be booleans";
  }
  return new LLMMessagesAppendFrame([{ role: "user", content }], runLlm, !audioResponse);
}

/** `append-to-context` (client-js appendToContext, deprecated there): `{role, content, run_immediately = false}`. */
function parseAppendToContext(data: unknown): LLMMessagesAppendFrame | string {
  const { role, content, run_immediately: runLlm = false } = (data ?? {}) as Record<string, unknown>;
  if (role !== "user" && role !== "assistant") return 'data.role must be "user" or "assistant"';
  if (typeof content !== "string" || !content.trim()) return "data.content must be a non-empty string";
  if (typeof runLlm !== "boolean") return "data.run_immediately must be a boolean";
  return new LLMMessagesAppendFrame([{ role, content }], runLlm);
}
