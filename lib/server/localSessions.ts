/**
 * Sessions in this process: the request handler with its peer-connection settings, the shared UDP port of
 * single-port mode, and the per-process helpers that media needs (heap collector, adaptive Opus complexity).
 * A single-process server uses one directly; each worker process runs one for the sessions placed on it.
 */
import type { Config } from "../config/schema.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { encoderComplexity } from "../media/encoderComplexity.ts";
import type { Answer } from "../webrtc/connection.ts";
import { type ConnectionCallback, type OfferRequest, type PatchRequest, SmallWebRTCRequestHandler } from "../webrtc/requestHandler.ts";
import { UdpMux } from "../webrtc/udpMux.ts";
import { applyWeriftPatches } from "../webrtc/weriftPatches.ts";
import { HeapCollector } from "./heapCollector.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionHost, SessionLifetime } from "./sessionHost.ts";
import { connectionOptions } from "./connectionOptions.ts";

export interface LocalSessionsOptions {
  config: Config;
  /** Receives every new connection with the request data of its offer (the runner starts a bot here). */
  onConnection: ConnectionCallback;
  metrics: Metrics;
  heapCollector: HeapCollector;
  /** Single-port mode's socket when someone else opened it (a worker gets it relayed); default: open config.ice.udpPort. */
  udpMux?: () => Promise<UdpMux | undefined>;
  logger?: Logger;
}

export class LocalSessions implements SessionHost {
  readonly handler: SmallWebRTCRequestHandler;
  readonly #options: LocalSessionsOptions;
  #udpMux?: UdpMux;

  constructor(options: LocalSessionsOptions) {
    const { config, metrics } = options;
    const logger = options.logger ?? silentLogger;
    applyWeriftPatches(logger);
    this.#options = options;
    this.handler = new SmallWebRTCRequestHandler({
      connectionOptions: (offerSdp) => connectionOptions(config, logger, offerSdp, this.#udpMux),
      onConnection: (connection, requestData) => {
        connection.once("closed", () => metrics.connectionClosed(connection));
        return options.onConnection(connection, requestData);
      },
      maxSessions: config.limits.maxSessions,
      sdpLimits: {
        maxBytes: config.limits.maxSdpBytes,
        maxLines: config.limits.maxSdpLines,
        maxMediaSections: config.limits.maxMediaSections,
        maxCandidates: config.limits.maxRemoteCandidates,
      },
      logger,
    });
  }

  get size(): number {
    return this.handler.size;
  }

  handleOffer(request: OfferRequest): Promise<Answer> {
    return this.handler.handleOffer(request);
  }

  handlePatch(request: PatchRequest): Promise<void> {
    return this.handler.handlePatch(request);
  }

  find(pcId: string): SessionLifetime | undefined {
    return this.handler.find(pcId);
  }

  renderMetrics(): Promise<string> {
    return Promise.resolve(this.#options.metrics.renderSessions(this.handler.connections()));
  }

  status(): Record<string, unknown> {
    return {};
  }

  async start(): Promise<void> {
    const { config, heapCollector } = this.#options;
    const { udpPort } = config.ice;
    this.#udpMux = this.#options.udpMux
      ? await this.#options.udpMux()
      : udpPort === undefined ? undefined : await UdpMux.open("0.0.0.0", udpPort);
    heapCollector.start();
    encoderComplexity.configure({ max: config.audio.opusComplexity, adaptive: config.audio.adaptiveComplexity });
    encoderComplexity.start();
  }

  async shutdown(): Promise<void> {
    await this.handler.closeAll();
    this.#udpMux?.close();
    this.#options.heapCollector.stop();
    encoderComplexity.stop();
  }
}
