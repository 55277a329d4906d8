/**
 * RESP2, the Redis wire protocol: commands go out as arrays of bulk strings, replies come back as simple strings,
 * errors, integers, bulk strings and arrays, possibly split across TCP reads.
 */

/** An error reply from Redis (`-ERR ...`, `-WRONGPASS ...`). */
export class RedisReplyError extends Error {
  override name = "RedisReplyError";
}

export type RedisReply = string | number | null | RedisReplyError | RedisReply[];

const encoder = new TextEncoder();

/** One command as RESP: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per argument. */
export function encodeCommand(args: readonly (string | number)[]): Uint8Array {
  const parts = args.map((arg) => encoder.encode(String(arg)));
  const head = encoder.encode(`*${parts.length}\r\n`);
  const chunks: Uint8Array[] = [head];
  for (const part of parts) chunks.push(encoder.encode(`$${part.length}\r\n`), part, encoder.encode("\r\n"));
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Redis's own limit on a bulk string; a longer length can only be a broken stream. */
const MAX_BULK_BYTES = 512 * 1024 * 1024;

/** The server sent something that is not RESP2: the connection cannot be trusted any more. */
export class RespProtocolError extends Error {
  override name = "RespProtocolError";
}

/** Collects bytes and hands out each complete reply in order. */
export class ReplyReader {
  #buffer = new Uint8Array(0);
  readonly #decoder = new TextDecoder();

  push(bytes: Uint8Array): void {
    const joined = new Uint8Array(this.#buffer.length + bytes.length);
    joined.set(this.#buffer);
    joined.set(bytes, this.#buffer.length);
    this.#buffer = joined;
  }

  /** The next complete reply, or undefined until more bytes arrive. */
  next(): { reply: RedisReply } | undefined {
    const parsed = this.#parse(0);
    if (!parsed) return undefined;
    this.#buffer = this.#buffer.subarray(parsed.end);
    return { reply: parsed.reply };
  }

  #parse(at: number): { reply: RedisReply; end: number } | undefined {
    const lineEnd = this.#lineEnd(at);
    if (lineEnd < 0) return undefined;
    const type = this.#buffer[at];
    const line = this.#decoder.decode(this.#buffer.subarray(at + 1, lineEnd));
    const next = lineEnd + 2;
    switch (type) {
      case 0x2b: // +
        return { reply: line, end: next };
      case 0x2d: // -
        return { reply: new RedisReplyError(line), end: next };
      case 0x3a: // :
        return { reply: this.#integer(line), end: next };
      case 0x24: { // $
        const length = this.#integer(line);
        if (length < 0) return { reply: null, end: next };
        if (length > MAX_BULK_BYTES) throw new RespProtocolError(`bulk string of ${length} bytes`);
        if (this.#buffer.length < next + length + 2) return undefined;
        return { reply: this.#decoder.decode(this.#buffer.subarray(next, next + length)), end: next + length + 2 };
      }
      case 0x2a: { // *
        const count = this.#integer(line);
        if (count < 0) return { reply: null, end: next };
        const items: RedisReply[] = [];
        let end = next;
        for (let i = 0; i < count; i++) {
          const item = this.#parse(end);
          if (!item) return undefined;
          items.push(item.reply);
          end = item.end;
        }
        return { reply: items, end };
      }
      default:
        throw new RespProtocolError(`unexpected reply type byte ${type}`);
    }
  }

  #integer(text: string): number {
    const value = Number(text);
    if (!Number.isInteger(value)) throw new RespProtocolError(`"${text.slice(0, 40)}" is not an integer`);
    return value;
  }

  #lineEnd(from: number): number {
    for (let i = from; i + 1 < this.#buffer.length; i++) {
      if (this.#buffer[i] === 0x0d && this.#buffer[i + 1] === 0x0a) return i;
    }
    return -1;
  }
}
