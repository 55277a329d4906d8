/**
 * Everything needed to serve SmallWebRTC clients, assembled from one config: the request handler with its peer
 * connection settings, the /start session store, the HTTP app and its listener.
 */
import { readFileSync } from "node:fs";
import type { Hono } from "hono";
import { ConfigError } from "../config/layers.ts";
import type { Config } from "../config/schema.ts";
import { resolveIceServers } from "../config/turnCredentials.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { encoderComplexity } from "../media/encoderComplexity.ts";
import type { ConnectionOptions } from "../webrtc/connection.ts";
import { addAdvertisedCandidates, parseAdvertisedIps } from "../webrtc/advertisedAddresses.ts";
import { selectHostAddresses } from "../webrtc/hostAddresses.ts";
import { isLibpeerOffer, shapeAnswerForLibpeer } from "../webrtc/esp32.ts";
import { UdpMux } from "../webrtc/udpMux.ts";
import { peerConfig, SCTP_SINGLE_CHUNK_BYTES } from "../webrtc/peerConfig.ts";
import { applyWeriftPatches } from "../webrtc/weriftPatches.ts";
import { type ConnectionCallback, SmallWebRTCRequestHandler } from "../webrtc/requestHandler.ts";
import { createApp, type RequestInfo } from "./app.ts";
import { Metrics } from "./metrics.ts";
import type { AssetSource } from "./assets.ts";
import { HeapCollector } from "./heapCollector.ts";
import { listen, type Listener } from "./listen.ts";
import { StartSessions } from "./startSessions.ts";

export interface ServerOptions {
  config: Config;
  /** Receives every new connection with the request data of its offer (the runner starts a bot here). */
  onConnection: ConnectionCallback;
  assets?: AssetSource;
  logger?: Logger;
}

export class SmallWebRTCServer {
  readonly app: Hono<{ Bindings: RequestInfo }>;
  readonly heapCollector = new HeapCollector();
  readonly metrics = new Metrics(this.heapCollector);
  readonly handler: SmallWebRTCRequestHandler;
  readonly startSessions: StartSessions;
  readonly #config: Config;
  #listener?: Listener;
  #udpMux?: UdpMux;

  constructor(options: ServerOptions) {
    const { config } = options;
    const logger = options.logger ?? silentLogger;
    applyWeriftPatches(logger);
    this.handler = new SmallWebRTCRequestHandler({
      connectionOptions: (offerSdp) => connectionOptions(config, logger, offerSdp, this.#udpMux),
      onConnection: (connection, requestData) => {
        connection.once("closed", () => this.metrics.connectionClosed(connection));
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
    this.startSessions = new StartSessions({
      maxPending: config.limits.maxPendingStarts,
      pendingTtlMs: config.limits.startTtlSecs * 1000,
    });
    this.app = createApp({
      config,
      handler: this.handler,
      startSessions: this.startSessions,
      metrics: this.metrics,
      assets: options.assets,
      logger,
    });
    this.#config = config;
  }

  /** Opens the shared UDP port (single-port mode) and starts serving HTTP. */
  async listen(): Promise<Listener> {
    const { udpPort } = this.#config.ice;
    if (udpPort !== undefined) this.#udpMux = await UdpMux.open("0.0.0.0", udpPort);
    this.#listener = await listen((request, info) => this.app.fetch(request, info), {
      hostname: this.#config.host,
      port: this.#config.port,
      tls: this.#config.tls && readTls(this.#config.tls),
    });
    this.metrics.startLagProbe();
    this.heapCollector.start();
    encoderComplexity.configure({ max: this.#config.audio.opusComplexity, adaptive: this.#config.audio.adaptiveComplexity });
    encoderComplexity.start();
    return this.#listener;
  }

  /** Says `peerLeft` to every client, closes every session, then stops listening. */
  async shutdown(): Promise<void> {
    await this.handler.closeAll();
    await this.#listener?.stop();
    this.#udpMux?.close();
    this.metrics.stop();
    this.heapCollector.stop();
    encoderComplexity.stop();
  }
}

/** How to build a connection for this offer; devices in ESP32 mode get libpeer-shaped answers. */
export function connectionOptions(config: Config, logger: Logger, offerSdp: string, udpMux?: UdpMux): ConnectionOptions {
  const esp32 = config.esp32 && isLibpeerOffer(offerSdp);
  const advertised = parseAdvertisedIps(config.ice.advertisedIps);
  return {
    peerConfig: () =>
      peerConfig({
        iceServers: resolveIceServers(config),
        stunGatherTimeoutSecs: 2,
        bindHost: config.host,
        ...config.ice,
        // A device can only use candidates on the address it was configured with: gather nothing else.
        ...(esp32 ? { interfaces: [config.host], loopback: "never" as const } : {}),
      }),
    shapeAnswer: esp32
      ? (sdp) => shapeAnswerForLibpeer(sdp, config.host)
      : (sdp) => addAdvertisedCandidates(sdp, advertised),
    udpMux,
    candidatePolicy: {
      allowSpecial: config.ice.allowSpecialCandidates,
      allowLoopback: selectHostAddresses({ bindHost: config.host, ...config.ice }).includes("127.0.0.1"),
    },
    maxRemoteCandidates: config.limits.maxRemoteCandidates,
    logger,
    connectTimeoutMs: config.limits.connectTimeoutSecs * 1000,
    liveness: {
      pingTimeoutMs: config.limits.keepaliveTimeoutSecs * 1000,
      silenceTimeoutMs: config.limits.silenceTimeoutSecs * 1000,
    },
    dataChannelTimeoutMs: config.limits.dataChannelTimeoutSecs * 1000,
    maxQueuedMessages: config.limits.queuedMessages,
    // libpeer reads one DATA chunk per packet and never reassembles: a message must fit in one chunk.
    maxMessageBytes: esp32 ? SCTP_SINGLE_CHUNK_BYTES : undefined,
  };
}

function readTls(tls: { certFile: string; keyFile: string }): { cert: string; key: string } {
  try {
    return { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") };
  } catch (error) {
    throw new ConfigError(`tls: cannot read ${(error as { path?: string }).path ?? "the certificate"}: ${(error as Error).message}`);
  }
}
