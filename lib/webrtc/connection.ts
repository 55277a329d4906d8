/**
 * SmallWebRTCConnection: one client, behaving as Pipecat's connection does (docs/protocol.md §2).
 *
 * - The answer already carries every server candidate: there is no server-to-client trickle.
 * - Transceivers are addressed by position: 0 microphone audio, 1 camera video, 2 screen video.
 * - The server never opens a data channel; it adopts the client's, whatever its label (the last one wins).
 * - `connected` is held back until `connect()` says the bot is ready for it, and so are inbound app messages.
 * - `restart_pc` replaces the peer connection (peer.ts) and mints a new `pcId`; listeners on this object, and on
 *   its media port, survive.
 *
 * This is a thin façade: everything tied to one peer connection lives in a Peer, and media goes through `media`.
 */
import { randomUUID } from "node:crypto";
import type { PeerConfig } from "werift";
import { TypedEmitter } from "../events/emitter.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { type InboundMessage, signallingMessage } from "./dataChannelProtocol.ts";
import { SignallingError } from "./errors.ts";
import type { LivenessOptions } from "./liveness.ts";
import { ConnectionMedia, type MediaPort, type MediaSlot } from "./mediaPort.ts";
import { OutgoingMessages } from "./outgoingMessages.ts";
import {
  type ConnectionState,
  type IceCandidateInit,
  Peer,
  type PeerListener,
  type SessionDescription,
  type Traffic,
} from "./peer.ts";
import type { CandidatePolicy } from "./remoteCandidates.ts";
import type { SharedPorts } from "./sharedPorts.ts";

export { RECEIVER } from "./mediaPort.ts";
export type { ConnectionState, IceCandidateInit, SessionDescription, Traffic } from "./peer.ts";

export interface Answer {
  sdp: string;
  type: "answer";
  pc_id: string;
}

export interface ConnectionEvents {
  [event: string]: unknown[];
  /** The peer connection's state changed (only `connected` is held back until `connect()`). */
  stateChange: [state: ConnectionState];
  connected: [];
  /** The client is gone for good (closed by either side, failed, or timed out). Emitted once. */
  closed: [];
  /**
   * The connection failed instead of being hung up: ICE failed (werift's state `failed`), the client vanished, or it
   * never connected within `limits.connectTimeoutSecs`. `closed` follows.
   */
  failed: [];
  /** The peer connection is being replaced by `restart_pc`. */
  disconnected: [];
  appMessage: [message: unknown];
  /** The client's track on receiver `receiverIndex` started (its first packet arrived). */
  trackStarted: [receiverIndex: MediaSlot, kind: "audio" | "video"];
  /** The client's track on receiver `receiverIndex` ended: the client stopped that transceiver. */
  trackEnded: [receiverIndex: MediaSlot, kind: "audio" | "video"];
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
  /**
   * Outgoing messages larger than this many bytes are dropped with a warning. ESP32 devices (libpeer) read one
   * unfragmented SCTP chunk per message, so their sessions set it to what fits in one.
   */
  maxMessageBytes?: number;
  /** Transforms the answer before it is returned (ESP32 SDP rules). */
  shapeAnswer?: (sdp: string) => string;
  /** Ports shared by every session (single-port UDP, ICE over TCP) instead of sockets per candidate. */
  sharedPorts?: SharedPorts;
  /** Which client candidates are used (remoteCandidates.ts). */
  candidatePolicy: CandidatePolicy;
  /** Most distinct candidates a client may give per peer connection (offers and trickle together). */
  maxRemoteCandidates: number;
}

const RENEGOTIATION_QUIET_MS = 2000;
const BUFFERED_APP_MESSAGES = 50;
let connectionCounter = 0;

export class SmallWebRTCConnection extends TypedEmitter<ConnectionEvents> {
  /** The client's media: RTP in and out, keyframe requests and codecs, across restarts. */
  readonly media: MediaPort;
  readonly #media = new ConnectionMedia();
  readonly #options: ConnectionOptions;
  readonly #outgoing: OutgoingMessages;
  readonly #trackEnabled = new Map<number, boolean>();
  #peer?: Peer;
  #pcId = "";
  #answer?: Answer;
  #state: ConnectionState = "new";
  #logger: Logger;
  #connectInvoked = false;
  #closed = false;
  #inboundBacklog: unknown[] = [];
  #renegotiatingUntil = 0;
  /** Traffic of peer connections replaced by restart_pc. */
  #pastTraffic: Traffic = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };

  private constructor(options: ConnectionOptions) {
    const logger = options.logger ?? silentLogger;
    super(logger);
    this.media = this.#media;
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
      await connection.#openPeer(offer);
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

  get logger(): Logger {
    return this.#logger;
  }

  /** Whether the client says receiver `index` is enabled (`trackStatus`); true until told otherwise. */
  isTrackEnabled(index: number): boolean {
    return this.#trackEnabled.get(index) ?? true;
  }

  /**
   * Alive means connected and, for clients that send `ping` keep-alives, a ping within `liveness.pingTimeoutMs`
   * (Pipecat's `is_connected`). Clients without keep-alives (ESP32, iOS, Android) rely on ICE consent.
   */
  isAlive(now: number = performance.now()): boolean {
    return this.#state === "connected" && (this.#peer?.isAlive(now) ?? false);
  }

  get lastPingAt(): number | undefined {
    return this.#peer?.lastPingAt;
  }

  /** Remote candidates the current peer connection is checking, as "address:port". */
  get remoteCandidates(): string[] {
    return this.#peer?.remoteCandidates ?? [];
  }

  /** Packets and bytes on the selected candidate pairs, over the connection's whole life (restarts included). */
  get traffic(): Traffic {
    const current = this.#peer?.traffic;
    const past = this.#pastTraffic;
    if (!current) return { ...past };
    return {
      packetsIn: past.packetsIn + current.packetsIn,
      packetsOut: past.packetsOut + current.packetsOut,
      bytesIn: past.bytesIn + current.bytesIn,
      bytesOut: past.bytesOut + current.bytesOut,
    };
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
    if (this.#closed || !this.#peer) throw new SignallingError("peer-not-found", "the peer connection is closed");
    this.#renegotiatingUntil = performance.now() + RENEGOTIATION_QUIET_MS;
    if (restartPc) {
      this.emit("disconnected");
      const previous = this.#pcId;
      await this.#closePeer();
      await this.#openPeer(offer);
      this.emit("pcIdChanged", this.#pcId, previous);
    } else {
      this.#answer = this.#makeAnswer(await this.#peer.answer(offer));
    }
    this.#media.negotiated();
    return this.#answer!;
  }

  /**
   * Applies a trickled client candidate. An empty candidate string is an end-of-candidates marker (RFC 8840).
   * Refused candidates (see remoteCandidates.ts) are skipped; more than the limit is an error.
   */
  async addIceCandidate(candidate: IceCandidateInit): Promise<void> {
    await this.#peer?.addIceCandidate(candidate);
  }

  /** Sends an application message (JSON). Returns false when it had to be dropped. */
  sendAppMessage(message: unknown): boolean {
    if (this.#closed) return false;
    const text = JSON.stringify(message);
    const limit = this.#options.maxMessageBytes;
    if (limit !== undefined && Buffer.byteLength(text) > limit) {
      this.#logger.warn("outgoing message dropped: larger than this client can receive", {
        bytes: Buffer.byteLength(text),
        limit,
      });
      return false;
    }
    const result = this.#outgoing.send(text);
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
    this.#outgoing.discard();
    await this.#closePeer();
    this.#media.clear();
    this.#setState("closed");
    this.emit("closed");
    this.removeAllListeners();
  }

  async #openPeer(offer: SessionDescription): Promise<void> {
    this.#pcId = `SmallWebRTCConnection#${connectionCounter++}-${randomUUID().replaceAll("-", "")}`;
    this.#logger = (this.#options.logger ?? silentLogger).child({ pcId: this.#pcId });
    this.#setState("new");
    const options = { ...this.#options, peerConfig: this.#options.peerConfig(), logger: this.#logger };
    const peer: Peer = new Peer(options, this.#listenTo(() => this.#peer === peer), this.#media);
    this.#peer = peer;
    this.#media.bind(peer);
    this.#answer = this.#makeAnswer(await peer.answer(offer));
  }

  async #closePeer(): Promise<void> {
    const peer = this.#peer;
    if (!peer) return;
    this.#pastTraffic = this.traffic;
    this.#peer = undefined;
    this.#media.bind(undefined);
    this.#outgoing.detach();
    await peer.close();
  }

  #makeAnswer(sdp: string): Answer {
    return { sdp: this.#options.shapeAnswer?.(sdp) ?? sdp, type: "answer", pc_id: this.#pcId };
  }

  /** What a peer reports, heard only while it is the current one (a replaced or closed peer is ignored). */
  #listenTo(isCurrent: () => boolean): PeerListener {
    const current = () => !this.#closed && isCurrent();
    return {
      state: (state) => {
        if (!current()) return;
        this.#setState(state);
        if (state === "connected" && this.#connectInvoked) this.emit("connected");
      },
      channelOpen: (channel) => {
        if (current()) this.#outgoing.attach(channel);
      },
      noChannel: () => {
        if (!current()) return;
        this.#logger.debug("no data channel opened; outgoing messages are discarded from now on");
        this.#outgoing.discard();
      },
      inbound: (message) => {
        if (current()) this.#onInbound(message);
      },
      trackStarted: (slot, kind) => {
        if (current()) this.emit("trackStarted", slot, kind);
      },
      trackEnded: (slot, kind) => {
        if (current()) this.emit("trackEnded", slot, kind);
      },
      gone: (how) => {
        if (!current()) return;
        if (how === "failed") this.emit("failed");
        void this.close();
      },
    };
  }

  #onInbound(inbound: InboundMessage): void {
    switch (inbound.kind) {
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

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit("stateChange", state);
  }

  async #waitForFlush(maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (this.#outgoing.queued > 0 && performance.now() < deadline) await sleep(10);
    await sleep(Math.min(50, maxMs));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
