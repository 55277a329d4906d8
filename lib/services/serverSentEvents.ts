/**
 * A streaming reader of server-sent events (the WHATWG event-stream format), as chat completions stream them: `data:`
 * lines, joined with newlines when an event has several, dispatched at a blank line; comments (`:`) and other fields
 * ignored. Events are bounded, so a server that never sends a newline (or a blank line) cannot grow memory.
 */

/** The stream is not a well-formed event stream. */
export class EventStreamError extends Error {
  override readonly name = "EventStreamError";
}

/**
 * Yields each event's data as the bytes arrive. An event not closed by a blank line when the stream ends is dropped,
 * as the format says: a stream cut mid-event must not pass for a whole one.
 */
export async function* serverSentEvents(
  chunks: AsyncIterable<Uint8Array>,
  maxEventChars: number,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  let data: string[] | undefined;
  let dataChars = 0;
  // A "\r\n" may be split across two chunks: its "\n" then must not end a second, empty line.
  let afterCarriageReturn = false;
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let i = 0; i < pending.length; i++) {
      const char = pending[i];
      if (char !== "\n" && char !== "\r") continue;
      const skip = afterCarriageReturn && char === "\n" && i === start;
      afterCarriageReturn = char === "\r";
      if (skip) {
        start = i + 1;
        continue;
      }
      const line = pending.slice(start, i);
      start = i + 1;
      if (line === "") {
        if (data) yield data.join("\n");
        data = undefined;
        dataChars = 0;
      } else if (line.startsWith("data")) {
        const value = fieldValue(line, "data");
        if (value === undefined) continue;
        dataChars += value.length + 1;
        if (dataChars > maxEventChars) throw new EventStreamError(`event longer than ${maxEventChars} characters`);
        (data ??= []).push(value);
      }
    }
    pending = pending.slice(start);
    if (pending.length > maxEventChars) throw new EventStreamError(`event longer than ${maxEventChars} characters`);
  }
}

/** The value of a `name: value` line (one optional space after the colon), or undefined if the field is another. */
function fieldValue(line: string, name: string): string | undefined {
  if (line === name) return "";
  if (line[name.length] !== ":") return undefined;
  const value = line.slice(name.length + 1);
  return value.startsWith(" ") ? value.slice(1) : value;
}
