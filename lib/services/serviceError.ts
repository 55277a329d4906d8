/**
 * ServiceError: why a request to a speech or LLM service failed, in one line that names the service. It is what the
 * client sees in an RTVI error and what the log records, so it never carries the API key and never spans lines.
 */

/** The longest reason kept: a server's error message is not ours to trust with the log. */
const MAX_REASON_CHARS = 300;

export class ServiceError extends Error {
  override readonly name = "ServiceError";

  constructor(
    /** The processor that made the request, e.g. "OpenAILLMService". */
    readonly service: string,
    /** One line: why it failed. */
    readonly reason: string,
    /** The HTTP status, when the server answered with an error. */
    readonly status?: number,
  ) {
    super(`${service}: ${status === undefined ? "" : `HTTP ${status}: `}${reason}`);
  }
}

/** A reason safe for one log line: control characters (newlines included) become spaces, and it is cut short. */
export function oneLine(text: string): string {
  const flat = text.replace(/\p{Cc}+/gu, " ").trim();
  return flat.length > MAX_REASON_CHARS ? `${flat.slice(0, MAX_REASON_CHARS)}…` : flat;
}

/** `text` with every occurrence of `secret` masked, so a server that echoes the key cannot put it in the log. */
export function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join("***") : text;
}

/**
 * The reason for an HTTP error: OpenAI's error body `{"error": {"message", "type", "param", "code"}}` when the server
 * sent one (vLLM, llama.cpp and speaches do too), the status text otherwise.
 */
export function errorReason(body: string, statusText: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = (parsed as { error?: unknown })?.error;
    const message = typeof error === "string" ? error : (error as { message?: unknown })?.message;
    if (typeof message === "string" && message.trim()) return message;
  } catch {
    // Not JSON: a proxy's HTML page or plain text, which says less than the status text.
  }
  return statusText || "request failed";
}
