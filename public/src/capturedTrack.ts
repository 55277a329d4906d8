// One captured device track, plus the clone each peer connection sends.
//
// Why clones: SmallWebRTCTransport stops every sender track when it closes a peer, and on an ICE
// restart it puts tracks() on the new peer *before* closing the old one. Sharing one track would
// leave the new peer sending nothing; with a clone per peer, closing a peer only ends its own clone.

export class CapturedTrack {
  private readonly clones = new Map<RTCPeerConnection, MediaStreamTrack>();

  constructor(readonly source: MediaStreamTrack) {}

  get live(): boolean {
    return this.source.readyState === "live";
  }

  get enabled(): boolean {
    return this.source.enabled;
  }

  /** Muting applies to what every peer sends, and to the local preview (the source). */
  set enabled(enabled: boolean) {
    this.source.enabled = enabled;
    for (const clone of this.clones.values()) clone.enabled = enabled;
  }

  /** The track `pc` should send; the source itself when there is no peer yet (e.g. for a preview). */
  forPeer(pc: RTCPeerConnection | null | undefined): MediaStreamTrack {
    if (!pc) return this.source;
    this.forgetClosedPeers();
    let clone = this.clones.get(pc);
    if (!clone || clone.readyState === "ended") {
      clone = this.source.clone();
      clone.enabled = this.source.enabled;
      this.clones.set(pc, clone);
    }
    return clone;
  }

  /** Releases the device: it stays open while any clone is alive. */
  stop(): void {
    this.source.stop();
    for (const clone of this.clones.values()) clone.stop();
    this.clones.clear();
  }

  private forgetClosedPeers(): void {
    for (const [pc, clone] of this.clones) {
      if (pc.connectionState !== "closed") continue;
      clone.stop();
      this.clones.delete(pc);
    }
  }
}
