/**
 * Single-port mode: every session's ICE, DTLS, RTP and SCTP traffic on one UDP port, so one firewall or Docker rule
 * (`-p 7861:7861/udp`) is enough. Datagrams are told apart the way RFC 8445 and RFC 7983 allow:
 * - a STUN binding request names its session in USERNAME ("<our ufrag>:<their ufrag>");
 * - everything else (STUN responses, DTLS, SRTP) belongs to the session that the sender's address was last seen with.
 *
 * werift binds one socket per candidate; here each of those becomes a virtual transport on the shared socket, for
 * the peer-connection calls that run inside `withSharedPorts` (sharedPorts.ts); other peer connections in the same
 * process (tests, bridges) keep their own sockets.
 */
import { createSocket, type Socket } from "node:dgram";
import { IceRoutes } from "./iceRoutes.ts";

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

export class UdpMux {
  readonly #link: DatagramLink;
  readonly #observer?: UfragObserver;
  readonly #routes = new IceRoutes<VirtualUdpTransport>();

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
    return this.#routes.size;
  }

  createTransport(): VirtualUdpTransport {
    return new VirtualUdpTransport(this);
  }

  /** Routes STUN requests for `ufrag` to `transport` (called after each answer: ufrags change on ICE restart). */
  assign(ufrag: string, transport: VirtualUdpTransport): void {
    if (transport.closed) return;
    this.#routes.assign(ufrag, transport);
    this.#observer?.assigned(ufrag);
  }

  send(transport: VirtualUdpTransport, data: Buffer, addr: Address): void {
    this.#routes.remember(addr, transport);
    this.#link.send(data, addr);
  }

  forget(transport: VirtualUdpTransport): void {
    const ufrags = this.#routes.forgetOwner(transport);
    if (ufrags.length > 0) this.#observer?.forgotten(ufrags);
  }

  close(): void {
    this.#link.close();
  }

  #receive(data: Buffer, from: Address): void {
    const ufrag = bindingRequestUfrag(data);
    const owner = ufrag !== undefined ? this.#routes.byUfrag(ufrag) : this.#routes.byAddress(from);
    if (!owner || owner.closed) return;
    if (ufrag !== undefined) this.#routes.remember(from, owner);
    owner.onData(data, from);
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
