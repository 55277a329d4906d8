/**
 * Offers per client IP, as token buckets: each IP may burst up to `perMinute` offers and then gets one more every
 * 60/perMinute seconds. Over the limit, the reply is 429 with Retry-After. The table of IPs is bounded; buckets
 * that have refilled completely carry no information and are dropped first.
 */

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface RateLimiterOptions {
  perMinute: number;
  maxClients?: number;
  now?: () => number;
}

export class RateLimiter {
  readonly #perMinute: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    this.#perMinute = options.perMinute;
    this.#maxClients = options.maxClients ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Takes one token for `key`; returns 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    const now = this.#now();
    const bucket = this.#refilled(key, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.#perMinute));
  }

  #refilled(key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxClients) this.#evict(now);
      bucket = { tokens: this.#perMinute, updatedAt: now };
      this.#buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + ((now - bucket.updatedAt) / 60_000) * this.#perMinute);
    bucket.updatedAt = now;
    return bucket;
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      const full = bucket.tokens + ((now - bucket.updatedAt) / 60_000) * this.#perMinute >= this.#perMinute;
      if (full) this.#buckets.delete(key);
    }
    // Still full of active clients: the oldest entry goes, so the table stays bounded.
    if (this.#buckets.size >= this.#maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}
