/**
 * A stand-in for a remote Pipecat bot, for the bridge's tests: a WebSocket server on 127.0.0.1 that reads and writes
 * frames with the ecosystem's own serializer (`ProtobufFrameSerializer` of @pipecat-ai/websocket-transport). It
 * answers `client-ready` with `bot-ready`, echoes client audio at 24 kHz, speaks a tone faster than real time (as a
 * Pipecat bot sends TTS), and sends an InterruptionFrame on demand. Misbehaving bots for the failure tests: one that
 * refuses the upgrade, one that never answers it, and one that accepts and then never reads.
 */
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { ProtobufFrameSerializer } from "@pipecat-ai/websocket-transport";
import type { ServerWebSocket } from "bun";

export type TestBotBehaviour =
  | { kind: "pipecat"; echo?: boolean }
  | { kind: "refuse"; status: number }
  /** Accepts the TCP connection and never answers the upgrade. */
  | { kind: "silent" }
  /** Completes the upgrade, then never reads another byte. */
  | { kind: "stalled" };

export interface BotSession {
  /** The upgrade request's headers, lower-cased names. */
  headers: Record<string, string>;
  path: string;
  /** Client audio frames received, and their samples (the bridge sends 16 kHz mono unless told otherwise). */
  audioFrames: number;
  audioSamples: number;
  /** Messages received (parsed JSON). */
  messages: unknown[];
  /** Resolves with the close code once the bridge closes the socket. */
  closed: Promise<number>;
  /**
   * Sends `ms` of a 24 kHz tone in 40 ms frames at `speed` times real time (Pipecat's bots send at 2x), loud unless
   * `amplitude` says otherwise (0: silence).
   */
  speak(ms: number, speed?: number, amplitude?: number): Promise<void>;
  /** Stops speaking and sends an InterruptionFrame; returns Date.now() just before it was sent. */
  interrupt(): number;
  /** Sends raw bytes (a frame built by the test). */
  sendBytes(bytes: Uint8Array): void;
  sendMessage(message: unknown): void;
  /** Hangs up, as a bot whose pipeline ended. */
  close(code?: number): void;
}

export interface TestBot {
  url: string;
  sessions: BotSession[];
  /** The first session not handed out yet, or the next one to open. */
  nextSession(): Promise<BotSession>;
  stop(): Promise<void>;
}

export const TEST_BOT_RATE = 24000;
/** An InterruptionFrame (Frame field 5) with id 7 and name "interrupt", written out byte by byte from the schema. */
export const INTERRUPTION_BYTES = Uint8Array.of(0x2a, 0x0d, 0x08, 0x07, 0x12, 0x09, ...utf8("interrupt"));

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

interface SocketData {
  session: ReturnType<typeof newSession>;
}

export function startTestBot(behaviour: TestBotBehaviour = { kind: "pipecat" }): Promise<TestBot> {
  return behaviour.kind === "pipecat" || behaviour.kind === "refuse"
    ? Promise.resolve(pipecatBot(behaviour))
    : rawBot(behaviour);
}

function pipecatBot(behaviour: Extract<TestBotBehaviour, { kind: "pipecat" | "refuse" }>): TestBot {
  const sessions: BotSession[] = [];
  const waiting: ((session: BotSession) => void)[] = [];
  let taken = 0;
  const server = Bun.serve<SocketData, never>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      if (behaviour.kind === "refuse") return new Response("no", { status: behaviour.status });
      const headers = Object.fromEntries([...request.headers].map(([name, value]) => [name.toLowerCase(), value]));
      const url = new URL(request.url);
      const data = { session: newSession(headers, url.pathname + url.search, behaviour.echo ?? true) };
      if (server.upgrade(request, { data })) return undefined;
      return new Response("expected a WebSocket upgrade", { status: 400 });
    },
    websocket: {
      open(ws) {
        ws.data.session.attach(ws);
        sessions.push(ws.data.session);
        const waiter = waiting.shift();
        if (waiter) {
          taken++;
          waiter(ws.data.session);
        }
      },
      message(ws, message) {
        if (typeof message !== "string") void ws.data.session.receive(new Uint8Array(message));
      },
      close(ws, code) {
        ws.data.session.onClose(code);
      },
    },
  });
  return {
    url: `ws://127.0.0.1:${server.port}/ws`,
    sessions,
    nextSession: () =>
      taken < sessions.length ? Promise.resolve(sessions[taken++]) : new Promise((resolve) => waiting.push(resolve)),
    stop: async () => void (await server.stop(true)),
  };
}

function newSession(headers: Record<string, string>, path: string, echo: boolean) {
  const serializer = new ProtobufFrameSerializer();
  const closed = Promise.withResolvers<number>();
  let ws: ServerWebSocket<SocketData> | undefined;
  let speaking = 0;
  const send = (bytes: Uint8Array) => ws?.send(bytes);
  const session: BotSession & {
    attach(socket: ServerWebSocket<SocketData>): void;
    onClose(code: number): void;
    receive(data: Uint8Array<ArrayBuffer>): Promise<void>;
  } = {
    headers,
    path,
    audioFrames: 0,
    audioSamples: 0,
    messages: [] as unknown[],
    closed: closed.promise,
    attach(socket: ServerWebSocket<SocketData>) {
      ws = socket;
    },
    onClose(code: number) {
      speaking++;
      closed.resolve(code);
    },
    async receive(data: Uint8Array<ArrayBuffer>) {
      const frame = await serializer.deserialize(new Blob([data]));
      if (frame.type === "audio") {
        session.audioFrames++;
        session.audioSamples += frame.audio.length;
        const echoed = upsample16kTo24k(frame.audio).buffer as ArrayBuffer;
        if (echo) send(serializer.serializeAudio(echoed, TEST_BOT_RATE, 1));
        return;
      }
      session.messages.push(frame.message);
      const message = frame.message as { label?: string; type?: string; id?: string };
      if (message.label === "rtvi-ai" && message.type === "client-ready") {
        session.sendMessage({ label: "rtvi-ai", type: "bot-ready", id: message.id,
          data: { version: "2.1.0", about: { library: "pipecat-test-bot" } } });
      }
    },
    async speak(ms: number, speed = 2, amplitude = 12000) {
      const turn = ++speaking;
      const frameMs = 40;
      const samples = (TEST_BOT_RATE * frameMs) / 1000;
      for (let sent = 0; sent < ms && turn === speaking; sent += frameMs) {
        const tone = Int16Array.from({ length: samples }, (_, i) =>
          Math.round(amplitude * Math.sin((2 * Math.PI * 440 * ((sent / 1000) * TEST_BOT_RATE + i)) / TEST_BOT_RATE)));
        send(serializer.serializeAudio(tone.buffer, TEST_BOT_RATE, 1));
        await Bun.sleep(frameMs / speed);
      }
    },
    interrupt() {
      speaking++;
      const at = Date.now();
      send(INTERRUPTION_BYTES);
      return at;
    },
    sendBytes: send,
    sendMessage(message: unknown) {
      send(serializer.serializeMessage(message as never));
    },
    close(code = 1000) {
      ws?.close(code);
    },
  };
  return session;
}

/** Linear interpolation, 2 samples in for every 3 out: enough for an echo to sound like the input. */
function upsample16kTo24k(input: Int16Array): Int16Array {
  const output = new Int16Array(Math.floor((input.length * 3) / 2));
  for (let i = 0; i < output.length; i++) {
    const position = (i * 2) / 3;
    const left = Math.floor(position);
    const right = Math.min(left + 1, input.length - 1);
    output[i] = Math.round(input[left] + (input[right] - input[left]) * (position - left));
  }
  return output;
}

/** The misbehaving bots, on a bare TCP server: they do what no WebSocket library would let them. */
async function rawBot(behaviour: Extract<TestBotBehaviour, { kind: "silent" | "stalled" }>): Promise<TestBot> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    if (behaviour.kind === "silent") return;
    let request = "";
    const onData = (chunk: Buffer) => {
      request += chunk.toString("latin1");
      if (!request.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(request)?.[1] ?? "";
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
      // From here on nothing is read: the kernel's buffers fill, then the bridge's own queue.
      socket.pause();
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`,
    sessions: [],
    nextSession: () => Promise.reject(new Error("a raw bot has no sessions")),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
