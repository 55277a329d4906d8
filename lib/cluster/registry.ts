/**
 * The instances' shared registry in Redis. Each instance writes its own entry (its id, the URL its peers reach it
 * at, its load and session count, its version) and the keys of what it owns (its sessions' pc_ids, its live `/start`
 * records), every one with an expiry of three heartbeats, and rewrites them all on each heartbeat. An instance that
 * dies stops rewriting them, so within three heartbeats its entries are gone and requests for its sessions find no
 * owner. Everything it owns is kept here too, so that after Redis comes back (empty or not) one heartbeat restores it
 * (pending `/start` records, which it does not keep alive, are written again by the cluster then).
 */
import type { Logger } from "../log/logger.ts";
import type { RedisClient } from "./redisClient.ts";

/** Every key lives under this prefix, so the registry can share a Redis with other applications. */
export const KEY_PREFIX = "smallwebrtc:";
const INSTANCES_KEY = `${KEY_PREFIX}instances`;
const instanceKey = (id: string) => `${KEY_PREFIX}instance:${id}`;
/** Owned keys rewritten at once on a heartbeat; the Redis client allows 1000 commands awaiting replies. */
const OWNED_KEYS_PER_SLICE = 200;

export interface InstanceEntry {
  id: string;
  /** Where the other instances reach it (cluster.advertiseUrl). */
  url: string;
  load: number;
  sessions: number;
  version: string;
  /**
   * A random secret the instance marks the requests it forwards with. It lives only in Redis, never in an answer, so
   * a client cannot pass for an instance (and skip the rate limit a forwarded request is spared).
   */
  peerKey: string;
}

export interface RegistryOptions {
  redis: RedisClient;
  /** This instance's entry as it is now. */
  self: () => InstanceEntry;
  heartbeatSecs: number;
  logger: Logger;
}

export class Registry {
  readonly #options: RegistryOptions;
  readonly #owned = new Map<string, string>();
  #peers = new Map<string, InstanceEntry>();
  #timer?: ReturnType<typeof setInterval>;
  #beating?: Promise<void>;
  #stopped = false;

  constructor(options: RegistryOptions) {
    this.#options = options;
  }

  /** How long every entry lives without a heartbeat. */
  get ttlMs(): number {
    return this.#options.heartbeatSecs * 3000;
  }

  /** Writes the entries now, then on every heartbeat and as soon as Redis is back after a loss. */
  start(): Promise<void> {
    this.#timer = setInterval(() => void this.beat(), this.#options.heartbeatSecs * 1000);
    (this.#timer as { unref?: () => void }).unref?.();
    this.#options.redis.on("up", () => void this.beat());
    return this.beat();
  }

  /** Removes this instance and everything it owns from Redis (a clean shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating;
    const { id } = this.#options.self();
    await Promise.all([
      this.#command(["DEL", instanceKey(id), ...this.#owned.keys()]),
      this.#command(["SREM", INSTANCES_KEY, id]),
    ]);
    this.#owned.clear();
  }

  /** Writes `key` now and keeps it alive with the heartbeat until it is disowned. */
  async own(key: string, value: string): Promise<void> {
    this.#owned.set(key, value);
    await this.#command(["SET", key, value, "PX", this.ttlMs]);
  }

  owns(key: string): boolean {
    return this.#owned.has(key);
  }

  async disown(key: string): Promise<void> {
    if (!this.#owned.delete(key)) return;
    await this.#command(["DEL", key]);
  }

  /** Writes `key` once, to expire after `ttlMs` (not kept alive). */
  async put(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#command(["SET", key, value, "PX", Math.max(1, Math.round(ttlMs))]);
  }

  /** The value of `key`, or undefined when it is not set or Redis cannot be asked. */
  async get(key: string): Promise<string | undefined> {
    const value = await this.#command(["GET", key]);
    return typeof value === "string" ? value : undefined;
  }

  /** The other live instances, as of the last heartbeat. */
  peers(): InstanceEntry[] {
    return [...this.#peers.values()];
  }

  /** A live instance by id: from the last heartbeat's list, else asked of Redis (one that joined since). */
  async peer(id: string): Promise<InstanceEntry | undefined> {
    const known = this.#peers.get(id);
    if (known) return known;
    const entry = parseEntry(await this.get(instanceKey(id)));
    if (entry) this.#peers.set(id, entry);
    return entry;
  }

  /** One heartbeat: rewrite this instance's entries, then refresh the list of the others. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#stopped || !this.#options.redis.connected) return;
    const self = this.#options.self();
    const ttl = this.ttlMs;
    await Promise.all([
      this.#command(["SET", instanceKey(self.id), JSON.stringify(self), "PX", ttl]),
      this.#command(["SADD", INSTANCES_KEY, self.id]),
    ]);
    // In slices, so that an instance holding many sessions stays well inside the client's bound on commands awaiting
    // replies (which would refuse the excess, and let those keys expire), with room left for requests meanwhile.
    const owned = [...this.#owned];
    for (let i = 0; i < owned.length; i += OWNED_KEYS_PER_SLICE) {
      await Promise.all(owned.slice(i, i + OWNED_KEYS_PER_SLICE)
        .map(([key, value]) => this.#command(["SET", key, value, "PX", ttl])));
    }
    const ids = await this.#command(["SMEMBERS", INSTANCES_KEY]);
    if (!Array.isArray(ids)) return;
    const others = ids.filter((id): id is string => typeof id === "string" && id !== self.id);
    const entries = others.length > 0 ? await this.#command(["MGET", ...others.map(instanceKey)]) : [];
    if (!Array.isArray(entries)) return;
    const peers = new Map<string, InstanceEntry>();
    const gone: string[] = [];
    others.forEach((id, i) => {
      const entry = parseEntry(entries[i]);
      if (entry) peers.set(id, entry);
      else gone.push(id);
    });
    this.#peers = peers;
    if (gone.length > 0) await this.#command(["SREM", INSTANCES_KEY, ...gone]);
  }

  /**
   * A command whose failure is not the caller's problem: while Redis is unreachable the instance serves alone, and
   * the client already said so once (its down event); the next heartbeat after it is back writes everything again.
   */
  async #command(args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#options.redis.command(args);
    } catch (error) {
      this.#options.logger.debug("redis command failed", { command: args[0], error });
      return undefined;
    }
  }
}

function parseEntry(value: unknown): InstanceEntry | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const entry = JSON.parse(value) as InstanceEntry;
    return typeof entry.id === "string" && typeof entry.url === "string" ? entry : undefined;
  } catch {
    return undefined;
  }
}
