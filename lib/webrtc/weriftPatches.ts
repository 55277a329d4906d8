/**
 * Changes to werift, applied once per process. Each wraps one werift method and keeps its behaviour otherwise:
 * corrections a server cannot do without (each has a test that fails without it: networkIsolation, connection, interop,
 * dataChannelBurst, video), and the hook that puts single-port mode's virtual sockets under werift's ICE.
 *
 * They lean on werift internals, so before patching anything they check that the installed werift is the version
 * they were written for and that every method they wrap is there with the expected arity. Anything else stops the
 * server with one line (WeriftDriftError) rather than letting a patch silently do nothing, or the wrong thing.
 */
import { isIP } from "node:net";
import {
  classes,
  Connection,
  DtlsSocket,
  Event,
  Message,
  methods,
  RTCDtlsTransport,
  RTCRtpReceiver,
  RTCRtpSender,
  RTCSctpTransport,
  RtpHeader,
  TcpActiveProtocol,
  TcpPassiveProtocol,
  TurnProtocol,
  UdpTransport,
} from "werift";
import weriftPackage from "../../node_modules/werift/package.json" with { type: "json" };
import { type Logger, silentLogger } from "../log/logger.ts";
import { currentSharedPorts, withoutSharedPorts } from "./sharedPorts.ts";
import type { PassiveTcpProtocol, TcpMux } from "./tcpMux.ts";
import { VirtualUdpTransport } from "./udpMux.ts";

/** The werift release these patches were written and tested against. */
export const PATCHED_WERIFT_VERSION = "0.25.2";

/** werift is not what the patches expect: a different version, or a wrapped method is missing or changed shape. */
export class WeriftDriftError extends Error {
  override name = "WeriftDriftError";
}

/** A method a patch wraps: where it lives and how many declared parameters it has. */
export interface PatchTarget {
  name: string;
  owner: object;
  method: string;
  arity: number;
}

type Method = (this: never, ...args: never[]) => unknown;

/** Every werift method the patches below wrap. */
const TARGETS: PatchTarget[] = [
  { name: "Connection#applyStunTurnServersFromOptions", owner: Connection.prototype, method: "applyStunTurnServersFromOptions", arity: 0 },
  { name: "UdpTransport#init", owner: UdpTransport.prototype, method: "init", arity: 0 },
  { name: "UdpTransport.init", owner: UdpTransport, method: "init", arity: 1 },
  { name: "TurnProtocol#close", owner: TurnProtocol.prototype, method: "close", arity: 0 },
  { name: "Connection#getCandidatePromises", owner: Connection.prototype, method: "getCandidatePromises", arity: 1 },
  { name: "TurnProtocol#connectionMade", owner: TurnProtocol.prototype, method: "connectionMade", arity: 0 },
  { name: "DtlsSocket#handleFragmentHandshake", owner: DtlsSocket.prototype, method: "handleFragmentHandshake", arity: 1 },
  { name: "RTCSctpTransport#dataChannelFlush", owner: RTCSctpTransport.prototype, method: "dataChannelFlush", arity: 0 },
  { name: "RTCRtpSender#dispatchRtp", owner: RTCRtpSender.prototype, method: "dispatchRtp", arity: 1 },
  { name: "Connection#ensureProtocol", owner: Connection.prototype, method: "ensureProtocol", arity: 1 },
  { name: "RTCDtlsTransport#startSrtp", owner: RTCDtlsTransport.prototype, method: "startSrtp", arity: 0 },
  { name: "RTCRtpReceiver#addTrack", owner: RTCRtpReceiver.prototype, method: "addTrack", arity: 1 },
  { name: "RtpHeader.deSerialize", owner: RtpHeader, method: "deSerialize", arity: 1 },
  { name: "TcpPassiveProtocol#connectionMade", owner: TcpPassiveProtocol.prototype, method: "connectionMade", arity: 2 },
  { name: "TcpPassiveProtocol#close", owner: TcpPassiveProtocol.prototype, method: "close", arity: 0 },
  { name: "TcpPassiveProtocol#registerSocket", owner: TcpPassiveProtocol.prototype, method: "registerSocket", arity: 2 },
  { name: "TcpActiveProtocol#connectionMade", owner: TcpActiveProtocol.prototype, method: "connectionMade", arity: 1 },
  { name: "Connection#connect", owner: Connection.prototype, method: "connect", arity: 0 },
];

/**
 * Why werift cannot be patched, or undefined when it can. Exported for tests, which pass a changed version or
 * targets to see the check fail.
 */
export function weriftDrift(version: string, targets: readonly PatchTarget[] = TARGETS): string | undefined {
  if (version !== PATCHED_WERIFT_VERSION) {
    return `werift ${version} is installed, but lib/webrtc/weriftPatches.ts was written for werift ` +
      `${PATCHED_WERIFT_VERSION}: install ${PATCHED_WERIFT_VERSION} (npm ci) or re-check every patch against ${version}`;
  }
  const event = new Event() as unknown as Partial<EventFields>;
  if (
    typeof event.execute !== "function" || event.ended !== false || !Array.isArray(event.event?.stack) ||
    !Array.isArray(event.event?.promiseStack)
  ) {
    return `werift ${version}'s Event is not the shape lib/webrtc/weriftPatches.ts expects (execute, ended, ` +
      "event.stack, event.promiseStack)";
  }
  if (typeof Object.getOwnPropertyDescriptor(TcpPassiveProtocol.prototype, "listeningPort")?.get !== "function") {
    return `werift ${version}'s TcpPassiveProtocol has no listeningPort getter, which lib/webrtc/weriftPatches.ts wraps`;
  }
  for (const { name, owner, method, arity } of targets) {
    const found = (owner as Record<string, unknown>)[method];
    if (typeof found !== "function") return `werift ${version} has no ${name}, which lib/webrtc/weriftPatches.ts wraps`;
    if (found.length !== arity) {
      return `werift ${version}'s ${name} takes ${found.length} parameters, not the ${arity} lib/webrtc/weriftPatches.ts expects`;
    }
  }
  return undefined;
}

let applied = false;
let logger: Logger = silentLogger;

/** Checks werift, then applies the patches (once); `log`, when given, receives what they report. */
export function applyWeriftPatches(log?: Logger): void {
  if (log) logger = log;
  if (applied) return;
  const drift = weriftDrift(weriftPackage.version);
  if (drift) throw new WeriftDriftError(drift);
  applied = true;
  keepConfiguredStunOnly();
  survivePortUnreachable();
  releaseTurnAllocations();
  boundCandidateGathering();
  handleRetransmittedFlightsOnce();
  drainDataChannelsOnce();
  keepRtpHistoryOnlyForNack();
  executeLeanOnPacketPath();
  parseRtpHeadersWithoutStrings();
  useUdpMuxWhenAsked();
  keepTurnClientsOffUdpMux();
  useTcpMuxWhenAsked();
}

/** Replaces `owner[method]` by `make(original)`, for a method listed in TARGETS, keeping its arity. */
function wrap<M extends Method>(owner: object, method: string, make: (original: M) => M): void {
  const methods = owner as Record<string, M>;
  const original = methods[method];
  methods[method] = Object.defineProperty(make(original), "length", { value: original.length });
}

/**
 * werift queries stun.l.google.com:19302 whenever no STUN server is configured (its DEFAULT_STUN_SERVER). That
 * leaks a DNS lookup and a packet to an address the user never chose, and stalls gathering where DNS hangs. With no
 * STUN server configured, no server-reflexive gathering happens at all.
 */
function keepConfiguredStunOnly(): void {
  wrap<(this: StunFields) => void>(Connection.prototype, "applyStunTurnServersFromOptions", (original) =>
    function (this: StunFields) {
      original.call(this);
      if (!this.options.stunServer) this.stunServer = undefined;
    });
}

interface StunFields {
  options: { stunServer?: unknown };
  stunServer?: unknown;
}

/**
 * werift's UDP sockets have no "error" listener. Under Bun an ICMP port-unreachable from a client that went away
 * surfaces as an "error" event (recvmsg ECONNREFUSED), and an unhandled one kills the process: every session with it.
 * Such errors are harmless for an ICE socket, so they are logged and the socket keeps serving.
 */
function survivePortUnreachable(): void {
  wrap<(this: { socket: SocketLike }) => Promise<void>>(UdpTransport.prototype, "init", (original) =>
    function (this: { socket: SocketLike }) {
      this.socket.on("error", (error: Error) => logger.debug("UDP socket error ignored", { error: error.message }));
      return original.call(this);
    });
}

interface SocketLike {
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** How long closing a TURN client may wait for the relay to confirm the release. */
const TURN_RELEASE_TIMEOUT_MS = 1000;

/**
 * werift ends a TURN allocation by closing its socket. Over UDP the relay cannot see that, so it keeps the allocation
 * and its relayed port until the lifetime runs out (10 minutes): one per call, counted against any quota the relay
 * sets. Before the socket closes, the allocation is released as RFC 8656 section 7 says, by a Refresh with LIFETIME 0
 * (signed, and retried on a stale nonce, by werift's own request path). Over TCP or TLS the connection's end does it.
 */
function releaseTurnAllocations(): void {
  wrap<(this: TurnFields) => Promise<void>>(TurnProtocol.prototype, "close", (original) =>
    async function (this: TurnFields) {
      if (this.transport.type === "udp" && !this.transport.closed && this.relayedAddress) {
        const release = new Message(methods.REFRESH, classes.REQUEST).setAttribute("LIFETIME", 0);
        await this.requestWithRetry(release, this.server, AbortSignal.timeout(TURN_RELEASE_TIMEOUT_MS))
          .catch((error: Error) => logger.debug("TURN allocation not released", { error: error.message }));
      }
      return original.call(this);
    });
}

/** The longest an answer waits for one candidate (TURN over TLS to a distant relay takes a few round trips). */
const GATHER_LIMIT_MS = 3000;

/**
 * An answer waits until werift has gathered every candidate, and werift's TURN client gives up on a refused or
 * unanswered Allocate only after 6.4 s of retransmissions, then tries TCP: with a wrong TURN secret, every answer came
 * 13 s late. Now each candidate is waited for GATHER_LIMIT_MS at most; a relay candidate that comes later is left out.
 */
function boundCandidateGathering(): void {
  type GetCandidatePromises = (this: unknown, addresses: string[], timeout?: number) => Promise<unknown>[];
  wrap<GetCandidatePromises>(Connection.prototype, "getCandidatePromises", (original) =>
    function (this: unknown, addresses: string[], timeout?: number) {
      return original.call(this, addresses, timeout).map((candidate) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, GATHER_LIMIT_MS)));
        return Promise.race([candidate, limit]).finally(() => clearTimeout(timer));
      });
    });
}

interface TurnFields {
  transport: { type: string; closed: boolean };
  /** The TURN server as configured. */
  server: [string, number];
  relayedAddress?: [string, number];
  requestWithRetry(request: Message, addr: [string, number], signal?: AbortSignal): Promise<unknown>;
}

/**
 * In single-port mode (udpMux.ts) a candidate's socket is a virtual transport on the shared port. Only gathering
 * that runs inside `withSharedPorts` is affected; every other peer connection binds its own sockets as usual.
 */
function useUdpMuxWhenAsked(): void {
  wrap<(this: unknown, ...args: unknown[]) => Promise<unknown>>(UdpTransport, "init", (original) =>
    function (this: unknown, ...args: unknown[]) {
      const mux = currentSharedPorts()?.udp;
      return mux ? Promise.resolve(mux.createTransport()) : original.apply(this, args);
    });
}

/**
 * A TURN client asks for its UDP socket during gathering too, so in single-port mode it would get a virtual one on the
 * shared port. But an allocation belongs to its client's address and port: sessions sharing the port would share one
 * allocation (coturn refuses a second Allocate from it with 437), and the mux would hand the relay's packets to
 * whichever session spoke to it last. So a TURN client always binds a socket of its own.
 */
function keepTurnClientsOffUdpMux(): void {
  wrap<(this: TurnClientFields) => Promise<void>>(TurnProtocol.prototype, "connectionMade", (original) =>
    async function (this: TurnClientFields) {
      if (this.transport instanceof VirtualUdpTransport) {
        await this.transport.close();
        const type = isIP(this.server[0]) === 6 ? "udp6" : "udp4";
        this.transport = await withoutSharedPorts(() => UdpTransport.init(type));
      }
      return original.call(this);
    });
}

interface TurnClientFields {
  transport: unknown;
  server: [string, number];
}

/** The shared TCP port of each passive protocol gathered inside `withSharedPorts`. */
const tcpMuxes = new WeakMap<object, TcpMux>();

/**
 * ICE over TCP (tcpMux.ts): inside `withSharedPorts`, a passive TCP candidate listens on the shared port instead of a
 * port of its own, and announces that port. Active candidates are not gathered there: a server has no use for
 * dialling out to clients, which offer active candidates only (browsers) or none.
 */
function useTcpMuxWhenAsked(): void {
  type Passive = PassiveTcpProtocol & { localIp?: string };
  wrap<(this: Passive, localIp: string, portRange?: unknown) => Promise<void>>(
    TcpPassiveProtocol.prototype,
    "connectionMade",
    (original) =>
      function (this: Passive, localIp: string, portRange?: unknown) {
        const mux = currentSharedPorts()?.tcp;
        if (!mux) return original.call(this, localIp, portRange);
        this.localIp = localIp;
        mux.adopt(this);
        tcpMuxes.set(this, mux);
        return Promise.resolve();
      },
  );
  const listeningPort = Object.getOwnPropertyDescriptor(TcpPassiveProtocol.prototype, "listeningPort")!.get!;
  Object.defineProperty(TcpPassiveProtocol.prototype, "listeningPort", {
    configurable: true,
    get(this: object) {
      return tcpMuxes.get(this)?.port ?? listeningPort.call(this);
    },
  });
  wrap<(this: Passive) => Promise<void>>(TcpPassiveProtocol.prototype, "close", (original) =>
    function (this: Passive) {
      tcpMuxes.get(this)?.forget(this);
      return original.call(this);
    });
  wrap<(this: unknown, localIp: string) => Promise<void>>(TcpActiveProtocol.prototype, "connectionMade", (original) =>
    function (this: unknown, localIp: string) {
      if (currentSharedPorts()?.tcp) return Promise.reject(new Error("no active ICE-TCP candidates on a shared TCP port"));
      return original.call(this, localIp);
    });
  wrap<(this: IceConnectionFields) => Promise<void>>(Connection.prototype, "connect", (original) =>
    async function (this: IceConnectionFields) {
      if (this.protocols.some((protocol) => tcpMuxes.has(protocol)) && !hasPairToCheck(this)) {
        await firstCheckFromClient(this);
      }
      return original.call(this);
    });
}

/** The parts of werift's ICE Connection that waiting for a TCP-only client reads. */
interface IceConnectionFields {
  protocols: (PassiveTcpProtocol & {
    localCandidate?: IceCandidateFields;
    onRequestReceived: { subscribe(execute: () => void, complete: () => void): { unSubscribe(): void } };
  })[];
  remoteCandidates: IceCandidateFields[];
}

interface IceCandidateFields {
  type: string;
  transport: string;
  tcptype?: string;
  canPairWith(other: IceCandidateFields): boolean;
}

/**
 * Whether werift can form any pair from the client's candidates (its own rule: a passive TCP candidate pairs only
 * with the peer-reflexive candidates that the client's connections reveal).
 */
function hasPairToCheck(connection: IceConnectionFields): boolean {
  return connection.remoteCandidates.some((remote) =>
    connection.protocols.some(({ localCandidate: local }) =>
      local?.canPairWith(remote) &&
      !(local.transport.toLowerCase() === "tcp" && local.tcptype === "passive" && remote.type !== "prflx")
    )
  );
}

/**
 * A client that offers TCP candidates alone (Chrome under a policy that forbids UDP) leaves werift nothing to check
 * until its first connection arrives, and werift's connect fails at once on an empty check list. On a shared TCP port
 * connect starts once the client's first check arrives on any candidate instead: werift keeps such a check as an
 * early check and pairs it when connect runs. A client that never comes is ended by the session's connect timeout,
 * which closes the connection and so its protocols.
 */
function firstCheckFromClient(connection: IceConnectionFields): Promise<void> {
  return new Promise((resolve) => {
    let waiting = true;
    const subscriptions: { unSubscribe(): void }[] = [];
    const done = () => {
      if (!waiting) return;
      waiting = false;
      queueMicrotask(() => subscriptions.forEach((subscription) => subscription.unSubscribe()));
      resolve();
    };
    for (const protocol of connection.protocols) subscriptions.push(protocol.onRequestReceived.subscribe(done, done));
  });
}

/** ClientHello (RFC 6347 4.3.2): answered every time it arrives (a lost HelloVerifyRequest is only resent on a new ClientHello). */
const CLIENT_HELLO = 1;

/**
 * werift handles a retransmitted DTLS flight as new messages. As client (we answer `a=setup:active`), a second
 * ServerHello starts a second flight-5 state and a second ServerHelloDone sends flight 5 again, recomputing the master
 * secret from a handshake log that now holds duplicates; as server, a repeated flight 5 corrupts the log the same way.
 * Every record after that fails to decrypt, so with a few percent of packet loss during the handshake
 * (test/integration/impairment.test.ts) sessions never come up. RFC 6347 4.2.4: a retransmitted message keeps its
 * message_seq, so each one is handled once; werift's own timers still retransmit a flight until the next one arrives.
 */
function handleRetransmittedFlightsOnce(): void {
  const seen = new WeakMap<object, Set<string>>();
  wrap<(this: DtlsSocketFields, messages: unknown[]) => HandshakeFields[]>(
    DtlsSocket.prototype,
    "handleFragmentHandshake",
    (original) =>
      function (this: DtlsSocketFields, messages: unknown[]) {
        const handshakes = original.call(this, messages);
        if (!this.dtls) return handshakes;
        let handled = seen.get(this.dtls);
        if (!handled) seen.set(this.dtls, (handled = new Set()));
        return handshakes.filter((handshake) => {
          if (handshake.msg_type === CLIENT_HELLO) return true;
          // Keyed by type too (a stateless cookie exchange lets OpenSSL send HelloVerifyRequest and then ServerHello
          // both with message_seq 0) and by fragment (a large Certificate arrives as several fragments of one message).
          const key = `${handshake.msg_type}:${handshake.message_seq}:${handshake.fragment_offset}`;
          if (handled.has(key)) return false;
          handled.add(key);
          return true;
        });
      },
  );
}

interface DtlsSocketFields {
  /** Replaced on a new handshake, so the messages seen are kept per context. */
  dtls?: object;
}

interface HandshakeFields {
  msg_type: number;
  message_seq: number;
  fragment_offset: number;
}

interface SctpTransportFields {
  dataChannelQueue: unknown[];
  /** werift's association state name: "connected" exactly while the association is established. */
  sctp: { state: string };
}

const drainingTransports = new WeakSet<object>();

/**
 * Every data channel send starts its own drain loop (werift's dataChannelFlush), and each loop waits for SCTP's whole
 * outbound queue to empty: with 10,000 messages queued at once, 10,000 loops wake on every SCTP flush, and a werift
 * peer measured 105 of them delivered in 37 s. One drain loop per transport sends the same messages, in the same
 * order, in well under a second.
 */
function drainDataChannelsOnce(): void {
  wrap<(this: SctpTransportFields) => Promise<void>>(RTCSctpTransport.prototype, "dataChannelFlush", (original) =>
    async function (this: SctpTransportFields) {
      if (drainingTransports.has(this)) return; // the running loop takes what was just queued
      drainingTransports.add(this);
      try {
        // Messages queued while the loop was finishing would otherwise wait for the next send.
        do await original.call(this);
        while (this.dataChannelQueue.length > 0 && this.sctp.state === "connected");
      } finally {
        drainingTransports.delete(this);
      }
    });
}

interface RtpSenderFields {
  codec?: { rtcpFeedback?: { type: string }[] };
  rtpCache: unknown[];
}

/** An RTP history that keeps nothing: what is stored vanishes, and a lookup finds no packet to retransmit. */
const NO_HISTORY: unknown[] = new Proxy([], { set: () => true });

/**
 * Every RTP sender keeps its last 128 packets (2.5 s of audio) to answer NACKs, but only a codec negotiated with
 * "nack" feedback is ever asked, and browsers do not NACK Opus. Those packets outlive every young-generation
 * collection, so Bun promotes them all: at 30 echo sessions that filled the old space by ~1.5 MB/s and made a full
 * collection, a 50 ms stop of every session, due every 15 s. A sender without NACK gets a history that keeps nothing.
 */
function keepRtpHistoryOnlyForNack(): void {
  wrap<(this: RtpSenderFields, rtp: unknown) => Promise<void>>(RTCRtpSender.prototype, "dispatchRtp", (original) =>
    function (this: RtpSenderFields, rtp: unknown) {
      const nack = this.codec?.rtcpFeedback?.some((feedback) => feedback.type === "nack") ?? false;
      if (!nack) this.rtpCache = NO_HISTORY;
      else if (this.rtpCache === NO_HISTORY) this.rtpCache = [];
      return original.call(this, rtp);
    });
}

/** werift's Event, as the lean execute below reads it. */
interface EventFields {
  execute: (...args: unknown[]) => unknown;
  ended: boolean;
  event: { stack: { execute: (...args: unknown[]) => unknown }[]; promiseStack: unknown[] };
}

/**
 * werift hands every packet from layer to layer through its Event, once per layer (the ICE candidate's socket, the
 * ICE connection, the SRTP transport, the track). Event.execute calls the subscribers, then always starts an async
 * function for those queued with queuingSubscribe, even when there are none: a closure, an async frame and two
 * promises per call, which a million calls measured at 3.6 µs each against 0.26 µs without, and all of it garbage for
 * the collector. The events on the packet path get an execute that skips that part while nothing is queued; with
 * something queued it is werift's own.
 */
function executeLeanOnPacketPath(): void {
  wrap<(this: { onData: EventFields }, protocol: { onDataReceived: EventFields }) => unknown>(
    Connection.prototype,
    "ensureProtocol",
    (original) =>
      function (this: { onData: EventFields }, protocol: { onDataReceived: EventFields }) {
        makeExecuteLean(this.onData);
        makeExecuteLean(protocol.onDataReceived);
        return original.call(this, protocol);
      },
  );
  type SrtpTransport = { onRtp: EventFields; onRtcp: EventFields };
  wrap<(this: SrtpTransport) => unknown>(RTCDtlsTransport.prototype, "startSrtp", (original) =>
    function (this: SrtpTransport) {
      makeExecuteLean(this.onRtp);
      makeExecuteLean(this.onRtcp);
      return original.call(this);
    });
  wrap<(this: { onRtcp: EventFields }, track: { onReceiveRtp: EventFields }) => unknown>(
    RTCRtpReceiver.prototype,
    "addTrack",
    (original) =>
      function (this: { onRtcp: EventFields }, track: { onReceiveRtp: EventFields }) {
        makeExecuteLean(this.onRtcp);
        makeExecuteLean(track.onReceiveRtp);
        return original.call(this, track);
      },
  );
}

const leanEvents = new WeakSet<object>();

/** Gives one werift Event the lean execute (once). Exported for tests. */
export function makeExecuteLean(event: EventFields): void {
  if (leanEvents.has(event)) return;
  leanEvents.add(event);
  const withQueued = event.execute;
  event.execute = (...args: unknown[]) => {
    if (event.event.promiseStack.length > 0) return withQueued(...args);
    if (event.ended) return;
    for (const item of event.event.stack) item.execute(...args);
  };
}

/** RFC 8285 header extension profiles, as werift names them. */
const ONE_BYTE_EXTENSIONS = 0xbede;
const TWO_BYTE_EXTENSIONS = 0x1000;

/**
 * werift reads an RTP header's bit fields through strings: each byte becomes an array of "0"/"1" characters, padded,
 * sliced and joined again, six times per header, and a received packet's header is parsed twice (once to check it
 * under SRTP, once into the packet): some 70 short-lived objects per packet. The same fields are read here with
 * shifts and masks into the same RtpHeader, extensions included (RFC 3550 5.1, RFC 8285), and werift's own parse is
 * no longer called.
 */
function parseRtpHeadersWithoutStrings(): void {
  wrap<(raw: Buffer) => RtpHeader>(RtpHeader, "deSerialize", () => (raw: Buffer) => parseRtpHeader(raw));
}

/** An RTP header as werift's RtpHeader.deSerialize gives it, field for field. Exported for tests. */
export function parseRtpHeader(raw: Buffer): RtpHeader {
  const header = new RtpHeader();
  const first = raw[0];
  header.version = first >> 6;
  header.padding = (first & 0x20) !== 0;
  header.extension = (first & 0x10) !== 0;
  header.csrcLength = first & 0x0f;
  header.marker = (raw[1] & 0x80) !== 0;
  header.payloadType = raw[1] & 0x7f;
  header.sequenceNumber = raw.readUInt16BE(2);
  header.timestamp = raw.readUInt32BE(4);
  header.ssrc = raw.readUInt32BE(8);
  let offset = 12;
  for (let i = 0; i < header.csrcLength; i++, offset += 4) header.csrc.push(raw.readUInt32BE(offset));
  if (header.extension) offset = parseExtensions(raw, offset, header);
  header.payloadOffset = offset;
  if (header.padding) header.paddingSize = raw[raw.length - 1];
  return header;
}

/** Reads the extension block at `offset` into `header`; returns the offset after it (where werift's parse ends). */
function parseExtensions(raw: Buffer, offset: number, header: RtpHeader): number {
  header.extensionProfile = raw.readUInt16BE(offset) as RtpHeader["extensionProfile"];
  const length = raw.readUInt16BE(offset + 2) * 4;
  header.extensionLength = length;
  let at = offset + 4;
  const end = at + length;
  if (header.extensionProfile === ONE_BYTE_EXTENSIONS) {
    while (at < end) {
      if (raw[at] === 0) {
        at++; // padding
        continue;
      }
      const id = raw[at] >> 4;
      const size = (raw[at] & 0x0f) + 1;
      at++;
      if (id === 15) break; // reserved: stop reading (RFC 8285 4.2)
      header.extensions.push({ id, payload: raw.subarray(at, at + size) });
      at += size;
    }
  } else if (header.extensionProfile === TWO_BYTE_EXTENSIONS) {
    while (at < end) {
      if (raw[at] === 0) {
        at++;
        continue;
      }
      const id = raw[at];
      const size = raw[at + 1];
      at += 2;
      header.extensions.push({ id, payload: raw.subarray(at, at + size) });
      at += size;
    }
  } else {
    const payload = raw.subarray(at, at + length);
    header.extensions.push({ id: 0, payload });
    at += payload.length;
  }
  return at;
}
