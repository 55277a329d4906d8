/**
 * ICE over TCP with workers: the main process owns the one public TCP port, reads each connection's first frame to
 * learn its session's ufrag (as a single-process mux does, lib/webrtc/tcpMux.ts), and splices the connection to the
 * worker that announced that ufrag, over a loopback connection. That connection opens with the worker's secret (so
 * no other local process can speak for a client) and the 6-byte client address header; then the client's bytes
 * follow unchanged, in both directions, with TCP's own flow control between the three sockets.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { connect, type Server, type Socket } from "node:net";
import { type Logger, silentLogger } from "../log/logger.ts";
import { IceRoutes } from "../webrtc/iceRoutes.ts";
import { awaitBindingRequest, listenTcp, peerAddress, type TcpMux } from "../webrtc/tcpMux.ts";
import { HEADER_BYTES, header, readHeader } from "./udpRelay.ts";

const SECRET_BYTES = 16;
/** A relayed connection that does not present its preamble by then is closed. */
const PREAMBLE_TIMEOUT_MS = 5000;

/** A worker's loopback listener, as the main process needs to reach it. */
export interface TcpWorkerLink {
  port: number;
  /** Hex. */
  secret: string;
}

/** The main process's side: the public port and the ufrag -> worker routes. */
export class TcpRelay {
  readonly #server: Server;
  readonly #logger: Logger;
  readonly #workers = new Map<number, TcpWorkerLink>();
  readonly #routes = new IceRoutes<number>();
  readonly #open = new Set<Socket>();

  private constructor(server: Server, logger: Logger) {
    this.#server = server;
    this.#logger = logger;
    server.on("connection", (socket) => this.#accept(socket));
    server.on("error", (error) => logger.warn("ICE-TCP listener error", { error: error.message }));
  }

  static async open(host: string, port: number, logger: Logger = silentLogger): Promise<TcpRelay> {
    return new TcpRelay(await listenTcp(host, port), logger);
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** A worker's link is listening; a replacement for `index` replaces the old one and its routes. */
  addWorker(index: number, link: TcpWorkerLink): void {
    this.removeWorker(index);
    this.#workers.set(index, link);
  }

  removeWorker(index: number): void {
    this.#workers.delete(index);
    this.#routes.forgetOwner(index);
  }

  assign(ufrag: string, index: number): void {
    if (this.#workers.has(index)) this.#routes.assign(ufrag, index);
  }

  forget(ufrags: readonly string[]): void {
    this.#routes.forgetUfrags(ufrags);
  }

  close(): void {
    this.#server.close();
    for (const socket of this.#open) socket.destroy();
  }

  #accept(client: Socket): void {
    this.#track(client);
    const from = peerAddress(client);
    if (!from) return void client.destroy();
    awaitBindingRequest(client, undefined, (result) => {
      const index = "ufrag" in result ? this.#routes.byUfrag(result.ufrag) : undefined;
      const link = index === undefined ? undefined : this.#workers.get(index);
      if (!link || !("ufrag" in result)) {
        const reason = "refused" in result ? result.refused : `no session has the ICE username ${result.ufrag}`;
        this.#logger.debug("ICE-TCP connection refused", { reason, client: `${from[0]}:${from[1]}` });
        return void client.destroy();
      }
      client.pause();
      const inner = this.#track(connect({ host: "127.0.0.1", port: link.port }));
      inner.once("connect", () => {
        inner.write(Buffer.concat([Buffer.from(link.secret, "hex"), header(from), result.received]));
        client.pipe(inner);
        inner.pipe(client);
        client.resume();
      });
      // Either side ending ends the other: the client's session is the worker's to close.
      client.once("close", () => inner.destroy());
      inner.once("close", () => client.destroy());
    });
  }

  #track(socket: Socket): Socket {
    this.#open.add(socket);
    socket.once("close", () => this.#open.delete(socket));
    socket.on("error", (error) => this.#logger.debug("ICE-TCP relay connection error", { error: error.message }));
    return socket;
  }
}

/**
 * A worker's side: a loopback listener that takes the relay's connections, checks the secret, and hands each to the
 * worker's mux with its real client address.
 */
export class TcpWorkerListener {
  readonly #server: Server;
  readonly #secret = randomBytes(SECRET_BYTES);

  private constructor(server: Server, mux: TcpMux) {
    this.#server = server;
    server.on("connection", (socket) => this.#accept(socket, mux));
  }

  static async open(mux: TcpMux): Promise<TcpWorkerListener> {
    return new TcpWorkerListener(await listenTcp("127.0.0.1", 0), mux);
  }

  get link(): TcpWorkerLink {
    return { port: (this.#server.address() as { port: number }).port, secret: this.#secret.toString("hex") };
  }

  close(): void {
    this.#server.close();
  }

  #accept(socket: Socket, mux: TcpMux): void {
    socket.on("error", () => socket.destroy());
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), PREAMBLE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < SECRET_BYTES + HEADER_BYTES) return;
      clearTimeout(timer);
      socket.off("data", onData);
      const client = readHeader(buffered.subarray(SECRET_BYTES));
      if (!timingSafeEqual(buffered.subarray(0, SECRET_BYTES), this.#secret) || !client) return void socket.destroy();
      mux.accept(socket, client, buffered.subarray(SECRET_BYTES + HEADER_BYTES));
    };
    socket.on("data", onData);
  }
}
