/**
 * One HTTP exchange with a service. Every wait on the server has a deadline (for the response to begin, and for each
 * piece of a streamed body), combined with the caller's signal, which an interruption aborts. The key goes in the
 * Authorization header only, and bodies are read with a size limit, so a broken or hostile server can neither hang a
 * session nor grow its memory.
 */
import { DEFAULT_TIMEOUT_SECS, type ServiceConfig } from "./serviceConfig.ts";
import { errorReason, oneLine, redact, ServiceError } from "./serviceError.ts";

/** An error body is one message: more than this is not worth reading. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export type RequestBody = { json: unknown } | { form: FormData };

export class ServiceRequest {
  /** Aborts on the caller's signal or when the server keeps us waiting too long; pass it to what reads the body. */
  readonly signal: AbortSignal;
  readonly #service: string;
  readonly #config: ServiceConfig;
  readonly #caller: AbortSignal;
  readonly #deadline = new AbortController();
  readonly #timeoutMs: number;
  #timer?: ReturnType<typeof setTimeout>;
  #waitingFor = "";

  constructor(service: string, config: ServiceConfig, signal: AbortSignal) {
    this.#service = service;
    this.#config = config;
    this.#caller = signal;
    this.#timeoutMs = (config.timeoutSecs ?? DEFAULT_TIMEOUT_SECS) * 1000;
    this.signal = AbortSignal.any([signal, this.#deadline.signal]);
  }

  /** POSTs to `{baseUrl}{path}` and returns the response once it begins; an HTTP error becomes a ServiceError. */
  async post(path: string, body: RequestBody): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.#config.apiKey) headers.authorization = `Bearer ${this.#config.apiKey}`;
    if ("json" in body) headers["content-type"] = "application/json";
    const url = `${this.#config.baseUrl.replace(/\/+$/, "")}${path}`;
    const init = { method: "POST", headers, signal: this.signal };
    const response = await this.#wait(
      "the response",
      () => fetch(url, { ...init, body: "json" in body ? JSON.stringify(body.json) : body.form }),
    );
    if (response.ok) return response;
    let text = "";
    try {
      text = new TextDecoder().decode(await this.bytes(response, MAX_ERROR_BODY_BYTES, { truncate: true }));
    } catch (error) {
      if (this.#caller.aborted) throw error;
    }
    throw this.#error(errorReason(text, response.statusText), response.status);
  }

  /**
   * The body as it arrives, at most `maxBytes` in all. Stopping early (break, or an error) cancels the body, which
   * closes the connection: the server sees the request aborted.
   */
  async *chunks(response: Response, maxBytes: number): AsyncGenerator<Uint8Array> {
    if (!response.body) return;
    const reader = response.body.getReader();
    let total = 0;
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await this.#wait("the next part of the response", () => reader.read());
        if (done) {
          finished = true;
          return;
        }
        total += value.byteLength;
        if (total > maxBytes) throw this.#error(`response longer than ${maxBytes} bytes`);
        yield value;
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => {});
    }
  }

  /** The whole body, at most `maxBytes` (or its first `maxBytes` with `truncate`). */
  async bytes(response: Response, maxBytes: number, { truncate = false } = {}): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of this.chunks(response, truncate ? Infinity : maxBytes)) {
      parts.push(chunk);
      length += chunk.byteLength;
      if (truncate && length >= maxBytes) break;
    }
    const body = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.byteLength;
    }
    return truncate ? body.subarray(0, maxBytes) : body;
  }

  /**
   * A failure of this request as a ServiceError, or the caller's own abort reason when the caller aborted: an
   * interruption is not the service's failure, and callers tell the two apart by their signal.
   */
  failure(error: unknown): unknown {
    if (this.#caller.aborted) return this.#caller.reason ?? error;
    if (error instanceof ServiceError) return error;
    if (this.#deadline.signal.aborted) {
      return this.#error(`no answer within ${this.#timeoutMs / 1000} s waiting for ${this.#waitingFor}`);
    }
    // Bun appends a hint about its `verbose` fetch option, which means nothing to whoever reads the log.
    return this.#error(
      (error instanceof Error ? error.message : String(error)).replace(/\. For more information.*$/s, ""),
    );
  }

  /** Runs one wait on the server under the deadline; the signal also ends waits that ignore it. */
  async #wait<T>(what: string, start: () => Promise<T>): Promise<T> {
    if (this.signal.aborted) throw this.failure(this.signal.reason);
    this.#waitingFor = what;
    this.#timer = setTimeout(() => this.#deadline.abort(), this.#timeoutMs);
    const aborted = Promise.withResolvers<never>();
    const onAbort = () => aborted.reject(this.signal.reason);
    this.signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([start(), aborted.promise]);
    } catch (error) {
      throw this.failure(error);
    } finally {
      this.#disarm();
      this.signal.removeEventListener("abort", onAbort);
    }
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #error(reason: string, status?: number): ServiceError {
    return new ServiceError(this.#service, oneLine(redact(reason, this.#config.apiKey)), status);
  }
}
