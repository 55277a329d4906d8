/**
 * The worker side: this process runs the sessions the main process places on it, answers its requests over IPC,
 * and says every HEARTBEAT_MS that it is alive and how busy it is. It ends its sessions (with `peerLeft`) and exits
 * when asked to drain, when the main process goes away, on SIGTERM, and on an error nothing else caught.
 */
import process from "node:process";
import type { Config } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { processLoad } from "../media/encoderComplexity.ts";
import { heapCollectorFor } from "../server/heapCollector.ts";
import { LocalSessions } from "../server/localSessions.ts";
import { Metrics } from "../server/metrics.ts";
import { SignallingError } from "../webrtc/errors.ts";
import type { ConnectionCallback } from "../webrtc/requestHandler.ts";
import { type FromWorker, HEARTBEAT_MS, type ToWorker, type WorkerPlace, type WorkerRequest } from "./messages.ts";
import { RelayedLink } from "./udpRelay.ts";
import type { SharedPorts } from "../webrtc/sharedPorts.ts";
import { TcpMux } from "../webrtc/tcpMux.ts";
import { UdpMux, type UfragObserver } from "../webrtc/udpMux.ts";
import { TcpWorkerListener } from "./tcpRelay.ts";
import { workerPortRange } from "./portRanges.ts";

export interface WorkerOptions extends WorkerPlace {
  config: Config;
  /** Starts the bot of a new session (the runner's launchBot). */
  onConnection: ConnectionCallback;
  /** Warms the codecs up (after the worker is ready: the first sessions may come in meanwhile). */
  warmUp: () => Promise<void>;
  logger: Logger;
}

/**
 * Starts serving the main process's requests, then warms the codecs up with `warmUp` (heartbeats say when that is
 * done). The process exits when the worker is told to stop.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { config, logger } = options;
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };
  const heapCollector = heapCollectorFor(config);
  const metrics = new Metrics(heapCollector);
  // The main process routes the shared ports' traffic by these (udpRelay.ts, tcpRelay.ts).
  const announceUfrags: UfragObserver = {
    assigned: (ufrag) => send({ type: "ufrags", assigned: ufrag }),
    forgotten: (ufrags) => send({ type: "ufrags", forgotten: ufrags }),
  };
  let tcpListener: TcpWorkerListener | undefined;
  const portRange = workerPortRange(config.ice.portRange, options.index, options.count);
  const sessions = new LocalSessions({
    config: { ...config, ice: { ...config.ice, portRange } },
    metrics,
    heapCollector,
    logger,
    sharedPorts: async () => {
      const { udpPort, tcpPort } = config.ice;
      const ports: SharedPorts = {};
      if (udpPort !== undefined && options.relayPort !== undefined) {
        const link = await RelayedLink.open(udpPort, options.relayPort);
        send({ type: "udpLink", port: link.localPort });
        ports.udp = new UdpMux("0.0.0.0", link, announceUfrags);
      }
      if (tcpPort !== undefined) {
        ports.tcp = TcpMux.fed(tcpPort, announceUfrags, logger);
        tcpListener = await TcpWorkerListener.open(ports.tcp);
        send({ type: "tcpLink", link: tcpListener.link });
      }
      return ports;
    },
    onConnection: (connection, body, sessionId) => {
      const pcIds = new Set([connection.pcId]);
      connection.on("pcIdChanged", (pcId) => pcIds.add(pcId));
      connection.once("closed", () => send({ type: "sessionClosed", pcIds: [...pcIds] }));
      return options.onConnection(connection, body, sessionId);
    },
  });

  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    clearInterval(heartbeat);
    await sessions.shutdown().catch((error) => logger.exception("worker shutdown failed", error));
    tcpListener?.close();
    process.exit(code);
  };

  const answer = async (request: WorkerRequest): Promise<unknown> => {
    switch (request.kind) {
      case "offer":
        return await sessions.handleOffer(request.offer);
      case "patch":
        await sessions.handlePatch(request.patch);
        return null;
      case "metrics":
        return await sessions.renderMetrics();
    }
  };
  process.on("message", async (raw) => {
    const message = raw as ToWorker;
    if (message.type === "drain") return void stop(0);
    if (message.type !== "request") return;
    try {
      send({ type: "reply", id: message.id, value: await answer(message.request) });
    } catch (error) {
      const reason = error instanceof SignallingError ? error.reason : undefined;
      if (!reason) logger.exception("worker request failed", error);
      send({ type: "reply", id: message.id, error: { message: (error as Error).message, reason } });
    }
  });
  // Without its main process nobody can reach these sessions: end them.
  process.on("disconnect", () => void stop(0));
  // Ctrl-C reaches the whole process group; the main process drains the workers itself, in order.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => void stop(0));
  const fail = (error: unknown) => {
    logger.exception("worker failed", error);
    void stop(1);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);

  await sessions.start();
  metrics.startStallProbe();
  const load = processLoad();
  let warmAt = Number.POSITIVE_INFINITY;
  let intervalStart = performance.now();
  heartbeat = setInterval(() => {
    // Warm once a whole interval's load is the sessions' alone, none of it the warm-up's.
    const warm = warmAt <= intervalStart;
    intervalStart = performance.now();
    send({ type: "heartbeat", load: load(), warm, sessions: sessions.size, rssBytes: process.memoryUsage().rss });
  }, HEARTBEAT_MS);
  send({ type: "ready" });
  await options.warmUp();
  warmAt = performance.now();
}
