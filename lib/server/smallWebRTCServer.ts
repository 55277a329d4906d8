/**
 * Everything needed to serve SmallWebRTC clients, assembled from one config: the HTTP app with its `/start` session
 * store and its listener, over the sessions (in this process by default, or a worker pool's).
 */
import { readFileSync } from "node:fs";
import type { Hono } from "hono";
import { ConfigError } from "../config/layers.ts";
import type { Config } from "../config/schema.ts";
import { turnIceServer } from "../config/turnCredentials.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { ConnectionCallback } from "../webrtc/requestHandler.ts";
import { logTurnCheck } from "../webrtc/turnCheck.ts";
import { createApp, type RequestInfo } from "./app.ts";
import type { Coordinator, CoordinatorParts } from "./coordinator.ts";
import { Metrics } from "./metrics.ts";
import type { AssetSource } from "./assets.ts";
import { HeapCollector, heapCollectorFor } from "./heapCollector.ts";
import { listen, type Listener } from "./listen.ts";
import { LocalSessions } from "./localSessions.ts";
import type { SessionHost } from "./sessionHost.ts";
import { StartSessions } from "./startSessions.ts";

export interface ServerOptions {
  config: Config;
  /** Receives every new connection with the request data of its offer (the runner starts a bot here). */
  onConnection?: ConnectionCallback;
  /** Where sessions run instead of this process (a worker pool); then `onConnection` is not used. */
  sessions?: (metrics: Metrics) => SessionHost;
  /** Coordinates this instance with others (lib/cluster); unset, it serves alone. */
  coordinator?: (parts: CoordinatorParts) => Coordinator;
  assets?: AssetSource;
  logger?: Logger;
}

export class SmallWebRTCServer {
  readonly app: Hono<{ Bindings: RequestInfo }>;
  readonly heapCollector: HeapCollector;
  readonly metrics: Metrics;
  readonly sessions: SessionHost;
  readonly startSessions: StartSessions;
  readonly coordinator?: Coordinator;
  readonly #config: Config;
  readonly #logger: Logger;
  readonly #stopping = new AbortController();
  #listener?: Listener;

  constructor(options: ServerOptions) {
    const { config } = options;
    const logger = options.logger ?? silentLogger;
    this.heapCollector = heapCollectorFor(config);
    this.metrics = new Metrics(this.heapCollector);
    this.sessions = options.sessions?.(this.metrics) ?? new LocalSessions({
      config,
      onConnection: options.onConnection ?? (() => {}),
      metrics: this.metrics,
      heapCollector: this.heapCollector,
      logger,
    });
    this.startSessions = new StartSessions({
      maxPending: config.limits.maxPendingStarts,
      pendingTtlMs: config.limits.startTtlSecs * 1000,
    });
    this.coordinator = options.coordinator?.({ sessions: this.sessions, startSessions: this.startSessions, logger });
    this.app = createApp({
      config,
      sessions: this.sessions,
      startSessions: this.startSessions,
      metrics: this.metrics,
      coordinator: this.coordinator,
      assets: options.assets,
      logger,
    });
    this.#config = config;
    this.#logger = logger;
  }

  /** The request handler of a single-process server (tests inspect its connections). */
  get handler(): LocalSessions["handler"] {
    if (!(this.sessions instanceof LocalSessions)) throw new Error("this server's sessions run in workers");
    return this.sessions.handler;
  }

  /**
   * Starts the sessions' side (single-port socket, workers), then serves HTTP, then joins the other instances (if
   * any), then checks the TURN server.
   */
  async listen(): Promise<Listener> {
    await this.sessions.start();
    this.#listener = await listen((request, info) => this.app.fetch(request, info), {
      hostname: this.#config.host,
      port: this.#config.port,
      tls: this.#config.tls && readTls(this.#config.tls),
    });
    this.metrics.startStallProbe();
    await this.coordinator?.start();
    this.#checkTurnServer();
    return this.#listener;
  }

  /** A diagnostic beside serving, never before it: one log line on whether the TURN server takes our credentials. */
  #checkTurnServer(): void {
    if (!this.#config.turn) return;
    const { urls: [url], username = "", credential = "" } = turnIceServer(this.#config.turn);
    void logTurnCheck({ url, username, credential }, this.#logger, this.#stopping.signal);
  }

  /** Says `peerLeft` to every client, closes every session, then stops listening. */
  async shutdown(): Promise<void> {
    this.#stopping.abort();
    await this.coordinator?.shutdown();
    await this.sessions.shutdown();
    await this.#listener?.stop();
    this.metrics.stop();
  }
}

function readTls(tls: { certFile: string; keyFile: string }): { cert: string; key: string } {
  try {
    return { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") };
  } catch (error) {
    throw new ConfigError(`tls: cannot read ${(error as { path?: string }).path ?? "the certificate"}: ${(error as Error).message}`);
  }
}
