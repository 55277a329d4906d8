/**
 * Single-port mode: every session's ICE, DTLS, RTP and SCTP traffic on one UDP port, so one firewall or Docker rule
 * (`-p 7861:7861/udp`) is enough. Datagrams are told apart the way RFC 8445 and RFC 7983 allow:
 * - a STUN binding request names its session in USERNAME ("<our ufrag>:<their ufrag>");
 * - everything else (STUN responses, DTLS, SRTP) belongs to the session that the sender's address was last seen with.
 *
 * werift binds one socket per candidate; here each of those becomes a virtual transport on the shared socket.
 * `withUdpMux` marks the peer-connection calls whose gathering should use it, so that other peer connections in the
 * same process (tests, bridges) keep their own sockets.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createSocket, type Socket } from "node:dgram";

export type Address = [host: string, port: number];

/** The shape of werift's UdpTransport that its ICE code uses. */
export class VirtualUdpTransport {
  readonly type = "udp";
  closed = false;
  onData: (data: Buffer, addr: Address) => void = () => {};

  constructor(private readonly mux: UdpMux) {}

  get address(): { address: string; port: number } {
    return { address: this.mux.host, port: this.mux.port };
  }

  async send(data: Buffer, addr?: Address): Promise<void> {
    if (this.closed || !addr) return;
    this.mux.send(this, data, addr);
  }

  close = async (): Promise<void> => {
    this.closed = true;
    this.mux.forget(this);
  };
}

const context = new AsyncLocalStorage<UdpMux>();

/** Runs `work` (setRemoteDescription, setLocalDescription) so that the sockets it gathers are virtual, on `mux`. */
export function withUdpMux<T>(mux: UdpMux | undefined, work: () => Promise<T>): Promise<T> {
  return mux ? context.run(mux, work) : work();
}

/** Runs `work` with no mux in force: the sockets it binds synchronously are real ones. */
export function withoutUdpMux<T>(work: () => T): T {
  return context.exit(work);
}

/** The mux for the gathering in progress, if any (read by the werift patch). */
export function currentUdpMux(): UdpMux | undefined {
  return context.getStore();
}

/**
 * Where a mux's datagrams come from and go to: a socket of its own, or, in a worker, the main process's shared
 * socket relayed over loopback (lib/workers/udpRelay.ts).
 */
export interface DatagramLink {
  /** The port clients send to. */
  readonly port: number;
  send(data: Uint8Array, addr: Address): void;
  onMessage(receive: (data: Buffer, from: Address) => void): void;
  close(): void;
}

/** Told which session ufrags this mux serves, so that a relay in front of it can route STUN requests here. */
export interface UfragObserver {
  assigned(ufrag: string): void;
  forgotten(ufrags: string[]): void;
}

/** An IPv4 UDP socket bound to `host`:`port` (0: any free port), or the bind error. */
export async function bindUdp(host: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: "udp4", reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  // Port-unreachable errors from vanished peers must not take the server down.
  socket.on("error", () => {});
  return socket;
}

class SocketLink implements DatagramLink {
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  static async open(host: string, port: number): Promise<SocketLink> {
    return new SocketLink(await bindUdp(host, port));
  }

  get port(): number {
    return this.#socket.address().port;
  }

  send(data: Uint8Array, addr: Address): void {
    this.#socket.send(data, addr[1], addr[0]);
  }

  onMessage(receive: (data: Buffer, from: Address) => void): void {
    this.#socket.on("message", (data, rinfo) => receive(data, [rinfo.address, rinfo.port]));
  }

  close(): void {
    this.#socket.close();
  }
}

const STUN_MAGIC_COOKIE = 0x2112a442;
const STUN_BINDING_REQUEST = 0x0001;
const STUN_USERNAME = 0x0006;
/** Bound on remembered remote addresses: a flood of spoofed sources cannot grow memory without limit. */
const MAX_ROUTES = 65_536;

export class UdpMux {
  readonly #link: DatagramLink;
  readonly #observer?: UfragObserver;
  readonly #byUfrag = new Map<string, VirtualUdpTransport>();
  readonly #byRemote = new Map<string, VirtualUdpTransport>();

  constructor(readonly host: string, link: DatagramLink, observer?: UfragObserver) {
    this.#link = link;
    this.#observer = observer;
    link.onMessage((data, from) => this.#receive(data, from));
  }

  /** A mux on a socket of its own, bound to `host`:`port`. */
  static async open(host: string, port: number): Promise<UdpMux> {
    return new UdpMux(host, await SocketLink.open(host, port));
  }

  get port(): number {
    return this.#link.port;
  }

  /** Sessions currently known by ufrag (one per peer connection and ICE generation). */
  get sessions(): number {
    return this.#byUfrag.size;
  }

  createTransport(): VirtualUdpTransport {
    return new VirtualUdpTransport(this);
  }

  /** Routes STUN requests for `ufrag` to `transport` (called after each answer: ufrags change on ICE restart). */
  assign(ufrag: string, transport: VirtualUdpTransport): void {
    if (transport.closed) return;
    this.#byUfrag.set(ufrag, transport);
    this.#observer?.assigned(ufrag);
  }

  send(transport: VirtualUdpTransport, data: Buffer, addr: Address): void {
    this.#route(addr, transport);
    this.#link.send(data, addr);
  }

  forget(transport: VirtualUdpTransport): void {
    const ufrags: string[] = [];
    for (const [key, owner] of this.#byUfrag) {
      if (owner !== transport) continue;
      this.#byUfrag.delete(key);
      ufrags.push(key);
    }
    for (const [key, owner] of this.#byRemote) if (owner === transport) this.#byRemote.delete(key);
    if (ufrags.length > 0) this.#observer?.forgotten(ufrags);
  }

  close(): void {
    this.#link.close();
  }

  #receive(data: Buffer, from: Address): void {
    const ufrag = bindingRequestUfrag(data);
    const owner = ufrag !== undefined ? this.#byUfrag.get(ufrag) : this.#byRemote.get(`${from[0]}:${from[1]}`);
    if (!owner || owner.closed) return;
    if (ufrag !== undefined) this.#route(from, owner);
    owner.onData(data, from);
  }

  #route(addr: Address, transport: VirtualUdpTransport): void {
    const key = `${addr[0]}:${addr[1]}`;
    if (this.#byRemote.get(key) === transport) return;
    if (this.#byRemote.size >= MAX_ROUTES) this.#byRemote.delete(this.#byRemote.keys().next().value!);
    this.#byRemote.set(key, transport);
  }
}

/** The local ufrag named by a STUN binding request ("<recipient ufrag>:<sender ufrag>"), else undefined. */
export function bindingRequestUfrag(data: Uint8Array): string | undefined {
  if (data.length < 20 || data[0] > 3) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint16(0) !== STUN_BINDING_REQUEST || view.getUint32(4) !== STUN_MAGIC_COOKIE) return undefined;
  const end = Math.min(data.length, 20 + view.getUint16(2));
  for (let offset = 20; offset + 4 <= end;) {
    const type = view.getUint16(offset);
    const length = view.getUint16(offset + 2);
    if (type === STUN_USERNAME && offset + 4 + length <= end) {
      const username = new TextDecoder().decode(data.subarray(offset + 4, offset + 4 + length));
      return username.split(":")[0];
    }
    offset += 4 + Math.ceil(length / 4) * 4;
  }
  return undefined;
}
