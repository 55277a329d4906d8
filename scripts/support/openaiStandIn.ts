/**
 * A stand-in for OpenAI's speech-to-text, chat completions and text-to-speech endpoints, on loopback, speaking them
 * as OpenAI's API reference documents them:
 * - `POST /v1/audio/transcriptions` (multipart: file, model, response_format) answers `{"text": ...}`;
 * - `POST /v1/chat/completions` with `stream: true` answers server-sent events, one `chat.completion.chunk` object per
 *   token (`choices[0].delta.content`), a last chunk with `finish_reason: "stop"`, then `data: [DONE]`;
 * - `POST /v1/audio/speech` with `response_format: "pcm"` answers raw 24 kHz 16-bit signed little-endian mono, here
 *   real speech: espeak-ng renders `input`, resampled from its 22050 Hz;
 * - errors are `{"error": {"message", "type", "param", "code"}}` with the HTTP status.
 *
 * Each test scripts it (the transcript, the reply, delays, failures) and reads back every request it received.
 */
import { resample } from "./audio.ts";
import type { LLMMessage } from "../../lib/pipeline/frames.ts";

export type Endpoint = "transcriptions" | "chat" | "speech";

/**
 * How a request fails:
 * - `status`: an HTTP error with OpenAI's error body (or `rawBody` as it is);
 * - `hang`: no answer at all;
 * - `stall`: the answer begins, then nothing more comes;
 * - `malformed`: a body that is not what the API sends (a broken JSON chunk, a transcription that is not JSON);
 * - `noDone`: the event stream ends cleanly but without `data: [DONE]`;
 * - `cut`: the connection breaks in the middle of the body;
 * - `flood`: a body that never ends (for chat, one line that never ends).
 */
export type Failure =
  | { status: number; message?: string; type?: string; code?: string | null; rawBody?: string }
  | { kind: "hang" | "stall" | "malformed" | "noDone" | "cut" | "flood" };

export interface StandInScript {
  /** The transcription of any audio. */
  transcript: string;
  /** The assistant's reply to a conversation; streamed a word at a time. */
  reply: (messages: LLMMessage[]) => string;
  /** Pause before the first chunk (LLM token or TTS audio). */
  firstChunkDelayMs: number;
  /** Pause between two chunks. */
  chunkDelayMs: number;
  /** Bytes of PCM per speech chunk (4800 = 100 ms). */
  speechChunkBytes: number;
  /** Whether speech is espeak-ng's (true) or a quiet tone as long as espeak would speak (faster). */
  realSpeech: boolean;
  /** The failure of the `index`-th request (counted from 0 per endpoint among `requests`, which tests may empty). */
  fail?: (endpoint: Endpoint, index: number) => Failure | undefined;
}

export interface RecordedRequest {
  endpoint: Endpoint;
  /** The Authorization header as received, or null. */
  authorization: string | null;
  contentType: string | null;
  /** The JSON body; for transcriptions, the form fields, with `file` as its name, type and bytes. */
  body: Record<string, unknown>;
  /** `performance.now()` on arrival. */
  at: number;
  /** The client went away before the answer was complete. */
  aborted: boolean;
  /** The answer was sent in full. */
  completed: boolean;
  /** `performance.now()` when the answer was complete. */
  completedAt?: number;
}

const SPEECH_RATE = 24000;

export const defaultScript = (): StandInScript => ({
  transcript: "Hello there.",
  reply: () => "Hi! How can I help you today?",
  firstChunkDelayMs: 0,
  chunkDelayMs: 0,
  speechChunkBytes: 4800,
  realSpeech: true,
});

export class OpenAIStandIn {
  script: StandInScript = defaultScript();
  readonly requests: RecordedRequest[] = [];
  readonly #server: ReturnType<typeof Bun.serve>;
  readonly #speechCache = new Map<string, Int16Array>();
  readonly #remember: number;

  /**
   * `hostname`: where it listens; 127.0.0.1 unless a server in another test namespace must reach it.
   * `remember`: how many recent requests `requests` keeps (a long benchmark keeps few).
   */
  constructor({ hostname = "127.0.0.1", remember = Infinity } = {}) {
    this.#remember = remember;
    this.#server = Bun.serve({ hostname, port: 0, fetch: (request) => this.#handle(request) });
  }

  /** The API root to configure services with. */
  get baseUrl(): string {
    return `http://${this.#server.hostname}:${this.#server.port}/v1`;
  }

  to(endpoint: Endpoint): RecordedRequest[] {
    return this.requests.filter((request) => request.endpoint === endpoint);
  }

  /** Speech for `text` as the speech endpoint renders it (24 kHz mono). */
  async speech(text: string): Promise<Int16Array> {
    let samples = this.#speechCache.get(text);
    if (!samples) {
      samples = await renderSpeech(text);
      this.#speechCache.set(text, samples);
    }
    return this.script.realSpeech ? samples : quietTone(samples.length);
  }

  async stop(): Promise<void> {
    await this.#server.stop(true);
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const endpoint = ({
      "/v1/audio/transcriptions": "transcriptions",
      "/v1/chat/completions": "chat",
      "/v1/audio/speech": "speech",
    } as const)[path];
    if (!endpoint || request.method !== "POST") {
      return errorResponse({ status: 404, message: `Invalid URL (${request.method} ${path})` });
    }
    const record: RecordedRequest = {
      endpoint,
      authorization: request.headers.get("authorization"),
      contentType: request.headers.get("content-type"),
      body: await parseBody(request, endpoint),
      at: performance.now(),
      aborted: false,
      completed: false,
    };
    const index = this.to(endpoint).length;
    this.requests.push(record);
    if (this.requests.length > this.#remember) this.requests.shift();
    request.signal.addEventListener("abort", () => (record.aborted = !record.completed), { once: true });

    const failure = this.script.fail?.(endpoint, index);
    if (failure && "status" in failure) return errorResponse(failure);
    if (failure?.kind === "hang") {
      await new Promise((resolve) => request.signal.addEventListener("abort", resolve, { once: true }));
      return new Response(null, { status: 504 });
    }
    if (endpoint === "transcriptions") {
      if (this.script.firstChunkDelayMs > 0) await sleep(this.script.firstChunkDelayMs);
      return this.#transcription(record, failure);
    }
    const chunks = endpoint === "chat" ? this.#chatChunks(record, failure) : await this.#speechChunks(record, failure);
    const type = endpoint === "chat" ? "text/event-stream" : "application/octet-stream";
    return new Response(this.#stream(chunks, record, request.signal), { headers: { "content-type": type } });
  }

  #transcription(record: RecordedRequest, failure: Failure | undefined): Response {
    record.completed = true;
    if (failure && "kind" in failure && failure.kind === "malformed") return new Response("<html>oops</html>");
    if (failure && "kind" in failure && failure.kind === "flood") {
      record.completed = false;
      return new Response(
        this.#stream(endless(`{"text": "${"la ".repeat(1000)}`), record, new AbortController().signal),
      );
    }
    return Response.json({ text: this.script.transcript });
  }

  *#chatChunks(record: RecordedRequest, failure: Failure | undefined): Generator<string | Uint8Array | null> {
    const kind = failure && "kind" in failure ? failure.kind : undefined;
    if (kind === "flood") yield* endless("data: " + "x".repeat(4096));
    const base = {
      id: "chatcmpl-standin",
      object: "chat.completion.chunk",
      created: 1700000000,
      model: record.body.model,
    };
    const chunk = (delta: object, finishReason: string | null) =>
      `data: ${
        JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] })
      }\n\n`;
    yield chunk({ role: "assistant", content: "" }, null);
    const words = this.script.reply(record.body.messages as LLMMessage[]).match(/\S+\s*/g) ?? [];
    for (const [i, word] of words.entries()) {
      if (i === 1 && kind === "malformed") yield 'data: {"choices": [{"delta": {"content": "oops"\n\n';
      if (i === 1 && kind === "cut") yield null;
      if (i === 1 && kind === "stall") return yield* stall();
      yield chunk({ content: word }, null);
    }
    yield chunk({}, "stop");
    if (kind !== "noDone") yield "data: [DONE]\n\n";
  }

  async #speechChunks(record: RecordedRequest, failure: Failure | undefined): Promise<Iterable<Uint8Array | null>> {
    const kind = failure && "kind" in failure ? failure.kind : undefined;
    if (kind === "flood") return endless(new Uint8Array(this.script.speechChunkBytes * 10));
    const samples = await this.speech(String(record.body.input));
    const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    const size = this.script.speechChunkBytes;
    const parts: (Uint8Array | null)[] = [];
    for (let offset = 0; offset < bytes.length; offset += size) parts.push(bytes.subarray(offset, offset + size));
    if (kind === "cut") parts.splice(Math.max(1, parts.length >> 1), Infinity, null);
    if (kind === "stall") {
      return (function* () {
        yield parts[0]!;
        yield* stall();
      })();
    }
    return parts;
  }

  /** A body sent chunk by chunk with the script's delays; null breaks the connection, `STALL` stops sending. */
  #stream(chunks: Iterable<string | Uint8Array | null>, record: RecordedRequest, signal: AbortSignal): ReadableStream {
    const encoder = new TextEncoder();
    const iterator = chunks[Symbol.iterator]();
    let next = iterator.next();
    let first = true;
    const complete = (controller: ReadableStreamDefaultController) => {
      record.completed = true;
      record.completedAt = performance.now();
      controller.close();
    };
    return new ReadableStream({
      pull: async (controller) => {
        const delay = first ? this.script.firstChunkDelayMs : this.script.chunkDelayMs;
        first = false;
        if (delay > 0) await sleep(delay);
        if (signal.aborted) return;
        if (next.done) return complete(controller);
        const value = next.value;
        if (value === null) return controller.error(new Error("connection cut by the stand-in"));
        if (value === STALL) {
          return await new Promise<void>((resolve) =>
            signal.addEventListener("abort", () => resolve(), { once: true })
          );
        }
        controller.enqueue(typeof value === "string" ? encoder.encode(value) : value);
        // Complete as the last piece goes out, so a client that stops reading there has not aborted anything.
        next = iterator.next();
        if (next.done) complete(controller);
      },
      cancel: () => {
        record.aborted = !record.completed;
      },
    });
  }
}

/** Marks the point where a stalled answer stops sending. */
const STALL = new Uint8Array(0);

function* stall(): Generator<Uint8Array> {
  yield STALL;
}

function* endless<T extends string | Uint8Array>(piece: T): Generator<T> {
  for (;;) yield piece;
}

function errorResponse(
  failure: { status: number; message?: string; type?: string; code?: string | null; rawBody?: string },
) {
  if (failure.rawBody !== undefined) return new Response(failure.rawBody, { status: failure.status });
  const error = {
    message: failure.message ?? "The server had an error while processing your request. Sorry about that!",
    type: failure.type ?? (failure.status === 401 ? "invalid_request_error" : "server_error"),
    param: null,
    code: failure.code ?? null,
  };
  return Response.json({ error }, { status: failure.status });
}

async function parseBody(request: Request, endpoint: Endpoint): Promise<Record<string, unknown>> {
  if (endpoint !== "transcriptions") return await request.json();
  const form = await request.formData();
  const body: Record<string, unknown> = {};
  for (const [key, value] of form.entries() as Iterable<[string, string | File]>) {
    body[key] = typeof value === "string"
      ? value
      : { name: value.name, type: value.type, bytes: new Uint8Array(await value.arrayBuffer()) };
  }
  return body;
}

/** espeak-ng's speech for `text`, at 24 kHz. espeak writes a 22050 Hz mono 16-bit WAV with a 44-byte header. */
async function renderSpeech(text: string): Promise<Int16Array> {
  const process = Bun.spawn(["espeak-ng", "--stdout", "-s", "175", text], { stdout: "pipe", stderr: "ignore" });
  const wav = new Uint8Array(await new Response(process.stdout).arrayBuffer());
  if ((await process.exited) !== 0) throw new Error(`espeak-ng failed on ${JSON.stringify(text)}`);
  const samples = new Int16Array(wav.buffer.slice(44, 44 + ((wav.length - 44) & ~1)));
  return resample(samples, 22050, SPEECH_RATE);
}

/** A quiet 440 Hz tone of `length` samples: audio with energy, made without espeak. */
function quietTone(length: number): Int16Array {
  return Int16Array.from({ length }, (_, i) => Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / SPEECH_RATE)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
