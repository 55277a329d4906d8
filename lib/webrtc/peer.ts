/**
 * One werift peer connection and everything that lives and dies with it: its subscriptions, the client's data
 * channel, media tracks and their SSRCs, the remote-candidate budget, keep-alive pings, and the connect, data-channel
 * and liveness timers. It is created for the client's first offer (or a `restart_pc`) and released as a unit by `close()`,
 * so a `restart_pc` (a new Peer) cannot inherit stale state, and a re-offer (the same Peer) keeps all of it.
 *
 * The connection façade (connection.ts) owns the Peer and hears from it through `PeerListener`.
 */
import {
  type PeerConfig,
  PictureLossIndication,
  type RTCDataChannel,
  RTCPeerConnection,
  type RTCRtpTransceiver,
  RtcpPayloadSpecificFeedback,
  RtpHeader,
  RtpPacket,
} from "werift";
import type { Logger } from "../log/logger.ts";
import { type InboundMessage, parseInbound } from "./dataChannelProtocol.ts";
import { SignallingError } from "./errors.ts";
import { LivenessTracker, type LivenessOptions } from "./liveness.ts";
import {
  type ConnectionMedia,
  MEDIA_SLOTS,
  type MediaSlot,
  type NegotiatedCodec,
  type OutgoingRtp,
  type PeerMedia,
} from "./mediaPort.ts";
import { type CandidatePolicy, candidateRefusal, filterOfferCandidates } from "./remoteCandidates.ts";
import { assignUfrags, type SharedPorts, withSharedPorts } from "./sharedPorts.ts";

export type ConnectionState = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

export interface SessionDescription {
  sdp: string;
  type: "offer" | "answer";
}

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** Packets and bytes on the selected candidate pairs. */
export interface Traffic {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface PeerOptions {
  /** werift options for this peer connection (TURN credentials are minted per peer). */
  peerConfig: Partial<PeerConfig>;
  logger: Logger;
  /** Close when not connected this long after the offer (or after losing the connection). */
  connectTimeoutMs: number;
  liveness: LivenessOptions;
  /** After connecting, how long to wait for the client's data channel. */
  dataChannelTimeoutMs: number;
  /** Ports shared by every session (single-port UDP, ICE over TCP). */
  sharedPorts?: SharedPorts;
  candidatePolicy: CandidatePolicy;
  /** Most distinct candidates the client may give this peer connection (offers and trickle together). */
  maxRemoteCandidates: number;
}

export interface PeerListener {
  /** werift's connection state changed. */
  state(state: ConnectionState): void;
  /** The client's data channel is open (a later one replaces an earlier one). */
  channelOpen(channel: RTCDataChannel): void;
  /** Connected, but no data channel opened within `dataChannelTimeoutMs`. */
  noChannel(): void;
  /** A data-channel message other than a keep-alive ping. */
  inbound(message: InboundMessage): void;
  /** The first packet of the client's track on `slot` arrived. */
  trackStarted(slot: MediaSlot, kind: "audio" | "video"): void;
  /** The client's track on `slot` ended: the client stopped its transceiver (werift ended the track). */
  trackEnded(slot: MediaSlot, kind: "audio" | "video"): void;
  /**
   * The client is gone for good (the peer logged why): close. `failed` when it did not hang up: ICE failed, it
   * vanished, or it never connected in time.
   */
  gone(how: "hungUp" | "failed"): void;
}

/** A gatherer that never reports completion must not hold the answer forever. */
const MAX_GATHERING_MS = 10_000;
const LIVENESS_CHECK_MS = 500;

export class Peer implements PeerMedia {
  readonly #pc: RTCPeerConnection;
  readonly #options: PeerOptions;
  readonly #listener: PeerListener;
  readonly #media: ConnectionMedia;
  readonly #logger: Logger;
  readonly #unsubscribers: (() => void)[] = [];
  readonly #watched = new WeakSet<object>();
  readonly #remoteCandidates = new Set<string>();
  /** The SSRC of the client's stream on each slot, for keyframe requests. */
  readonly #ssrcs: (number | undefined)[] = [];
  readonly #trackUnsubscribers: ((() => void) | undefined)[] = [];
  #lastPingAt?: number;
  #connectTimer?: ReturnType<typeof setTimeout>;
  #dataChannelTimer?: ReturnType<typeof setTimeout>;
  #livenessTimer?: ReturnType<typeof setInterval>;
  #channelOpen = false;
  #closed = false;
  /** One handler for every packet's send, not a closure per packet. */
  readonly #sendFailed = (error: unknown) => this.#logger.debug("RTP send failed", { error });

  /** A new peer connection; `answer()` applies the client's offer. */
  constructor(options: PeerOptions, listener: PeerListener, media: ConnectionMedia) {
    this.#options = options;
    this.#listener = listener;
    this.#media = media;
    this.#logger = options.logger;
    this.#pc = new RTCPeerConnection(options.peerConfig);
    const pc = this.#pc;
    const subscriptions = [
      pc.connectionStateChange.subscribe((state) => this.#onState(state)),
      pc.onDataChannel.subscribe((channel) => this.#adoptChannel(channel)),
      pc.onTransceiverAdded.subscribe((transceiver) => this.#watchTransceiver(transceiver)),
      pc.onRemoteTransceiverAdded.subscribe((transceiver) => this.#watchTransceiver(transceiver)),
    ];
    this.#unsubscribers.push(() => subscriptions.forEach((s) => s.unSubscribe()));
    this.#armConnectTimer();
  }

  /** Applies an offer (the first one, or a re-offer on this peer connection) and returns the answer's SDP. */
  async answer(offer: SessionDescription): Promise<string> {
    this.#countCandidates(offer.sdp.split(/\r?\n/).filter((line) => line.startsWith("a=candidate:")));
    const pc = this.#pc;
    const { sharedPorts = {}, candidatePolicy } = this.#options;
    // The offer is the only input here, so anything werift cannot negotiate from it is the offer's fault: a 400 for
    // the client, never a 500 (the fuzzer found SDPs that pass setRemoteDescription and fail in createAnswer).
    await withSharedPorts(sharedPorts, async () => {
      try {
        await pc.setRemoteDescription({ type: offer.type, sdp: filterOfferCandidates(offer.sdp, candidatePolicy) });
        // Without local tracks werift would answer recvonly; bot media goes out on the microphone and camera
        // transceivers, and the screen slot only ever receives (docs/protocol.md §2.2).
        pc.getTransceivers().forEach((transceiver, index) => {
          transceiver.setDirection(index < 2 ? "sendrecv" : "recvonly");
        });
        await pc.setLocalDescription(await pc.createAnswer());
      } catch (error) {
        throw new SignallingError("invalid-offer", `the offer could not be negotiated: ${(error as Error).message}`);
      }
      await waitForGathering(pc);
    });
    assignUfrags(sharedPorts, this.#pc.iceTransports);
    return pc.localDescription!.sdp;
  }

  /**
   * Applies a trickled client candidate. An empty candidate string is an end-of-candidates marker (RFC 8840).
   * Refused candidates (see remoteCandidates.ts) are skipped; more than the budget is an error.
   */
  async addIceCandidate(candidate: IceCandidateInit): Promise<void> {
    if (this.#closed) return;
    if (candidate.candidate !== "") this.#countCandidates([candidate.candidate]);
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

  /** Remote candidates ICE is checking, as "address:port". */
  get remoteCandidates(): string[] {
    return this.#pc.iceTransports.flatMap(({ connection }) => connection.remoteCandidates.map((c) => `${c.host}:${c.port}`));
  }

  /**
   * Connected and, for clients that send `ping` keep-alives, pinged within the keep-alive timeout (Pipecat's
   * `is_connected`). Clients without keep-alives (ESP32, iOS, Android) rely on ICE consent and liveness.ts.
   */
  isAlive(now: number): boolean {
    if (this.#pc.connectionState !== "connected" || this.#closed) return false;
    return this.#lastPingAt === undefined || now - this.#lastPingAt < this.#options.liveness.pingTimeoutMs;
  }

  get lastPingAt(): number | undefined {
    return this.#lastPingAt;
  }

  get traffic(): Traffic {
    const total = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
    for (const { connection } of this.#pc.iceTransports) {
      const pair = connection.nominated;
      if (!pair) continue;
      total.packetsIn += pair.packetsReceived;
      total.packetsOut += pair.packetsSent;
      total.bytesIn += pair.bytesReceived;
      total.bytesOut += pair.bytesSent;
    }
    return total;
  }

  receiveCodecs(slot: MediaSlot): NegotiatedCodec[] {
    return (this.#transceiver(slot)?.codecs ?? []).map(negotiatedCodec);
  }

  sendCodec(slot: MediaSlot): NegotiatedCodec | undefined {
    const codec = this.#transceiver(slot)?.sender.codec;
    return codec && negotiatedCodec(codec);
  }

  sendRtp(slot: MediaSlot, packet: OutgoingRtp): void {
    const transceiver = this.#transceiver(slot);
    if (!transceiver || this.#closed) return;
    const header = new RtpHeader({ sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, marker: packet.marker });
    const payload = Buffer.from(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength);
    transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch(this.#sendFailed);
  }

  requestKeyframe(slot: MediaSlot): void {
    const ssrc = this.#ssrcs[slot];
    const transceiver = this.#transceiver(slot);
    if (ssrc === undefined || !transceiver || this.#closed) return;
    transceiver.receiver.sendRtcpPLI(ssrc).catch(() => {});
  }

  /** Releases everything this peer connection held. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of [...this.#unsubscribers.splice(0), ...this.#trackUnsubscribers.splice(0)]) unsubscribe?.();
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#dataChannelTimer);
    clearInterval(this.#livenessTimer);
    try {
      await this.#pc.close();
    } catch (error) {
      this.#logger.debug("closing the peer connection failed", { error });
    }
  }

  #transceiver(slot: MediaSlot): RTCRtpTransceiver | undefined {
    return this.#pc.getTransceivers()[slot];
  }

  /** Candidates are counted once each, however often offers and trickle repeat them. */
  #countCandidates(lines: string[]): void {
    const keys = lines.map((line) => line.replace(/^a=/, "").trim());
    const added = new Set(keys.filter((key) => !this.#remoteCandidates.has(key)));
    const limit = this.#options.maxRemoteCandidates;
    if (this.#remoteCandidates.size + added.size > limit) {
      throw new SignallingError("invalid-candidate", `more than ${limit} candidates`);
    }
    for (const key of added) this.#remoteCandidates.add(key);
  }

  #watchTransceiver(transceiver: RTCRtpTransceiver): void {
    // werift reports a remote transceiver through both added-events; watch each one once.
    if (this.#watched.has(transceiver)) return;
    this.#watched.add(transceiver);
    // Positions are fixed once negotiated, but werift may announce a transceiver before listing it.
    const slotOf = () => this.#pc.getTransceivers().indexOf(transceiver) as MediaSlot;
    const onTrack = transceiver.onTrack.subscribe((track) => {
      const slot = slotOf();
      if (!MEDIA_SLOTS.includes(slot)) return;
      const onRtp = track.onReceiveRtp.subscribe((rtp) => {
        this.#ssrcs[slot] = rtp.header.ssrc;
        this.#media.deliverRtp(slot, rtp);
      });
      // A re-offer may bring a new track on the same slot: only the newest one is heard.
      this.#trackUnsubscribers[slot]?.();
      this.#trackUnsubscribers[slot] = () => onRtp.unSubscribe();
      const kind = track.kind === "video" ? "video" : "audio";
      this.#logger.debug("track started", { slot, kind });
      this.#listener.trackStarted(slot, kind);
      track.once("ended", () => {
        this.#logger.debug("track ended", { slot, kind });
        this.#listener.trackEnded(slot, kind);
      });
    });
    const onPli = transceiver.sender.onPictureLossIndication.subscribe(() => {
      const slot = slotOf();
      if (MEDIA_SLOTS.includes(slot)) this.#media.deliverKeyframeRequest(slot);
    });
    const onReceiverRtcp = transceiver.receiver.onRtcp.subscribe((rtcp) => this.#onReceiverRtcp(rtcp));
    this.#unsubscribers.push(() => {
      onTrack.unSubscribe();
      onPli.unSubscribe();
      onReceiverRtcp.unSubscribe();
    });
  }

  /**
   * werift routes feedback by its sender SSRC first and only then by the media SSRC it is about, so a PLI from a
   * client that signs feedback with one of its own stream's SSRCs (browsers do, and werift does) reaches our receiver
   * of that stream instead of our sender. Such a PLI is recognised here by the media SSRC it names.
   */
  #onReceiverRtcp(rtcp: { type: number; feedback?: unknown }): void {
    if (rtcp.type !== RtcpPayloadSpecificFeedback.type || !(rtcp.feedback instanceof PictureLossIndication)) return;
    const { mediaSsrc } = rtcp.feedback;
    for (const slot of MEDIA_SLOTS) {
      if (this.#transceiver(slot)?.sender.ssrc === mediaSsrc) this.#media.deliverKeyframeRequest(slot);
    }
  }

  #onState(state: ConnectionState): void {
    if (this.#closed) return;
    this.#logger.debug("peer connection state", { state });
    if (state === "connected") {
      // Which addresses the media flows between: behind NAT, the remote one is the client's router (prflx).
      this.#logger.debug("selected candidate pair", { pair: this.#selectedPairs() });
      clearTimeout(this.#connectTimer);
      this.#connectTimer = undefined;
      this.#armDataChannelTimer();
      this.#watchForClientClose();
      this.#watchLiveness();
    } else if (state !== "failed" && state !== "closed") {
      this.#armConnectTimer();
    }
    this.#listener.state(state);
    if (state === "failed" || state === "closed") {
      this.#gone(state === "failed" ? "failed" : "hungUp", "debug", `peer connection ${state}; closing`);
    }
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
    this.#listener.channelOpen(channel);
  }

  #onChannelMessage(data: string | Uint8Array): void {
    const inbound = parseInbound(data);
    if (inbound.kind === "ping") this.#lastPingAt = performance.now();
    else this.#listener.inbound(inbound);
  }

  /**
   * A client that closes its peer connection says so: SCTP ABORT (or SHUTDOWN) for the data channels, then a DTLS
   * close_notify. werift acts on neither for the connection state, so without this a cleanly departed client would
   * linger until liveness gives up. Like aiortc, the connection is over once all its DTLS transports are closed, or
   * once the client ended the SCTP association (werift misreads some encrypted close_notify alerts, e.g. OpenSSL's).
   */
  #watchForClientClose(): void {
    const pc = this.#pc;
    for (const dtls of pc.dtlsTransports) {
      if (this.#watched.has(dtls)) continue;
      this.#watched.add(dtls);
      const subscription = dtls.onStateChange.subscribe(() => {
        if (pc.dtlsTransports.every((t) => t.state === "closed" || t.state === "failed")) {
          this.#gone("hungUp", "debug", "client closed its peer connection", { reason: "DTLS close_notify" });
        }
      });
      this.#unsubscribers.push(() => subscription.unSubscribe());
    }
    const sctp = pc.sctpTransport?.sctp;
    if (sctp && !this.#watched.has(sctp)) {
      this.#watched.add(sctp);
      const subscription = sctp.stateChanged.closed.subscribe(() => {
        this.#gone("hungUp", "debug", "client closed its peer connection", { reason: "SCTP association ended" });
      });
      this.#unsubscribers.push(() => subscription.unSubscribe());
    }
  }

  /** Checks twice a second that the client is still there (liveness.ts). */
  #watchLiveness(): void {
    clearInterval(this.#livenessTimer);
    const tracker = new LivenessTracker(this.#options.liveness);
    this.#livenessTimer = setInterval(() => {
      const sample = { now: performance.now(), lastPingAt: this.#lastPingAt, inboundCount: this.#inboundCount() };
      if (!tracker.isAlive(sample)) {
        this.#gone("failed", "info", "client vanished; closing", { pinged: this.#lastPingAt !== undefined });
      }
    }, LIVENESS_CHECK_MS);
  }

  /** "udp 10.0.0.5:40000 host <-> 198.51.100.2:50000 prflx" for each ICE transport that has one. */
  #selectedPairs(): string {
    const end = ({ host, port, type }: { host: string; port: number; type: string }) => `${host}:${port} ${type}`;
    return this.#pc.iceTransports
      .flatMap(({ connection: { nominated: pair } }) =>
        pair ? [`${pair.localCandidate.transport} ${end(pair.localCandidate)} <-> ${end(pair.remoteCandidate)}`] : []
      )
      .join(", ");
  }

  /** Everything received on the selected candidate pairs: media, data and ICE consent responses. */
  #inboundCount(): number {
    let count = 0;
    for (const { connection } of this.#pc.iceTransports) {
      const pair = connection.nominated;
      if (pair) count += pair.packetsReceived + pair.responsesReceived;
    }
    return count;
  }

  #armConnectTimer(): void {
    if (this.#connectTimer) return;
    const timeoutMs = this.#options.connectTimeoutMs;
    this.#connectTimer = setTimeout(
      () => this.#gone("failed", "info", "closing: not connected in time", { timeoutMs }),
      timeoutMs,
    );
  }

  #armDataChannelTimer(): void {
    if (this.#dataChannelTimer || this.#channelOpen) return;
    this.#dataChannelTimer = setTimeout(() => this.#listener.noChannel(), this.#options.dataChannelTimeoutMs);
  }

  #gone(how: "hungUp" | "failed", level: "debug" | "info", why: string, fields?: Record<string, unknown>): void {
    if (this.#closed) return;
    this.#logger[level](why, fields);
    this.#listener.gone(how);
  }
}

function negotiatedCodec(codec: NegotiatedCodec): NegotiatedCodec {
  const { mimeType, clockRate, channels, payloadType } = codec;
  return { mimeType, clockRate, channels, payloadType };
}

/**
 * The answer must carry every candidate, so wait for gathering; werift bounds STUN and TURN waits itself, and the
 * cap here only guards against a gatherer that never reports completion (browsers also answer with what they have).
 */
async function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return;
  let subscription: { unSubscribe(): void } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    timer = setTimeout(resolve, MAX_GATHERING_MS);
    subscription = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === "complete") resolve();
    });
  });
  clearTimeout(timer);
  subscription?.unSubscribe();
}
