/**
 * The headers of a session's WebSocket upgrade: the configured ones (the bot's auth), then the session's id and its
 * request data (the offer's `request_data`, or the `/start` body), which a Pipecat bot reads from the upgrade request
 * (docs/protocol.md §7). Ours win over a configured header of the same name.
 */

export const SESSION_ID_HEADER = "X-Smallwebrtc-Session-Id";
export const REQUEST_DATA_HEADER = "X-Smallwebrtc-Request-Data";
/** What Python's WebSocket servers accept in one header line (websockets reads at most 8 KiB a line). */
export const MAX_REQUEST_DATA_BYTES = 8000;

export class RequestDataTooLargeError extends Error {
  override readonly name = "RequestDataTooLargeError";
  constructor(readonly bytes: number) {
    super(`the request data is ${bytes} bytes as JSON; the bridge passes at most ${MAX_REQUEST_DATA_BYTES} to the bot`);
  }
}

export function upgradeHeaders(
  configured: Record<string, string>,
  sessionId: string,
  requestData: unknown,
): Record<string, string> {
  const ours: Record<string, string> = { [SESSION_ID_HEADER]: sessionId };
  if (requestData !== undefined) ours[REQUEST_DATA_HEADER] = asciiJson(requestData);
  const names = new Set(Object.keys(ours).map((name) => name.toLowerCase()));
  const kept = Object.entries(configured).filter(([name]) => !names.has(name.toLowerCase()));
  return { ...Object.fromEntries(kept), ...ours };
}

/**
 * JSON text in printable ASCII, as a header value must be: characters beyond it are written as \u escapes, which
 * any JSON parser reads back as they were (json.loads(header) on the bot's side).
 */
function asciiJson(value: unknown): string {
  const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  const text = JSON.stringify(value).replace(/[\u007f-\uffff]/g, escape);
  if (text.length > MAX_REQUEST_DATA_BYTES) throw new RequestDataTooLargeError(text.length);
  return text;
}
