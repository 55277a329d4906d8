/**
 * This instance as one of several behind one URL (cluster.redisUrl): its registry entries kept alive in Redis, the
 * routing that forwards requests to the instance holding their session, and the health it reports. While Redis is
 * unreachable the instance serves its own sessions and takes new ones alone, says so once in the log and in /health,
 * and when Redis is back it writes its entries again and says that once too.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import type { Coordinator, CoordinatorParts } from "../server/coordinator.ts";
import type { StartSessions } from "../server/startSessions.ts";
import { VERSION } from "../version.ts";
import { ClusterMetrics } from "./clusterMetrics.ts";
import { clusterRouting } from "./clusterRouting.ts";
import { FORWARDED_BY_HEADER } from "./forwardRequest.ts";
import { Ownership } from "./ownership.ts";
import { RedisClient } from "./redisClient.ts";
import { loggableRedisUrl, parseRedisUrl } from "./redisUrl.ts";
import { Registry } from "./registry.ts";

/** An owner that has not answered a forwarded request in this long is taken for hung (offers included). */
const FORWARD_TIMEOUT_MS = 5000;

export interface ClusterOptions extends CoordinatorParts {
  config: Config;
}

export class Cluster implements Coordinator {
  readonly instanceId: string;
  readonly middleware: MiddlewareHandler;
  readonly #redis: RedisClient;
  readonly #registry: Registry;
  readonly #metrics = new ClusterMetrics();
  readonly #logger: Logger;
  readonly #redisUrl: string;
  readonly #startSessions: StartSessions;
  readonly #ownership: Ownership;

  /** The cluster config's redisUrl and advertiseUrl must be set (the schema requires them together). */
  constructor(options: ClusterOptions) {
    const { config, sessions, startSessions } = options;
    const { redisUrl, advertiseUrl, heartbeatSecs } = config.cluster;
    if (!redisUrl || !advertiseUrl) throw new Error("a cluster needs cluster.redisUrl and cluster.advertiseUrl");
    this.instanceId = config.cluster.instanceId ?? randomUUID();
    this.#logger = options.logger.child({ instance: this.instanceId });
    this.#redisUrl = loggableRedisUrl(redisUrl);
    this.#redis = new RedisClient({ address: parseRedisUrl(redisUrl) });
    const peerKey = randomBytes(16).toString("hex");
    this.#registry = new Registry({
      redis: this.#redis,
      heartbeatSecs,
      logger: this.#logger,
      self: () => ({
        id: this.instanceId,
        url: advertiseUrl,
        load: Math.round(sessions.load() * 1000) / 1000,
        sessions: sessions.size,
        version: VERSION,
        peerKey,
      }),
    });
    const ownership = new Ownership(this.#registry, this.instanceId, config.limits.startTtlSecs * 1000);
    this.#ownership = ownership;
    this.#startSessions = startSessions;
    this.middleware = clusterRouting({
      instanceId: this.instanceId,
      peerKey,
      sessions,
      startSessions,
      registry: this.#registry,
      ownership,
      metrics: this.#metrics,
      maxLoad: config.limits.workerLoad,
      forwardTimeoutMs: FORWARD_TIMEOUT_MS,
      connected: () => this.#redis.connected,
      logger: this.#logger,
    });
  }

  isPeerRequest(request: Request): boolean {
    const key = request.headers.get(FORWARDED_BY_HEADER);
    return key !== null && this.#registry.peers().some((peer) => peer.peerKey === key);
  }

  health(): { status: "ok" | "degraded"; reason?: string } {
    if (this.#redis.connected) return { status: "ok" };
    return { status: "degraded", reason: "redis unreachable; serving alone" };
  }

  renderMetrics(): string {
    return this.#metrics.render(this.#redis.connected);
  }

  /** Connects to Redis and writes the first heartbeat; an unreachable Redis is logged, not fatal. */
  async start(): Promise<void> {
    let lost = false;
    this.#redis.on("down", (error) => {
      lost = true;
      this.#logger.warn("redis unreachable; serving this instance's sessions alone", { redis: this.#redisUrl, error });
    });
    this.#redis.on("up", () => {
      if (!lost) return;
      this.#logger.info("redis reachable again; writing this instance's registry entries", { redis: this.#redisUrl });
      lost = false;
      // A Redis that restarted empty lost them, and their offers may land on any instance.
      for (const { session, remainingMs } of this.#startSessions.pending()) {
        if (remainingMs > 0) void this.#ownership.savePending(session, remainingMs);
      }
    });
    await this.#redis.start();
    await this.#registry.start();
  }

  async shutdown(): Promise<void> {
    await this.#registry.stop();
    this.#redis.close();
  }
}
