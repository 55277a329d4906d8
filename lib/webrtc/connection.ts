/**
 * SmallWebRTCConnection: one client's peer connection, behaving as Pipecat's (PROTOCOL.md section 2).
 *
 * - The answer already carries every server candidate: there is no server-to-client trickle.
 * - Transceivers are addressed by position: 0 microphone audio, 1 camera video, 2 screen video.
 * - The server never opens a data channel; it adopts the client's, whatever its label (the last one wins).
 * - `connected` is held back until `connect()` says the bot is ready for it, and so are inbound app messages.
 * - `restart_pc` replaces the werift peer connection and mints a new `pcId`; listeners on this object survive.
 */
import { randomUUID } from "node:crypto";
import {
  type MediaStreamTrack,
  type PeerConfig,
  type RTCDataChannel,
  RTCPeerConnection,
  type RTCRtpTransceiver,
} from "werift";
import { TypedEmitter } from "../events/emitter.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { parseInbound, signallingMessage } from "./dataChannelProtocol.ts";
import { SignallingError } from "./errors.ts";
import { type CandidatePolicy, candidateRefusal, filterOfferCandidates } from "./remoteCandidates.ts";
import { type UdpMux, VirtualUdpTransport, withUdpMux } from "./udpMux.ts";
import { LivenessTracker, type LivenessOptions } from "./liveness.ts";
import { OutgoingMessages } from "./outgoingMessages.ts";

export type ConnectionState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

/** Receiver positions shared by every Pipecat client (PROTOCOL.md 2.3). */
export const RECEIVER = { microphone: 0, camera: 1, screen: 2 } as const;

export interface SessionDescription {
  sdp: string;
  type: "offer" | "answer";
}

export interface Answer {
  sdp: string;
  type: "answer";
  pc_id: string;
}

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** Packets and bytes on the selected candidate pairs, over the connection's whole life (restarts included). */
export interface Traffic {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ConnectionEvents {
  [event: string]: unknown[];
  /** The werift connection state changed (only `connected` is held back until `connect()`). */
  stateChange: [state: ConnectionState];
  connected: [];
  /** The client is gone for good (closed by either side, failed, or timed out). Emitted once. */
  closed: [];
  /** The peer connection is being replaced by `restart_pc`. */
  disconnected: [];
  appMessage: [message: unknown];
  trackStarted: [track: MediaStreamTrack, receiverIndex: number];
  trackStatus: [receiverIndex: number, enabled: boolean];
  /** A new `pcId` was minted by `restart_pc`; the previous one stays valid for late requests. */
  pcIdChanged: [pcId: string, previous: string];
}

export interface ConnectionOptions {
  /** Fresh werift options per peer connection (TURN credentials may be re-minted on restart). */
  peerConfig: () => Partial<PeerConfig>;
  logger?: Logger;
  /** Close a peer connection that is not connected this long after its offer (or after losing its connection). */
  connectTimeoutMs: number;
  /** When a connected client counts as gone (see liveness.ts). */
  liveness: LivenessOptions;
  /** After connecting, stop queueing outgoing messages if no data channel has opened by then. */
  dataChannelTimeoutMs: number;
  maxQueuedMessages: number;
  /** Transforms the answer before it is returned (ESP32 SDP rules). */
  shapeAnswer?: (sdp: string) => string;
  /** Single-port mode: gather on this shared socket instead of a socket per candidate. */
  udpMux?: UdpMux;
  /** Which client candidates are used (remoteCandidates.ts). */
  candidatePolicy: CandidatePolicy;
  /** Most candidates a client may give per peer connection (offer and trickle together). */
  maxRemoteCandidates: number;
}

const RENEGOTIATION_QUIET_MS = 2000;
const BUFFERED_APP_MESSAGES = 50;
let connectionCounter = 0;

export class SmallWebRTCConnection extends TypedEmitter<ConnectionEvents> {
  #pc!: RTCPeerConnection;
  #pcId = "";
  #answer?: Answer;
  #state: ConnectionState = "new";
  #logger: Logger;
  #options: ConnectionOptions;
  #unsubscribers: (() => void)[] = [];
  #outgoing: OutgoingMessages;
  #connectInvoked = false;
  #closed = false;
  #inboundBacklog: unknown[] = [];
  #lastPingAt?: number;
  #connectTimer?: ReturnType<typeof setTimeout>;
  #dataChannelTimer?: ReturnType<typeof setTimeout>;
  #livenessTimer?: ReturnType<typeof setInterval>;
  #renegotiatingUntil = 0;
  #channelOpen = false;
  #remoteCandidates = 0;
  /** Traffic of peer connections replaced by restart_pc. */
  #pastTraffic: Traffic = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
  #tracks = new Map<number, MediaStreamTrack>();
  #watchedTransceivers = new WeakSet<RTCRtpTransceiver>();
  #watched = new WeakSet<object>();
  #trackEnabled = new Map<number, boolean>();

  private constructor(options: ConnectionOptions) {
    const logger = options.logger ?? silentLogger;
    super(logger);
    this.#options = options;
    this.#logger = logger;
    this.#outgoing = new OutgoingMessages({
      maxQueuedBeforeOpen: options.maxQueuedMessages,
      maxBacklogBytes: 4 * 1024 * 1024,
      inFlightBytes: 64 * 1024,
    });
  }

  /** Answers `offer` on a new peer connection. Rejects with a `SignallingError` when the offer cannot be used. */
  static async create(offer: SessionDescription, options: ConnectionOptions): Promise<SmallWebRTCConnection> {
    const connection = new SmallWebRTCConnection(options);
    try {
      await connection.#start(offer);
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  get pcId(): string {
    return this.#pcId;
  }

  get answer(): Answer {
    return this.#answer!;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The underlying werift peer connection; replaced on `restart_pc`. */
  get peerConnection(): RTCPeerConnection {
    return this.#pc;
  }

  get logger(): Logger {
    return this.#logger;
  }

  /** Media transceivers in offer order: 0 microphone, 1 camera, 2 screen. The data channel is not one of them. */
  get transceivers(): RTCRtpTransceiver[] {
    return this.#pc.getTransceivers();
  }

  transceiver(index: number): RTCRtpTransceiver | undefined {
    return this.transceivers[index];
  }

  /** The client's track on receiver `index`, once its first packet arrived. */
  track(index: number): MediaStreamTrack | undefined {
    return this.#tracks.get(index);
  }

  /** Whether the client says receiver `index` is enabled (`trackStatus`); true until told otherwise. */
  isTrackEnabled(index: number): boolean {
    return this.#trackEnabled.get(index) ?? true;
  }

  /**
   * Alive means connected and, for clients that send `ping` keep-alives, a ping within the last 3 s (Pipecat's
   * `is_connected`). Clients without keep-alives (ESP32, iOS, Android) rely on ICE consent.
   */
  isAlive(now: number = performance.now()): boolean {
    if (this.#state !== "connected") return false;
    return this.#lastPingAt === undefined || now - this.#lastPingAt < 3000;
  }

  get lastPingAt(): number | undefined {
    return this.#lastPingAt;
  }

  /**
   * The bot is ready: from now on `connected` and app messages are delivered. If the peer is already connected, the
   * events fire now and buffered app messages are replayed in order.
   */
  connect(): void {
    if (this.#connectInvoked) return;
    this.#connectInvoked = true;
    if (this.#state === "connected") this.emit("connected");
    const backlog = this.#inboundBacklog;
    this.#inboundBacklog = [];
    for (const message of backlog) this.emit("appMessage", message);
  }

  /** Applies a re-offer. With `restartPc` the peer connection is rebuilt and a new `pcId` is minted. */
  async renegotiate(offer: SessionDescription, restartPc: boolean): Promise<Answer> {
    if (this.#closed) throw new SignallingError("peer-not-found", "the peer connection is closed");
    this.#renegotiatingUntil = performance.now() + RENEGOTIATION_QUIET_MS;
    if (restartPc) {
      this.emit("disconnected");
      const previous = this.#pcId;
      await this.#teardownPeer();
      await this.#start(offer);
      this.emit("pcIdChanged", this.#pcId, previous);
    } else {
      await this.#answerOffer(offer);
    }
    return this.#answer!;
  }

  /**
   * Applies a trickled client candidate. An empty candidate string is an end-of-candidates marker (RFC 8840).
   * Refused candidates (see remoteCandidates.ts) are skipped; more than the limit is an error.
   */
  async addIceCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.#closed) return;
    if (candidate.candidate !== "" && ++this.#remoteCandidates > this.#options.maxRemoteCandidates) {
      throw new SignallingError("invalid-candidate", `more than ${this.#options.maxRemoteCandidates} candidates`);
    }
    const refusal = candidateRefusal(candidate.candidate, this.#options.candidatePolicy);
    if (refusal) {
      this.#logger.debug("ignored a remote candidate", { reason: refusal, candidate: candidate.candidate });
      return;
    }
    await this.#pc.addIceCandidate({
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? undefined,
      sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
    });
  }

  /** Sends an application message (JSON). Returns false when it had to be dropped. */
  sendAppMessage(message: unknown): boolean {
    if (this.#closed) return false;
    const result = this.#outgoing.send(JSON.stringify(message));
    if (result === "dropped") this.#logger.debug("outgoing message dropped", { queued: this.#outgoing.queued });
    return result !== "dropped";
  }

  /** Asks the client to send a new offer on the same peer connection (throttled while one is in progress). */
  askToRenegotiate(): void {
    if (performance.now() < this.#renegotiatingUntil) return;
    this.#renegotiatingUntil = performance.now() + RENEGOTIATION_QUIET_MS;
    this.#outgoing.send(signallingMessage("renegotiate"));
  }

  /** Bot-side end: tells the client (`peerLeft`), gives the message a moment to leave, then closes. */
  async disconnect(flushMs = 200): Promise<void> {
    if (this.#closed) return;
    this.#outgoing.send(signallingMessage("peerLeft"));
    await this.#waitForFlush(flushMs);
    await this.close();
  }

  /** Closes the peer connection and releases everything; emits `closed` once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimers();
    this.#outgoing.discard();
    await this.#teardownPeer();
    this.#setState("closed");
    this.emit("closed");
    this.removeAllListeners();
  }

  async #start(offer: SessionDescription): Promise<void> {
    this.#pcId = `SmallWebRTCConnection#${connectionCounter++}-${randomUUID().replaceAll("-", "")}`;
    this.#logger = (this.#options.logger ?? silentLogger).child({ pcId: this.#pcId });
    this.#pc = new RTCPeerConnection(this.#options.peerConfig());
    this.#setState("new");
    this.#subscribePeer(this.#pc);
    this.#armConnectTimer();
    await this.#answerOffer(offer);
  }

  async #answerOffer(offer: SessionDescription): Promise<void> {
    const pc = this.#pc;
    this.#remoteCandidates = offer.sdp.split("a=candidate:").length - 1;
    const { udpMux } = this.#options;
    // The offer is the only input here, so anything werift cannot negotiate from it is the offer's fault: a 400 for
    // the client, never a 500 (the fuzzer found SDPs that pass setRemoteDescription and fail in createAnswer).
    await withUdpMux(udpMux, async () => {
      try {
        await pc.setRemoteDescription({ type: offer.type, sdp: filterOfferCandidates(offer.sdp, this.#options.candidatePolicy) });
        // Without local tracks werift would answer recvonly; bot media goes out on the microphone and camera
        // transceivers, and the screen slot only ever receives (PROTOCOL.md 2.3).
        pc.getTransceivers().forEach((transceiver, index) => {
          transceiver.setDirection(index < 2 ? "sendrecv" : "recvonly");
        });
        await pc.setLocalDescription(await pc.createAnswer());
      } catch (error) {
        throw new SignallingError("invalid-offer", `the offer could not be negotiated: ${(error as Error).message}`);
      }
      await waitForGathering(pc);
    });
    if (udpMux) this.#assignUfrags(udpMux);
    const sdp = pc.localDescription!.sdp;
    this.#answer = { sdp: this.#options.shapeAnswer?.(sdp) ?? sdp, type: "answer", pc_id: this.#pcId };
  }

  /** Tells the shared socket which session each of our ICE usernames belongs to (they change on ICE restart). */
  #assignUfrags(udpMux: UdpMux): void {
    for (const { connection } of this.#pc.iceTransports) {
      // werift's IceConnection interface does not list the protocols its Connection class keeps.
      const protocols = (connection as unknown as { protocols: { transport?: unknown }[] }).protocols;
      for (const { transport } of protocols) {
        if (transport instanceof VirtualUdpTransport) udpMux.assign(connection.localUsername, transport);
      }
    }
  }

  #subscribePeer(pc: RTCPeerConnection): void {
    const subscriptions = [
      pc.connectionStateChange.subscribe((state) => this.#onPeerState(state)),
      pc.onDataChannel.subscribe((channel) => this.#adoptChannel(channel)),
      pc.onTransceiverAdded.subscribe((transceiver) => this.#watchTransceiver(transceiver)),
      pc.onRemoteTransceiverAdded.subscribe((transceiver) => this.#watchTransceiver(transceiver)),
    ];
    this.#unsubscribers.push(() => subscriptions.forEach((s) => s.unSubscribe()));
  }

  #watchTransceiver(transceiver: RTCRtpTransceiver): void {
    // werift reports a remote transceiver through both added-events; watch each one once.
    if (this.#watchedTransceivers.has(transceiver)) return;
    this.#watchedTransceivers.add(transceiver);
    const subscription = transceiver.onTrack.subscribe((track) => {
      const index = this.#pc.getTransceivers().indexOf(transceiver);
      if (index < 0) return;
      this.#tracks.set(index, track);
      this.#logger.debug("track started", { index, kind: track.kind });
      this.emit("trackStarted", track, index);
    });
    this.#unsubscribers.push(() => subscription.unSubscribe());
  }

  #onPeerState(state: ConnectionState): void {
    if (this.#closed) return;
    this.#logger.debug("peer connection state", { state });
    this.#setState(state);
    if (state === "connected") {
      this.#clearConnectTimer();
      this.#armDataChannelTimer();
      this.#watchForClientClose();
      this.#watchLiveness();
      if (this.#connectInvoked) this.emit("connected");
    } else if (state === "failed" || state === "closed") {
      void this.close();
    } else {
      this.#armConnectTimer();
    }
  }

  /**
   * A client that closes its peer connection says so: SCTP ABORT (or SHUTDOWN) for the data channels, then a DTLS
   * close_notify. werift acts on neither for the connection state, so without this a cleanly departed client would
   * linger until liveness gives up. Like aiortc, the connection is over once all its DTLS transports are closed, or
   * once the client ended the SCTP association (werift misreads some encrypted close_notify alerts, e.g. OpenSSL's).
   */
  #watchForClientClose(): void {
    const pc = this.#pc;
    const gone = (reason: string) => {
      if (pc !== this.#pc || this.#closed) return;
      this.#logger.debug("client closed its peer connection", { reason });
      void this.close();
    };
    for (const dtls of pc.dtlsTransports) {
      if (this.#watched.has(dtls)) continue;
      this.#watched.add(dtls);
      const subscription = dtls.onStateChange.subscribe(() => {
        if (pc.dtlsTransports.every((t) => t.state === "closed" || t.state === "failed")) gone("DTLS close_notify");
      });
      this.#unsubscribers.push(() => subscription.unSubscribe());
    }
    const sctp = pc.sctpTransport?.sctp;
    if (sctp && !this.#watched.has(sctp)) {
      this.#watched.add(sctp);
      const subscription = sctp.stateChanged.closed.subscribe(() => gone("SCTP association ended"));
      this.#unsubscribers.push(() => subscription.unSubscribe());
    }
  }

  /** Checks twice a second that the client is still there (liveness.ts), and closes the session when it is not. */
  #watchLiveness(): void {
    clearInterval(this.#livenessTimer);
    const tracker = new LivenessTracker(this.#options.liveness);
    this.#livenessTimer = setInterval(() => {
      const sample = { now: performance.now(), lastPingAt: this.#lastPingAt, inboundCount: this.#inboundCount() };
      if (tracker.isAlive(sample)) return;
      this.#logger.info("client vanished; closing", { pinged: this.#lastPingAt !== undefined });
      void this.close();
    }, 500);
  }

  get traffic(): Traffic {
    const total = { ...this.#pastTraffic };
    for (const transport of this.#pc?.iceTransports ?? []) {
      const pair = transport.connection.nominated;
      if (!pair) continue;
      total.packetsIn += pair.packetsReceived;
      total.packetsOut += pair.packetsSent;
      total.bytesIn += pair.bytesReceived;
      total.bytesOut += pair.bytesSent;
    }
    return total;
  }

  /** Everything received on the selected candidate pairs: media, data and ICE consent responses. */
  #inboundCount(): number {
    let count = 0;
    for (const transport of this.#pc.iceTransports) {
      const pair = transport.connection.nominated;
      if (pair) count += pair.packetsReceived + pair.responsesReceived;
    }
    return count;
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit("stateChange", state);
  }

  #adoptChannel(channel: RTCDataChannel): void {
    this.#logger.debug("data channel adopted", { label: channel.label });
    const onMessage = channel.onMessage.subscribe((data) => this.#onChannelMessage(data));
    const onState = channel.stateChanged.subscribe((state) => {
      if (state === "open") this.#useChannel(channel);
    });
    this.#unsubscribers.push(() => {
      onMessage.unSubscribe();
      onState.unSubscribe();
    });
    // werift may surface a remote channel already open; flush right away in that case too (Pipecat PR #5112).
    if (channel.readyState === "open") this.#useChannel(channel);
  }

  #useChannel(channel: RTCDataChannel): void {
    this.#channelOpen = true;
    clearTimeout(this.#dataChannelTimer);
    this.#outgoing.attach(channel);
  }

  #onChannelMessage(data: string | Uint8Array): void {
    const inbound = parseInbound(data);
    switch (inbound.kind) {
      case "ping":
        this.#lastPingAt = performance.now();
        return;
      case "trackStatus":
        this.#trackEnabled.set(inbound.receiverIndex, inbound.enabled);
        this.emit("trackStatus", inbound.receiverIndex, inbound.enabled);
        return;
      case "app":
        if (this.#connectInvoked) this.emit("appMessage", inbound.message);
        else if (this.#inboundBacklog.length < BUFFERED_APP_MESSAGES) this.#inboundBacklog.push(inbound.message);
        return;
      case "invalid":
        this.#logger.debug("ignored data channel message", { reason: inbound.reason });
    }
  }

  #armConnectTimer(): void {
    if (this.#connectTimer) return;
    this.#connectTimer = setTimeout(() => {
      this.#logger.info("closing: not connected in time", { timeoutMs: this.#options.connectTimeoutMs });
      void this.close();
    }, this.#options.connectTimeoutMs);
  }

  #clearConnectTimer(): void {
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
  }

  #armDataChannelTimer(): void {
    if (this.#dataChannelTimer || this.#channelOpen) return;
    this.#dataChannelTimer = setTimeout(() => {
      this.#logger.debug("no data channel opened; outgoing messages are discarded from now on");
      this.#outgoing.discard();
    }, this.#options.dataChannelTimeoutMs);
  }

  #clearTimers(): void {
    this.#clearConnectTimer();
    clearInterval(this.#livenessTimer);
    clearTimeout(this.#dataChannelTimer);
    this.#dataChannelTimer = undefined;
  }

  async #waitForFlush(maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (this.#outgoing.queued > 0 && performance.now() < deadline) await sleep(10);
    await sleep(Math.min(50, maxMs));
  }

  async #teardownPeer(): Promise<void> {
    this.#pastTraffic = this.traffic;
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    this.#outgoing.detach();
    this.#channelOpen = false;
    this.#tracks.clear();
    this.#clearTimers();
    try {
      await this.#pc?.close();
    } catch (error) {
      this.#logger.debug("closing the peer connection failed", { error });
    }
  }
}

/**
 * The answer must carry every candidate, so wait for gathering; werift bounds STUN and TURN waits itself, and the
 * cap here only guards against a gatherer that never reports completion (browsers also answer with what they have).
 */
async function waitForGathering(pc: RTCPeerConnection, maxMs = 10_000): Promise<void> {
  if (pc.iceGatheringState === "complete") return;
  let subscription: { unSubscribe(): void } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    timer = setTimeout(resolve, maxMs);
    subscription = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === "complete") resolve();
    });
  });
  clearTimeout(timer);
  subscription?.unSubscribe();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
