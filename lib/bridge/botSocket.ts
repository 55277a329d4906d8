/**
 * One session's WebSocket to the remote bot. It uses the runtime's own WebSocket: Bun (and so the binary) and Deno
 * both take custom upgrade headers as `new WebSocket(url, { headers })`, which the bot's auth needs.
 */
import { TypedEmitter } from "../events/emitter.ts";
import type { Logger } from "../log/logger.ts";

export interface BotSocketOptions {
  url: string;
  /** Sent with the upgrade request; never logged. */
  headers: Record<string, string>;
  connectTimeoutMs: number;
  logger: Logger;
}

export interface BotSocketEvents {
  [event: string]: unknown[];
  /** A binary message from the bot. */
  message: [bytes: Uint8Array];
  /** The socket closed after it had opened; not emitted for a close this side asked for. */
  closed: [code: number, reason: string];
}

/** The bot could not be reached: refused, an HTTP answer instead of an upgrade, or no answer in time. */
export class BotUnreachableError extends Error {
  override readonly name = "BotUnreachableError";
  constructor(
    /** The bot's URL without credentials or query, fit for a log line. */
    readonly where: string,
    readonly reason: string,
  ) {
    super(`cannot reach the bot at ${where}: ${reason}`);
  }
}

/** Both runtimes accept headers in the second argument; the DOM typings only know subprotocols there. */
type WebSocketWithHeaders = new (url: string, options: { headers: Record<string, string> }) => WebSocket;

export class BotSocket extends TypedEmitter<BotSocketEvents> {
  readonly #socket: WebSocket;
  readonly #logger: Logger;
  #closing = false;

  private constructor(socket: WebSocket, logger: Logger) {
    super(logger);
    this.#socket = socket;
    this.#logger = logger;
  }

  /** Opens the socket; rejects with BotUnreachableError when it does not open within the timeout. */
  static open({ url, headers, connectTimeoutMs, logger }: BotSocketOptions): Promise<BotSocket> {
    const where = loggableUrl(url);
    return new Promise((resolve, reject) => {
      let socket: WebSocket;
      try {
        socket = new (WebSocket as unknown as WebSocketWithHeaders)(url, { headers });
      } catch (error) {
        reject(new BotUnreachableError(where, (error as Error).message));
        return;
      }
      socket.binaryType = "arraybuffer";
      const fail = (reason: string) => {
        clearTimeout(timer);
        socket.onopen = socket.onerror = socket.onclose = null;
        socket.close();
        reject(new BotUnreachableError(where, reason));
      };
      const timer = setTimeout(() => fail(`no answer within ${connectTimeoutMs / 1000} s`), connectTimeoutMs);
      socket.onerror = (event) => fail(failureReason(event));
      socket.onclose = (event) => fail(`closed before it opened (code ${event.code})`);
      socket.onopen = () => {
        clearTimeout(timer);
        const bot = new BotSocket(socket, logger);
        bot.#listen();
        resolve(bot);
      };
    });
  }

  /** Bytes accepted by `send` and not yet handed to the network. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN && !this.#closing;
  }

  send(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.isOpen) this.#socket.send(bytes);
  }

  /** Closes from this side (1000: the session is over); no `closed` event follows. */
  close(code = 1000, reason = ""): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#socket.close(code, reason);
  }

  #listen(): void {
    this.#socket.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) this.emit("message", new Uint8Array(event.data));
      else this.#logger.debug("ignored a text message from the bot: its frames are binary");
    };
    this.#socket.onerror = null;
    this.#socket.onclose = (event) => {
      if (this.#closing) return;
      this.#closing = true;
      this.emit("closed", event.code, event.reason);
    };
  }
}

/** Scheme, host and path: enough to say which bot, without the credentials a query string or user part may hold. */
export function loggableUrl(url: string): string {
  try {
    const { protocol, host, pathname } = new URL(url);
    return `${protocol}//${host}${pathname}`;
  } catch {
    return "(an invalid URL)";
  }
}

/**
 * The runtime's words for why the upgrade failed, without the URL they quote: Bun says "Expected 101 status code:
 * 403" or "Failed to connect", Deno "Invalid status code: 403" or "tcp connect error".
 */
function failureReason(event: Event): string {
  const message = String((event as ErrorEvent).message ?? "");
  const status = /status code:?\s*(\d{3})/i.exec(message)?.[1];
  if (status) return `it answered HTTP ${status} instead of accepting the WebSocket`;
  const detail = message.replace(/^.*failed:\s*/i, "").replace(/^.*WebSocket:\s*/i, "").trim();
  return detail ? `connection failed (${detail})` : "connection failed";
}
