// Turns pc.getStats() into the numbers the stats panel shows. Rates and loss are changes between two reports, so the
// sampler keeps the previous counters, per peer: a new peer (an ICE restart) starts from zero.

export interface StatsSample {
  /** Round trip of the selected candidate pair's STUN checks (RTCP's when there are none yet). */
  rttMs: number | null;
  /** Inbound audio jitter, as the receiver estimates it (RFC 3550 6.4.1). */
  jitterMs: number | null;
  /** Inbound packets lost since the previous sample, all streams. */
  lossPercent: number | null;
  /** Everything on the wire, both ways: media, RTCP, data channel. */
  inKbps: number | null;
  outKbps: number | null;
  /** What this page sends, e.g. "opus", or null when it sends no such media. */
  audioCodec: string | null;
  videoCodec: string | null;
}

// Stats the DOM typings leave out; only the fields read here.
interface RemoteInboundRtpStats extends RTCStats {
  roundTripTime?: number;
}
interface CodecStats extends RTCStats {
  mimeType: string;
}

interface Counters {
  atMs: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsLost: number;
}

export class StatsSampler {
  private peer: RTCPeerConnection | null = null;
  private previous: Counters | null = null;

  async sample(pc: RTCPeerConnection): Promise<StatsSample> {
    const report = await pc.getStats();
    const atMs = performance.now();
    if (pc !== this.peer) {
      this.peer = pc;
      this.previous = null;
    }
    const stats = [...report.values()] as RTCStats[];
    const pair = selectedPair(report, stats);
    const inbound = ofType<RTCInboundRtpStreamStats>(stats, "inbound-rtp");
    const now: Counters = {
      atMs,
      bytesIn: pair?.bytesReceived ?? 0,
      bytesOut: pair?.bytesSent ?? 0,
      packetsIn: sum(inbound.map((s) => s.packetsReceived)),
      packetsLost: sum(inbound.map((s) => s.packetsLost)),
    };
    const before = this.previous;
    this.previous = now;

    const seconds = before ? (now.atMs - before.atMs) / 1000 : 0;
    const kbps = (bytes: number) => (seconds > 0 ? (bytes * 8) / seconds / 1000 : null);
    const lost = before ? now.packetsLost - before.packetsLost : 0;
    const expected = before ? lost + now.packetsIn - before.packetsIn : 0;
    const remoteRtt = ofType<RemoteInboundRtpStats>(stats, "remote-inbound-rtp")
      .find((s) => s.roundTripTime !== undefined)?.roundTripTime;
    const rtt = pair?.currentRoundTripTime ?? remoteRtt;
    const jitter = inbound.find((s) => s.kind === "audio")?.jitter;
    return {
      rttMs: rtt === undefined ? null : rtt * 1000,
      jitterMs: jitter === undefined ? null : jitter * 1000,
      lossPercent: expected > 0 ? (100 * Math.max(0, lost)) / expected : null,
      inKbps: before ? kbps(now.bytesIn - before.bytesIn) : null,
      outKbps: before ? kbps(now.bytesOut - before.bytesOut) : null,
      audioCodec: sentCodec(report, stats, "audio"),
      videoCodec: sentCodec(report, stats, "video"),
    };
  }
}

function selectedPair(report: RTCStatsReport, stats: RTCStats[]): RTCIceCandidatePairStats | undefined {
  const id = ofType<RTCTransportStats>(stats, "transport").find((t) => t.selectedCandidatePairId)?.selectedCandidatePairId;
  if (id) return report.get(id) as RTCIceCandidatePairStats | undefined;
  // Firefox has no transport stats; it flags the pair instead.
  return ofType<RTCIceCandidatePairStats & { selected?: boolean }>(stats, "candidate-pair").find((p) => p.selected);
}

function sentCodec(report: RTCStatsReport, stats: RTCStats[], kind: "audio" | "video"): string | null {
  const sending = ofType<RTCOutboundRtpStreamStats>(stats, "outbound-rtp")
    .find((s) => s.kind === kind && s.codecId && (s.packetsSent ?? 0) > 0);
  const codec = sending?.codecId ? (report.get(sending.codecId) as CodecStats | undefined) : undefined;
  return codec?.mimeType.split("/")[1] ?? null;
}

function ofType<T extends RTCStats>(stats: RTCStats[], type: RTCStatsType): T[] {
  return stats.filter((s) => s.type === type) as T[];
}

function sum(values: (number | undefined)[]): number {
  return values.reduce<number>((total, value) => total + (value ?? 0), 0);
}
