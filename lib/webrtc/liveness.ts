/**
 * Is the client still there? A client that vanishes (crash, power loss, Wi-Fi gone) sends nothing more: no
 * keep-alive pings, no media, no answers to ICE consent checks. Waiting for ICE consent to expire (werift: 30 s) is
 * too slow for a server that holds a bot per client, so two faster rules apply:
 * - a client that sends `ping` keep-alives (the JS client, every second) is gone once its pings *and* all its other
 *   traffic have stopped for `pingTimeoutMs`; traffic alone keeps it alive, because a throttled background tab may
 *   slow its pings;
 * - any client is gone once nothing at all (media, data, consent responses every ~5 s) arrived for
 *   `silenceTimeoutMs`.
 */

export interface LivenessOptions {
  pingTimeoutMs: number;
  silenceTimeoutMs: number;
}

export interface LivenessSample {
  now: number;
  /** When the last `ping` arrived; undefined for clients that never sent one. */
  lastPingAt?: number;
  /** A counter of everything received from the client (packets and ICE responses); only its changes matter. */
  inboundCount: number;
}

export class LivenessTracker {
  readonly #options: LivenessOptions;
  #lastCount = -1;
  #lastTrafficAt = 0;

  constructor(options: LivenessOptions) {
    this.#options = options;
  }

  /** Feeds one observation; returns false once the client must be considered gone. */
  isAlive(sample: LivenessSample): boolean {
    if (sample.inboundCount !== this.#lastCount) {
      this.#lastCount = sample.inboundCount;
      this.#lastTrafficAt = sample.now;
    }
    const silentFor = sample.now - this.#lastTrafficAt;
    if (silentFor >= this.#options.silenceTimeoutMs) return false;
    if (sample.lastPingAt === undefined) return true;
    return sample.now - sample.lastPingAt < this.#options.pingTimeoutMs || silentFor < this.#options.pingTimeoutMs;
  }
}
