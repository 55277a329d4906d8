/**
 * ICE over TCP (RFC 6544) on one port, for clients whose networks drop UDP. Every session's passive TCP candidate is
 * this one listening socket, and each accepted connection is told apart the way single-port UDP mode tells datagrams
 * apart: its first RFC 4571 frame must be a STUN binding request, whose USERNAME names the session.
 *
 * werift has ICE-TCP of its own, but it listens on a new port per session and address. The peer-connection calls that
 * run inside `withSharedPorts` (sharedPorts.ts) get passive candidates on this port instead (weriftPatches.ts); an
 * accepted connection is handed to werift's protocol as a socket that bounds what waits to be written.
 */
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { type Logger, silentLogger } from "../log/logger.ts";
import { type Address, bindingRequestUfrag, type UfragObserver } from "./udpMux.ts";

/** What the mux needs of werift's TcpPassiveProtocol: its address, and the hand-over of an accepted connection. */
export interface PassiveTcpProtocol {
  localIp?: string;
  registerSocket(socket: never, remoteAddr?: Address): unknown;
}

/**
 * A STUN binding request is a few hundred bytes; a first frame announcing more is not ICE. Bounds what a connection
 * may send before it is known.
 */
const MAX_FIRST_FRAME_BYTES = 2048;
/** A connection that has not named its session by then is closed. */
const FIRST_FRAME_TIMEOUT_MS = 10_000;
/**
 * Bytes that may wait for a slow reader before frames are dropped: about 1 s of 640x480 video, 30 s of audio.
 * Media over TCP behaves like media over a lossy link rather than growing the server's memory.
 */
export const MAX_PENDING_WRITE_BYTES = 256 * 1024;

export interface TcpMuxStats {
  /** Connections handed to a session. */
  accepted: number;
  /** Connections closed before they named a known session (bad framing, unknown ufrag, silence). */
  refused: number;
  /** Frames dropped because the client read too slowly. */
  droppedFrames: number;
}

export class TcpMux {
  readonly #server?: Server;
  readonly #port: number;
  readonly #logger: Logger;
  readonly #byUfrag = new Map<string, PassiveTcpProtocol[]>();
  readonly #adopted = new WeakSet<PassiveTcpProtocol>();
  readonly #open = new Set<Socket>();
  readonly #observer?: UfragObserver;
  readonly stats: TcpMuxStats = { accepted: 0, refused: 0, droppedFrames: 0 };

  private constructor(port: number, logger: Logger, server?: Server, observer?: UfragObserver) {
    this.#port = port;
    this.#logger = logger;
    this.#server = server;
    this.#observer = observer;
    server?.on("connection", (socket) => this.accept(socket));
  }

  /** A mux listening on `host`:`port` (0: any free port). */
  static async open(host: string, port: number, logger: Logger = silentLogger): Promise<TcpMux> {
    const server = await listenTcp(host, port);
    server.on("error", (error) => logger.warn("ICE-TCP listener error", { error: error.message }));
    return new TcpMux((server.address() as { port: number }).port, logger, server);
  }

  /**
   * A mux without a listener of its own, fed by `accept` (a worker behind the main process's relay). `port` is the
   * port clients connect to, which the candidates announce; `observer` hears which ufrags are served here.
   */
  static fed(port: number, observer: UfragObserver, logger: Logger = silentLogger): TcpMux {
    return new TcpMux(port, logger, undefined, observer);
  }

  get port(): number {
    return this.#port;
  }

  /** Marks `protocol` as one of this mux's candidates (during gathering). */
  adopt(protocol: PassiveTcpProtocol): void {
    this.#adopted.add(protocol);
  }

  owns(protocol: PassiveTcpProtocol): boolean {
    return this.#adopted.has(protocol);
  }

  /** Routes connections naming `ufrag` to `protocol` (after each answer: ufrags change on ICE restart). */
  assign(ufrag: string, protocol: PassiveTcpProtocol): void {
    if (!this.#adopted.has(protocol)) return;
    const protocols = this.#byUfrag.get(ufrag) ?? [];
    if (!protocols.includes(protocol)) protocols.push(protocol);
    this.#byUfrag.set(ufrag, protocols);
    this.#observer?.assigned(ufrag);
  }

  forget(protocol: PassiveTcpProtocol): void {
    const gone: string[] = [];
    for (const [ufrag, protocols] of this.#byUfrag) {
      const kept = protocols.filter((candidate) => candidate !== protocol);
      if (kept.length === protocols.length) continue;
      if (kept.length > 0) this.#byUfrag.set(ufrag, kept);
      else {
        this.#byUfrag.delete(ufrag);
        gone.push(ufrag);
      }
    }
    if (gone.length > 0) this.#observer?.forgotten(gone);
  }

  /** Sessions currently known by ufrag. */
  get sessions(): number {
    return this.#byUfrag.size;
  }

  /**
   * Takes a client connection: waits for its first frame and hands it to the session it names, or closes it.
   * `remote` overrides the socket's peer address (a relayed connection's real client), and `received` is what was
   * already read from it.
   */
  accept(socket: Socket, remote?: Address, received?: Buffer): void {
    this.#open.add(socket);
    socket.once("close", () => this.#open.delete(socket));
    socket.on("error", (error) => this.#logger.debug("ICE-TCP connection error", { error: error.message }));
    const from = remote ?? peerAddress(socket);
    if (!from) {
      socket.destroy();
      return;
    }
    awaitBindingRequest(socket, received, (result) => {
      const refuse = (reason: string) => {
        this.stats.refused++;
        this.#logger.debug("ICE-TCP connection refused", { reason, client: `${from[0]}:${from[1]}` });
        socket.destroy();
      };
      if ("refused" in result) return refuse(result.refused);
      const protocol = this.#route(result.ufrag, socket.localAddress);
      if (!protocol) return refuse(`no session has the ICE username ${result.ufrag}`);
      this.stats.accepted++;
      const link = new BoundedSocket(socket, from, () => this.stats.droppedFrames++);
      protocol.registerSocket(link as never, from);
      link.emit("data", result.received);
    });
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.#server?.close();
    for (const socket of this.#open) socket.destroy();
  }

  /** The session's protocol on the address the client connected to, else its first one. */
  #route(ufrag: string, localAddress: string | undefined): PassiveTcpProtocol | undefined {
    const protocols = this.#byUfrag.get(ufrag);
    if (!protocols) return undefined;
    const local = localAddress && unmapped(localAddress);
    return protocols.find((protocol) => protocol.localIp === local) ?? protocols[0];
  }
}

/** A TCP server listening on `host`:`port` (0: any free port), or the listen error. */
export async function listenTcp(host: string, port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

/** What the first frame of a connection said: the ufrag it names (with every byte read so far), or why it is refused. */
export type FirstFrame = { ufrag: string; received: Buffer } | { refused: string };

/**
 * Reads a new connection until its first RFC 4571 frame is complete, and reports the ICE ufrag that frame's STUN
 * binding request names, or why the connection should be refused (a frame that cannot be STUN, or nothing in time).
 * What was read stays in `received`, for the session's protocol (or a worker) to read again. Exported for the
 * workers' TCP relay, which routes the same way.
 */
export function awaitBindingRequest(socket: Socket, received: Buffer | undefined, done: (frame: FirstFrame) => void): void {
  let buffered = received ?? Buffer.alloc(0);
  const finish = (frame: FirstFrame) => {
    clearTimeout(timer);
    socket.off("data", onData);
    done(frame);
  };
  const timer = setTimeout(() => finish({ refused: "no STUN request in time" }), FIRST_FRAME_TIMEOUT_MS);
  const onData = (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (buffered.length < 2) return;
    const length = buffered.readUInt16BE(0);
    if (length < 20 || length > MAX_FIRST_FRAME_BYTES) return finish({ refused: `a first frame of ${length} bytes is not STUN` });
    if (buffered.length < 2 + length) return;
    const ufrag = bindingRequestUfrag(buffered.subarray(2, 2 + length));
    finish(ufrag === undefined ? { refused: "the first frame is not a STUN binding request" } : { ufrag, received: buffered });
  };
  socket.on("data", onData);
  if (buffered.length > 0) onData(Buffer.alloc(0));
}

/** The connection's client address, or undefined once it is gone. */
export function peerAddress(socket: Socket): Address | undefined {
  return socket.remoteAddress && socket.remotePort ? [unmapped(socket.remoteAddress), socket.remotePort] : undefined;
}

/** "::ffff:10.0.0.1" (an IPv4 client on a dual-stack socket) as "10.0.0.1". */
function unmapped(address: string): string {
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * What werift's TCP protocol reads and writes instead of the connection itself: the same events and fields it uses,
 * with writes dropped, whole frames at a time, while more than MAX_PENDING_WRITE_BYTES wait for the client.
 */
class BoundedSocket extends EventEmitter {
  readonly #socket: Socket;
  readonly #dropped: () => void;
  readonly remoteAddress: string;
  readonly remotePort: number;

  constructor(socket: Socket, remote: Address, dropped: () => void) {
    super();
    this.#socket = socket;
    this.#dropped = dropped;
    [this.remoteAddress, this.remotePort] = remote;
    socket.on("data", (chunk) => this.emit("data", chunk));
    socket.once("close", () => this.emit("close"));
  }

  get destroyed(): boolean {
    return this.#socket.destroyed;
  }

  get writableEnded(): boolean {
    return this.#socket.writableEnded;
  }

  write(frame: Uint8Array, done: (error?: Error | null) => void): boolean {
    if (this.#socket.destroyed) {
      done(new Error("the ICE-TCP connection is closed"));
      return false;
    }
    if (this.#socket.writableLength + frame.length > MAX_PENDING_WRITE_BYTES) {
      this.#dropped();
      done();
      return false;
    }
    return this.#socket.write(frame, done);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
