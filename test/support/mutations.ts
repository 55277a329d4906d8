/**
 * Seeded mutation of requests and datagrams for the bad-input suite. Every generator draws from one PRNG, so a
 * failing run can be replayed exactly from its seed.
 */
import { seededRandom } from "./virtualClock.ts";

export class Mutator {
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = seededRandom(seed);
  }

  int(max: number): number {
    return Math.floor(this.#random() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.#random() < p;
  }

  bytes(length: number): Uint8Array {
    return Uint8Array.from({ length }, () => this.int(256));
  }

  /** A string of odd characters: controls, quotes, unicode, very long runs. */
  junkText(maxLength = 64): string {
    const alphabet = ["\u0000", "\r\n", "\"", "\\", "{", "}", "é", "\u202e", "ping", "a=", "m=", " ", "%", "\ud800"];
    return Array.from({ length: this.int(maxLength) }, () => this.pick(alphabet)).join("");
  }

  /** An SDP with line-level damage: dropped, duplicated, truncated, reordered or corrupted lines. */
  sdp(base: string): string {
    let lines = base.split("\r\n");
    for (let n = 1 + this.int(4); n > 0; n--) {
      const i = this.int(lines.length);
      switch (this.int(7)) {
        case 0:
          lines.splice(i, 1);
          break;
        case 1:
          lines.splice(i, 0, lines[i]);
          break;
        case 2:
          lines[i] = lines[i]?.slice(0, this.int(lines[i].length + 1)) ?? "";
          break;
        case 3:
          lines[i] = `${lines[i] ?? ""}${this.junkText(20)}`;
          break;
        case 4:
          lines = [...lines.slice(i), ...lines.slice(0, i)];
          break;
        case 5:
          lines[i] = this.pick(["m=audio 0 RTP/AVP 0", "a=candidate:x", "a=fingerprint:sha-256 ZZ", "a=ice-ufrag:", "c=IN IP4 224.0.0.1"]);
          break;
        default:
          lines[i] = "a=candidate:1 1 udp 2130706431 127.0.0.1 " + this.int(70000) + " typ host";
      }
    }
    return lines.join(this.chance(0.2) ? "\n" : "\r\n");
  }

  /** Any JSON-ish value, including the wrong types for every field. */
  value(depth = 0): unknown {
    switch (this.int(depth > 2 ? 6 : 8)) {
      case 0:
        return null;
      case 1:
        return this.int(2) === 0;
      case 2:
        return this.pick([0, -1, 1e308, NaN, 2 ** 53, 3.5]);
      case 3:
        return this.junkText();
      case 4:
        return "x".repeat(this.pick([0, 1, 1000, 70_000]));
      case 5:
        return undefined;
      case 6:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.junkText(8), this.value(depth + 1)]));
    }
  }

  /** A datagram aimed at a WebRTC port: STUN-, DTLS- or RTP-shaped garbage, or plain noise (RFC 7983 ranges). */
  datagram(): Uint8Array {
    const size = this.pick([1, 4, 20, 24, 100, 600, 1400]);
    const packet = this.bytes(size);
    switch (this.int(4)) {
      case 0: // STUN: type 0x0001 binding request with the magic cookie
        packet.set([0x00, 0x01, (size - 20) >> 8, (size - 20) & 0xff, 0x21, 0x12, 0xa4, 0x42].slice(0, size));
        break;
      case 1: // DTLS record: content type 20-25, version 0xfefd
        packet.set([20 + this.int(6), 0xfe, 0xfd].slice(0, size));
        break;
      case 2: // RTP/RTCP: version 2
        packet[0] = 0x80 | this.int(64);
        break;
    }
    return packet;
  }
}
