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

type Address = [host: string, port: number];

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

/** The mux for the gathering in progress, if any (read by the werift patch). */
export function currentUdpMux(): UdpMux | undefined {
  return context.getStore();
}

const STUN_MAGIC_COOKIE = 0x2112a442;
const STUN_BINDING_REQUEST = 0x0001;
const STUN_USERNAME = 0x0006;
/** Bound on remembered remote addresses: a flood of spoofed sources cannot grow memory without limit. */
const MAX_ROUTES = 65_536;

export class UdpMux {
  readonly #socket: Socket;
  readonly #byUfrag = new Map<string, VirtualUdpTransport>();
  readonly #byRemote = new Map<string, VirtualUdpTransport>();
  #port = 0;

  private constructor(readonly host: string) {
    this.#socket = createSocket({ type: "udp4", reuseAddr: false });
    this.#socket.on("message", (data, rinfo) => this.#receive(data, [rinfo.address, rinfo.port]));
    // Port-unreachable errors from vanished clients must not take the server down.
    this.#socket.on("error", () => {});
  }

  static async open(host: string, port: number): Promise<UdpMux> {
    const mux = new UdpMux(host);
    await new Promise<void>((resolve, reject) => {
      mux.#socket.once("error", reject);
      mux.#socket.bind(port, host, () => {
        mux.#socket.off("error", reject);
        resolve();
      });
    });
    mux.#port = mux.#socket.address().port;
    return mux;
  }

  get port(): number {
    return this.#port;
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
    if (!transport.closed) this.#byUfrag.set(ufrag, transport);
  }

  send(transport: VirtualUdpTransport, data: Buffer, addr: Address): void {
    this.#route(addr, transport);
    this.#socket.send(data, addr[1], addr[0]);
  }

  forget(transport: VirtualUdpTransport): void {
    for (const [key, owner] of this.#byUfrag) if (owner === transport) this.#byUfrag.delete(key);
    for (const [key, owner] of this.#byRemote) if (owner === transport) this.#byRemote.delete(key);
  }

  close(): void {
    this.#socket.close();
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
