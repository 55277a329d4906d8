/**
 * Changes to werift 0.25.2, applied once per process. Each wraps one werift method and keeps its behaviour otherwise:
 * corrections a server cannot do without (each has a test that fails without it: networkIsolation, connection, interop,
 * dataChannelBurst, video), and the hook that puts single-port mode's virtual sockets under werift's ICE.
 */
import { Connection, DtlsSocket, RTCRtpSender, RTCSctpTransport, UdpTransport } from "werift";
import { type Logger, silentLogger } from "../log/logger.ts";
import { currentUdpMux } from "./udpMux.ts";

let applied = false;
let logger: Logger = silentLogger;

/** Applies the patches (once); `log`, when given, receives what they report. */
export function applyWeriftPatches(log?: Logger): void {
  if (log) logger = log;
  if (applied) return;
  applied = true;
  keepConfiguredStunOnly();
  survivePortUnreachable();
  handleRetransmittedFlightsOnce();
  drainDataChannelsOnce();
  keepRtpHistoryOnlyForNack();
  useUdpMuxWhenAsked();
}

/**
 * werift queries stun.l.google.com:19302 whenever no STUN server is configured (ice.js DEFAULT_STUN_SERVER). That
 * leaks a DNS lookup and a packet to an address the user never chose, and stalls gathering where DNS hangs. With no
 * STUN server configured, no server-reflexive gathering happens at all.
 */
function keepConfiguredStunOnly(): void {
  const prototype = Connection.prototype as unknown as { applyStunTurnServersFromOptions(this: StunFields): void };
  const original = prototype.applyStunTurnServersFromOptions;
  prototype.applyStunTurnServersFromOptions = function (this: StunFields) {
    original.call(this);
    if (!this.options.stunServer) this.stunServer = undefined;
  };
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
  const prototype = UdpTransport.prototype as unknown as { init(this: { socket: SocketLike }): Promise<void> };
  const original = prototype.init;
  prototype.init = function (this: { socket: SocketLike }) {
    this.socket.on("error", (error: Error) => logger.debug("UDP socket error ignored", { error: error.message }));
    return original.call(this);
  };
}

interface SocketLike {
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * In single-port mode (udpMux.ts) a candidate's socket is a virtual transport on the shared port. Only gathering
 * that runs inside `withUdpMux` is affected; every other peer connection binds its own sockets as usual.
 */
function useUdpMuxWhenAsked(): void {
  const transportClass = UdpTransport as unknown as { init(...args: unknown[]): Promise<unknown> };
  const original = transportClass.init.bind(transportClass);
  transportClass.init = (...args: unknown[]) => {
    const mux = currentUdpMux();
    return mux ? Promise.resolve(mux.createTransport()) : original(...args);
  };
}

/** ClientHello: answered every time it arrives (a lost HelloVerifyRequest is only resent on a new ClientHello). */
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
  const prototype = DtlsSocket.prototype as unknown as {
    handleFragmentHandshake(this: DtlsSocketFields, messages: unknown[]): HandshakeFields[];
  };
  const original = prototype.handleFragmentHandshake;
  prototype.handleFragmentHandshake = function (this: DtlsSocketFields, messages: unknown[]) {
    const handshakes = original.call(this, messages);
    if (!this.dtls) return handshakes;
    let handled = seen.get(this.dtls);
    if (!handled) seen.set(this.dtls, (handled = new Set()));
    return handshakes.filter((handshake) => {
      if (handshake.msg_type === CLIENT_HELLO) return true;
      // Keyed by type too (a stateless cookie exchange lets OpenSSL send HelloVerifyRequest and then ServerHello both
      // with message_seq 0) and by fragment (a large Certificate arrives as several fragments of one message).
      const key = `${handshake.msg_type}:${handshake.message_seq}:${handshake.fragment_offset}`;
      if (handled.has(key)) return false;
      handled.add(key);
      return true;
    });
  };
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
  sctp: { associationState: number };
  dataChannelFlush(this: SctpTransportFields): Promise<void>;
}

/** werift's SCTP association state once established (SCTP_STATE.ESTABLISHED, not exported). */
const SCTP_ESTABLISHED = 4;
const drainingTransports = new WeakSet<object>();

/**
 * Every data channel send starts its own drain loop (transport/sctp.js dataChannelFlush), and each loop waits for
 * SCTP's whole outbound queue to empty: with 10,000 messages queued at once, 10,000 loops wake on every SCTP flush,
 * and a werift peer measured 105 of them delivered in 37 s. One drain loop per transport sends the same messages, in
 * the same order, in well under a second.
 */
function drainDataChannelsOnce(): void {
  const prototype = RTCSctpTransport.prototype as unknown as SctpTransportFields;
  const original = prototype.dataChannelFlush;
  prototype.dataChannelFlush = async function (this: SctpTransportFields) {
    if (drainingTransports.has(this)) return; // the running loop takes what was just queued
    drainingTransports.add(this);
    try {
      // Messages queued while the loop was finishing would otherwise wait for the next send.
      do await original.call(this);
      while (this.dataChannelQueue.length > 0 && this.sctp.associationState === SCTP_ESTABLISHED);
    } finally {
      drainingTransports.delete(this);
    }
  };
}

interface RtpSenderFields {
  dispatchRtp(rtp: unknown): Promise<void>;
  codec?: { rtcpFeedback?: { type: string }[] };
  sequenceNumber?: number;
  rtpCache: unknown[];
}

/** werift's RTCRtpSender RTP_HISTORY_SIZE: its rtpCache is indexed by sequence number modulo this. */
const RTP_HISTORY_SIZE = 128;

/**
 * Every RTP sender keeps its last 128 packets (2.5 s of audio) to answer NACKs, but only a codec negotiated with
 * "nack" feedback is ever asked, and browsers do not NACK Opus. Those packets outlive every young-generation
 * collection, so Bun promotes them all: at 30 echo sessions that filled the old space by ~1.5 MB/s and made a full
 * collection, a 50 ms stop of every session, due every 15 s. A sender without NACK forgets each packet as it sends it.
 */
function keepRtpHistoryOnlyForNack(): void {
  const prototype = RTCRtpSender.prototype as unknown as RtpSenderFields;
  const original = prototype.dispatchRtp;
  prototype.dispatchRtp = function (this: RtpSenderFields, rtp: unknown) {
    // The packet is cached, and sequenceNumber set, before the first await of the original.
    const sending = original.call(this, rtp);
    const nack = this.codec?.rtcpFeedback?.some((feedback) => feedback.type === "nack");
    if (!nack && this.sequenceNumber !== undefined) this.rtpCache[this.sequenceNumber % RTP_HISTORY_SIZE] = undefined;
    return sending;
  };
}
