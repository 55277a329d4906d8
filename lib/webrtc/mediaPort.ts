/**
 * The narrow port through which the transport and the media code reach a connection's media: RTP in, RTP out,
 * keyframe requests both ways, and the negotiated codecs. Nothing here is a werift type, so werift stays behind
 * lib/webrtc.
 *
 * The port belongs to the connection and outlives its peer connections: listeners registered once keep working
 * across a `restart_pc`, which replaces the peer behind the port, and `onNegotiated` says when codecs may have
 * changed. Slots are the receiver positions (docs/protocol.md §2.2): 0 microphone, 1 camera, 2 screen.
 */

/** Receiver positions shared by every Pipecat client. */
export const RECEIVER = { microphone: 0, camera: 1, screen: 2 } as const;
export type MediaSlot = (typeof RECEIVER)[keyof typeof RECEIVER];
export const MEDIA_SLOTS: readonly MediaSlot[] = [RECEIVER.microphone, RECEIVER.camera, RECEIVER.screen];

/** A received RTP packet (werift makes a new one per datagram, so listeners may keep its payload). */
export interface IncomingRtp {
  readonly header: {
    readonly payloadType: number;
    readonly sequenceNumber: number;
    readonly timestamp: number;
    readonly marker: boolean;
  };
  readonly payload: Uint8Array;
}

/** An RTP packet to send; the payload type and SSRC come from the negotiation. */
export interface OutgoingRtp {
  payload: Uint8Array;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

export interface NegotiatedCodec {
  /** e.g. "audio/opus", "video/VP8". */
  mimeType: string;
  clockRate: number;
  channels?: number;
  payloadType: number;
}

export interface MediaPort {
  /** Codecs the client may send on `slot`, as negotiated; empty before negotiation or for an unused slot. */
  receiveCodecs(slot: MediaSlot): NegotiatedCodec[];
  /** The codec bot media goes out with on `slot`, or undefined when nothing can be sent there. */
  sendCodec(slot: MediaSlot): NegotiatedCodec | undefined;
  /** Every RTP packet the client sends on `slot`. Returns the unsubscribe function. */
  onRtp(slot: MediaSlot, listener: (rtp: IncomingRtp) => void): () => void;
  /** Sends bot media on `slot` (dropped when the slot cannot send or the connection is closed). */
  sendRtp(slot: MediaSlot, packet: OutgoingRtp): void;
  /** Asks the client for a keyframe of the video it sends on `slot` (RTCP PLI). */
  requestKeyframe(slot: MediaSlot): void;
  /** The client asks for a keyframe of the bot video on `slot` (it received an RTCP PLI). */
  onKeyframeRequest(slot: MediaSlot, listener: () => void): () => void;
  /** A new peer connection (`restart_pc`) or a re-offer was negotiated: codecs may have changed. */
  onNegotiated(listener: () => void): () => void;
}

/** What the current peer connection does for the port. */
export interface PeerMedia {
  receiveCodecs(slot: MediaSlot): NegotiatedCodec[];
  sendCodec(slot: MediaSlot): NegotiatedCodec | undefined;
  sendRtp(slot: MediaSlot, packet: OutgoingRtp): void;
  requestKeyframe(slot: MediaSlot): void;
}

/**
 * The port's listeners, and the peer they are currently served by. The connection binds each new peer; the peer
 * delivers what it receives through `deliverRtp` and `deliverKeyframeRequest`.
 */
export class ConnectionMedia implements MediaPort {
  readonly #rtpListeners = MEDIA_SLOTS.map(() => new Set<(rtp: IncomingRtp) => void>());
  readonly #keyframeListeners = MEDIA_SLOTS.map(() => new Set<() => void>());
  readonly #negotiatedListeners = new Set<() => void>();
  #peer?: PeerMedia;

  /** Serves the port from `peer` from now on (undefined: the connection is closed). */
  bind(peer: PeerMedia | undefined): void {
    this.#peer = peer;
  }

  /** Tells listeners that codecs may have changed. */
  negotiated(): void {
    for (const listener of [...this.#negotiatedListeners]) listener();
  }

  deliverRtp(slot: MediaSlot, rtp: IncomingRtp): void {
    for (const listener of this.#rtpListeners[slot]) listener(rtp);
  }

  deliverKeyframeRequest(slot: MediaSlot): void {
    for (const listener of this.#keyframeListeners[slot]) listener();
  }

  /** Drops every listener: the connection is gone. */
  clear(): void {
    this.#peer = undefined;
    for (const set of [...this.#rtpListeners, ...this.#keyframeListeners, this.#negotiatedListeners]) set.clear();
  }

  /** Listeners registered, by kind: what a connection holds for its media, for leak checks. */
  get listenerCounts(): { rtp: number; keyframeRequest: number; negotiated: number } {
    const total = (sets: Set<unknown>[]) => sets.reduce((sum, set) => sum + set.size, 0);
    return {
      rtp: total(this.#rtpListeners),
      keyframeRequest: total(this.#keyframeListeners),
      negotiated: this.#negotiatedListeners.size,
    };
  }

  receiveCodecs(slot: MediaSlot): NegotiatedCodec[] {
    return this.#peer?.receiveCodecs(slot) ?? [];
  }

  sendCodec(slot: MediaSlot): NegotiatedCodec | undefined {
    return this.#peer?.sendCodec(slot);
  }

  onRtp(slot: MediaSlot, listener: (rtp: IncomingRtp) => void): () => void {
    return subscribe(this.#rtpListeners[slot], listener);
  }

  sendRtp(slot: MediaSlot, packet: OutgoingRtp): void {
    this.#peer?.sendRtp(slot, packet);
  }

  requestKeyframe(slot: MediaSlot): void {
    this.#peer?.requestKeyframe(slot);
  }

  onKeyframeRequest(slot: MediaSlot, listener: () => void): () => void {
    return subscribe(this.#keyframeListeners[slot], listener);
  }

  onNegotiated(listener: () => void): () => void {
    return subscribe(this.#negotiatedListeners, listener);
  }
}

function subscribe<T>(set: Set<T>, listener: T): () => void {
  set.add(listener);
  return () => set.delete(listener);
}
