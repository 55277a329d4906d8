/**
 * One sentence's speech from `POST {baseUrl}/audio/speech`, read ahead into a bounded buffer while earlier sentences
 * play, and handed out as 16-bit samples as the bytes arrive. When the buffer is full, reading pauses until the
 * sentence is played, so a prefetched sentence holds at most that much memory.
 */
import type { RequestBody, ServiceRequest } from "./serviceRequest.ts";

export interface SpeechLimits {
  /** The longest body accepted for one sentence. */
  maxBytes: number;
  /** Bytes read ahead before reading pauses. */
  maxBufferedBytes: number;
}

export class SpeechStream {
  /** `performance.now()` when the request was sent, and when its first audio byte arrived. */
  startedAt = 0;
  firstByteAt?: number;
  #parts: Uint8Array[] = [];
  #buffered = 0;
  #finished = false;
  #error?: unknown;
  /** Wakes whichever side is waiting: the player for bytes, or the reader for room. */
  #wake?: () => void;

  /** Sends the request and starts reading ahead. */
  constructor(request: ServiceRequest, body: RequestBody, limits: SpeechLimits) {
    this.startedAt = performance.now();
    request.signal.addEventListener("abort", () => this.#notify(), { once: true });
    void this.#read(request, body, limits);
  }

  /** The speech as samples, in order; throws the request's failure (a ServiceError, or the caller's abort reason). */
  async *samples(): AsyncGenerator<Int16Array> {
    let odd: number | undefined;
    for (;;) {
      const part = this.#parts.shift();
      if (part) {
        this.#buffered -= part.byteLength;
        this.#notify();
        const bytes = new Uint8Array((odd === undefined ? 0 : 1) + part.byteLength);
        if (odd !== undefined) bytes[0] = odd;
        bytes.set(part, odd === undefined ? 0 : 1);
        // A sample split between two chunks is completed by the next one.
        odd = bytes.length % 2 ? bytes[bytes.length - 1] : undefined;
        const whole = bytes.length - (bytes.length % 2);
        if (whole > 0) yield new Int16Array(bytes.buffer, 0, whole / 2);
        continue;
      }
      if (this.#finished) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async #read(request: ServiceRequest, body: RequestBody, limits: SpeechLimits): Promise<void> {
    try {
      const response = await request.post("/audio/speech", body);
      for await (const chunk of request.chunks(response, limits.maxBytes)) {
        this.firstByteAt ??= performance.now();
        this.#parts.push(chunk);
        this.#buffered += chunk.byteLength;
        this.#notify();
        while (this.#buffered >= limits.maxBufferedBytes && !request.signal.aborted) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
        }
      }
    } catch (error) {
      this.#error = request.failure(error);
    } finally {
      this.#finished = true;
      this.#notify();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
