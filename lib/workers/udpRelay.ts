/**
 * Single-port mode with workers: the main process owns the one public UDP port, and each worker's sessions are
 * reached through it. Datagrams between the main process and a worker travel over loopback with a 6-byte header
 * naming the client (IPv4 address and port): from a client, the header says who sent it; to a client, where it
 * goes. The main process routes as a single-process mux does (lib/webrtc/udpMux.ts): a STUN binding request by the
 * ufrag in its USERNAME, which the owning worker announced before its answer left; anything else by the client
 * address that last spoke to, or was sent to from, a worker. Inside the worker, its own mux tells its sessions apart.
 */
import type { Socket } from "node:dgram";
import { IceRoutes } from "../webrtc/iceRoutes.ts";
import { type Address, bindingRequestUfrag, bindUdp, type DatagramLink } from "../webrtc/udpMux.ts";

/** The client address header: IPv4 address and port. Also opens each relayed ICE-TCP connection (tcpRelay.ts). */
export const HEADER_BYTES = 6;

export function header([host, port]: Address): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  const octets = host.split(".");
  for (let i = 0; i < 4; i++) bytes[i] = Number(octets[i]);
  bytes.writeUInt16BE(port, 4);
  return bytes;
}

export function readHeader(data: Buffer): Address | undefined {
  if (data.length < HEADER_BYTES) return undefined;
  return [`${data[0]}.${data[1]}.${data[2]}.${data[3]}`, data.readUInt16BE(4)];
}

/** The main process's side: the public port, and one loopback socket facing every worker. */
export class UdpRelay {
  readonly #public: Socket;
  readonly #inner: Socket;
  /** Worker index -> the loopback port its link listens on, and back. */
  readonly #workerPorts = new Map<number, number>();
  readonly #workerByPort = new Map<number, number>();
  readonly #routes = new IceRoutes<number>();

  private constructor(publicSocket: Socket, inner: Socket) {
    this.#public = publicSocket;
    this.#inner = inner;
    publicSocket.on("message", (data, from) => this.#fromClient(data, [from.address, from.port]));
    inner.on("message", (data, from) => this.#fromWorker(data, from.port));
  }

  static async open(host: string, port: number): Promise<UdpRelay> {
    const publicSocket = await bindUdp(host, port);
    try {
      return new UdpRelay(publicSocket, await bindUdp("127.0.0.1", 0));
    } catch (error) {
      publicSocket.close();
      throw error;
    }
  }

  get port(): number {
    return this.#public.address().port;
  }

  /** Where workers send (their links are told at start). */
  get innerPort(): number {
    return this.#inner.address().port;
  }

  /** A worker's link is listening on `port`; a replacement for `index` replaces the old one and its routes. */
  addWorker(index: number, port: number): void {
    this.removeWorker(index);
    this.#workerPorts.set(index, port);
    this.#workerByPort.set(port, index);
  }

  removeWorker(index: number): void {
    const port = this.#workerPorts.get(index);
    if (port === undefined) return;
    this.#workerPorts.delete(index);
    this.#workerByPort.delete(port);
    this.#routes.forgetOwner(index);
  }

  assign(ufrag: string, index: number): void {
    if (this.#workerPorts.has(index)) this.#routes.assign(ufrag, index);
  }

  forget(ufrags: readonly string[]): void {
    this.#routes.forgetUfrags(ufrags);
  }

  close(): void {
    this.#public.close();
    this.#inner.close();
  }

  #fromClient(data: Buffer, from: Address): void {
    const ufrag = bindingRequestUfrag(data);
    const index = ufrag !== undefined ? this.#routes.byUfrag(ufrag) : this.#routes.byAddress(from);
    const port = index === undefined ? undefined : this.#workerPorts.get(index);
    if (port === undefined) return;
    if (ufrag !== undefined) this.#routes.remember(from, index!);
    this.#inner.send([header(from), data], port, "127.0.0.1");
  }

  #fromWorker(data: Buffer, port: number): void {
    const index = this.#workerByPort.get(port);
    const to = readHeader(data);
    if (index === undefined || !to) return;
    this.#routes.remember(to, index);
    this.#public.send(data.subarray(HEADER_BYTES), to[1], to[0]);
  }
}

/** A worker's side: its mux's datagrams, relayed through the main process's public port. */
export class RelayedLink implements DatagramLink {
  readonly #socket: Socket;
  readonly #relayPort: number;

  private constructor(socket: Socket, readonly port: number, relayPort: number) {
    this.#socket = socket;
    this.#relayPort = relayPort;
  }

  /** `publicPort` is what clients send to; `relayPort` the main process's loopback socket. */
  static async open(publicPort: number, relayPort: number): Promise<RelayedLink> {
    return new RelayedLink(await bindUdp("127.0.0.1", 0), publicPort, relayPort);
  }

  /** The loopback port the main process sends this worker's datagrams to. */
  get localPort(): number {
    return this.#socket.address().port;
  }

  send(data: Uint8Array, addr: Address): void {
    this.#socket.send([header(addr), data], this.#relayPort, "127.0.0.1");
  }

  onMessage(receive: (data: Buffer, from: Address) => void): void {
    this.#socket.on("message", (data, from) => {
      // Only the main process's relay may speak for clients.
      if (from.port !== this.#relayPort || from.address !== "127.0.0.1") return;
      const client = readHeader(data);
      if (client) receive(data.subarray(HEADER_BYTES), client);
    });
  }

  close(): void {
    this.#socket.close();
  }
}
