/**
 * A small reorder buffer for incoming audio RTP. Packets that arrive in order pass straight through, so the normal
 * case adds no latency. After a gap, later packets are held for up to `maxWaitMs` in case the missing ones are only
 * late; then the gap is declared lost so the decoder can conceal it (PLC, or FEC from the packet after the gap).
 * Duplicates and packets older than what was already released are dropped. Memory is bounded by `maxPackets`.
 */

export interface SequencedPacket {
  /** RTP sequence number (16 bits, wraps). */
  sequenceNumber: number;
  timestamp: number;
  payload: Uint8Array;
}

export type JitterEvent<P extends SequencedPacket> =
  | { kind: "packet"; packet: P }
  /** `count` packets before `next` never arrived. */
  | { kind: "lost"; count: number; next: P };

export interface JitterBufferOptions {
  maxWaitMs?: number;
  maxPackets?: number;
}

export interface JitterStats {
  received: number;
  duplicates: number;
  late: number;
  lost: number;
  reordered: number;
}

/** A jump this large is a new stream (a sender restart), not loss. */
const RESET_DISTANCE = 1000;

export class JitterBuffer<P extends SequencedPacket = SequencedPacket> {
  readonly stats: JitterStats = { received: 0, duplicates: 0, late: 0, lost: 0, reordered: 0 };
  readonly #maxWaitMs: number;
  readonly #maxPackets: number;
  /** Extended (unwrapped) sequence number of the next packet to release. */
  #expected?: number;
  #held = new Map<number, { packet: P; arrivedAt: number }>();

  constructor(options: JitterBufferOptions = {}) {
    this.#maxWaitMs = options.maxWaitMs ?? 60;
    this.#maxPackets = options.maxPackets ?? 50;
  }

  get held(): number {
    return this.#held.size;
  }

  /** Adds a packet and returns everything that is now ready, in order. */
  push(packet: P, now: number): JitterEvent<P>[] {
    this.stats.received++;
    if (this.#expected === undefined) this.#expected = packet.sequenceNumber;
    const seq = this.#unwrap(packet.sequenceNumber);
    if (Math.abs(seq - this.#expected) > RESET_DISTANCE) {
      this.#held.clear();
      this.#expected = seq;
    }
    if (seq < this.#expected) {
      this.stats.late++;
      return [];
    }
    if (this.#held.has(seq)) {
      this.stats.duplicates++;
      return [];
    }
    if (seq !== this.#expected) this.stats.reordered++;
    this.#held.set(seq, { packet, arrivedAt: now });
    return this.#release(now);
  }

  /** Releases held packets whose gap has waited too long; call when no packet arrives for a while. */
  poll(now: number): JitterEvent<P>[] {
    return this.#release(now);
  }

  reset(): void {
    this.#held.clear();
    this.#expected = undefined;
  }

  #release(now: number): JitterEvent<P>[] {
    const events: JitterEvent<P>[] = [];
    for (;;) {
      this.#drainContiguous(events);
      if (this.#held.size === 0) return events;
      // The gap has been waited on since the oldest packet behind it arrived.
      let oldest = Infinity;
      for (const { arrivedAt } of this.#held.values()) oldest = Math.min(oldest, arrivedAt);
      if (now - oldest < this.#maxWaitMs && this.#held.size < this.#maxPackets) return events;
      const nextSeq = Math.min(...this.#held.keys());
      const count = nextSeq - this.#expected!;
      this.stats.lost += count;
      events.push({ kind: "lost", count, next: this.#held.get(nextSeq)!.packet });
      this.#expected = nextSeq;
    }
  }

  #drainContiguous(events: JitterEvent<P>[]): void {
    for (let held = this.#held.get(this.#expected!); held; held = this.#held.get(this.#expected!)) {
      this.#held.delete(this.#expected!);
      this.#expected! += 1;
      events.push({ kind: "packet", packet: held.packet });
    }
  }

  /** Maps a 16-bit sequence number to the extended number closest to the one expected. */
  #unwrap(sequenceNumber: number): number {
    const expected = this.#expected!;
    const base = expected - (expected & 0xffff);
    let seq = base + sequenceNumber;
    if (seq - expected > 0x8000) seq -= 0x10000;
    else if (expected - seq > 0x8000) seq += 0x10000;
    return seq;
  }
}
