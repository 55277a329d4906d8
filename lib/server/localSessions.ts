/**
 * Sessions in this process: the request handler with its peer-connection settings, the shared ports (single-port
 * UDP, ICE over TCP), and the per-process helpers that media needs (heap collector, adaptive Opus complexity).
 * A single-process server uses one directly; each worker process runs one for the sessions placed on it.
 */
import type { Config } from "../config/schema.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { encoderComplexity, processLoad } from "../media/encoderComplexity.ts";
import type { Answer } from "../webrtc/connection.ts";
import { type ConnectionCallback, type OfferRequest, type PatchRequest, SmallWebRTCRequestHandler } from "../webrtc/requestHandler.ts";
import type { SharedPorts } from "../webrtc/sharedPorts.ts";
import { TcpMux } from "../webrtc/tcpMux.ts";
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
  /**
   * The shared ports when someone else opened them (a worker gets them relayed); default: open config.ice.udpPort
   * and config.ice.tcpPort here.
   */
  sharedPorts?: () => Promise<SharedPorts>;
  logger?: Logger;
}

/**
 * The load is the CPU share over the last LOAD_WINDOWS windows of LOAD_WINDOW_MS (2 s): one busy moment (a
 * collection, a burst of requests) says nothing about whether the process can take another session.
 */
const LOAD_WINDOW_MS = 500;
const LOAD_WINDOWS = 4;

export class LocalSessions implements SessionHost {
  readonly handler: SmallWebRTCRequestHandler;
  readonly #options: LocalSessionsOptions;
  readonly #cpu = processLoad();
  readonly #loads: number[] = [];
  /** Until the first window ends: the share since start (a process warming its codecs up is not idle). */
  #sinceStart = processLoad();
  #loadTimer?: ReturnType<typeof setInterval>;
  #sharedPorts: SharedPorts = {};

  constructor(options: LocalSessionsOptions) {
    const { config, metrics } = options;
    const logger = options.logger ?? silentLogger;
    applyWeriftPatches(logger);
    this.#options = options;
    this.handler = new SmallWebRTCRequestHandler({
      connectionOptions: (offerSdp) => connectionOptions(config, logger, offerSdp, this.#sharedPorts),
      onConnection: (connection, requestData, sessionId) => {
        connection.once("closed", () => metrics.connectionClosed(connection));
        return options.onConnection(connection, requestData, sessionId);
      },
      maxSessions: config.limits.maxSessions,
      singleSession: config.singleSession,
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

  load(): number {
    // Sampled from the first time it is asked for (a cluster's registry, at its start): a lone instance pays no timer.
    this.#loadTimer ??= this.#sampleLoad();
    if (this.#loads.length === 0) return this.#sinceStart();
    return this.#loads.reduce((sum, load) => sum + load) / this.#loads.length;
  }

  #sampleLoad(): ReturnType<typeof setInterval> {
    this.#cpu();
    const timer = setInterval(() => {
      this.#loads.push(this.#cpu());
      if (this.#loads.length > LOAD_WINDOWS) this.#loads.shift();
    }, LOAD_WINDOW_MS);
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }

  renderMetrics(): Promise<string> {
    return Promise.resolve(this.#options.metrics.renderSessions(this.handler.connections(), this.#sharedPorts.tcp?.stats));
  }

  status(): Record<string, unknown> {
    return {};
  }

  async start(): Promise<void> {
    const { config, heapCollector, sharedPorts } = this.#options;
    this.#sharedPorts = sharedPorts ? await sharedPorts() : await openSharedPorts(config, this.#options.logger ?? silentLogger);
    heapCollector.start();
    this.#sinceStart = processLoad();
    encoderComplexity.configure({ max: config.audio.opusComplexity, adaptive: config.audio.adaptiveComplexity });
    encoderComplexity.start();
  }

  async shutdown(): Promise<void> {
    await this.handler.closeAll();
    this.#sharedPorts.udp?.close();
    this.#sharedPorts.tcp?.close();
    this.#options.heapCollector.stop();
    clearInterval(this.#loadTimer);
    encoderComplexity.stop();
  }
}

/** The ports of config.ice.udpPort and config.ice.tcpPort, each bound on every address (or the bind error). */
async function openSharedPorts(config: Config, logger: Logger): Promise<SharedPorts> {
  const { udpPort, tcpPort } = config.ice;
  const udp = udpPort === undefined ? undefined : await UdpMux.open("0.0.0.0", udpPort);
  try {
    const tcp = tcpPort === undefined ? undefined : await TcpMux.open("0.0.0.0", tcpPort, logger);
    return { udp, tcp };
  } catch (error) {
    udp?.close();
    throw error;
  }
}
