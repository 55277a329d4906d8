/**
 * Sessions spread over worker processes. The main process keeps the HTTP side; each worker owns its sessions (the
 * werift connections, codecs, VAD and bots), so one busy or broken bot, or one long collection, holds up only the
 * sessions on its own worker. A new session goes to the least-loaded worker (placement.ts); every later request
 * for it (PATCH, re-offer, restart_pc, the /sessions/:id flow) reaches the worker that holds it by its pc_id.
 *
 * A worker that exits or stops sending heartbeats (a bot in an endless loop) is killed if need be and replaced;
 * only its own sessions end. A worker that stops on a config or embedded-file error (exit code 2) stops the server:
 * it printed the reason.
 */
import type { Config } from "../config/schema.ts";
import { ConfigError } from "../config/layers.ts";
import type { Logger } from "../log/logger.ts";
import type { Metrics } from "../server/metrics.ts";
import type { SessionHost, SessionLifetime } from "../server/sessionHost.ts";
import { EventHub } from "../events/emitter.ts";
import type { Answer } from "../webrtc/connection.ts";
import { SignallingError } from "../webrtc/errors.ts";
import type { OfferRequest, PatchRequest } from "../webrtc/requestHandler.ts";
import { HEARTBEAT_MS, type WorkerPlace } from "./messages.ts";
import { TcpRelay } from "./tcpRelay.ts";
import { UdpRelay } from "./udpRelay.ts";
import { mergeMetrics } from "./metricsMerge.ts";
import { chooseWorker, expectedLoad, type WorkerLoad } from "./placement.ts";
import { WorkerGoneError, WorkerProcess } from "./workerProcess.ts";
import type { ChildProcess } from "node:child_process";

export interface WorkerPoolOptions {
  config: Config;
  count: number;
  /** The main process's metrics: its own lines (loop, memory) go beside the workers'. */
  metrics: Metrics;
  /** Starts a worker (workerLauncher.ts; tests pass their own). */
  launch: (place: WorkerPlace) => ChildProcess;
  /** A worker stopped on a mistake the user must fix, after the start; it has said why. The server must stop. */
  onFatal: () => void;
  logger: Logger;
}

/** What a client is told to wait when every worker is above limits.workerLoad. */
const RETRY_AFTER_SECS = 2;
/** Offers gather candidates (up to 2 s with STUN) and set up DTLS keys; anything beyond this is a hung worker. */
const OFFER_TIMEOUT_MS = 15_000;
const PATCH_TIMEOUT_MS = 5_000;
const METRICS_TIMEOUT_MS = 1_000;
const START_TIMEOUT_MS = 60_000;
/** A worker that ran at least this long is replaced at once; one that keeps dying young, with a growing delay. */
const HEALTHY_RUN_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;
/** Exit code of a process that stopped on a mistake the user can fix (runMain's). */
const CONFIG_ERROR_EXIT = 2;

type RestartReason = "crash" | "hang";

/** A worker stopped on a mistake the user must fix (exit code 2) and printed the line that names it. */
export class WorkerReportedError extends Error {
  override name = "WorkerReportedError";
}

/** A session on some worker, as the main process knows it. */
class RemoteSession extends EventHub<{ closed: [] }> implements SessionLifetime {
  isClosed = false;
  readonly pcIds = new Set<string>();
  constructor(readonly worker: WorkerProcess) {
    super();
  }
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.emit("closed");
  }
}

export class WorkerPool implements SessionHost {
  readonly #options: WorkerPoolOptions;
  readonly #logger: Logger;
  readonly #workers: WorkerProcess[] = [];
  readonly #byPcId = new Map<string, RemoteSession>();
  readonly #open = new Set<RemoteSession>();
  readonly #restarts: Record<RestartReason, number> = { crash: 0, hang: 0 };
  readonly #restartDelay: number[] = [];
  readonly #hung = new WeakSet<WorkerProcess>();
  #creating = 0;
  #watchdog?: ReturnType<typeof setInterval>;
  #stopping = false;
  #failStart?: (error: Error) => void;
  #relay?: UdpRelay;
  #tcpRelay?: TcpRelay;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  get size(): number {
    return this.#open.size;
  }

  /** The worker processes as they are now (tests and /status). */
  get workers(): readonly WorkerProcess[] {
    return this.#workers;
  }

  async start(): Promise<void> {
    const { udpPort, tcpPort } = this.#options.config.ice;
    if (udpPort !== undefined) this.#relay = await UdpRelay.open("0.0.0.0", udpPort);
    if (tcpPort !== undefined) this.#tcpRelay = await TcpRelay.open("0.0.0.0", tcpPort, this.#logger);
    const failed = new Promise<never>((_, reject) => (this.#failStart = reject));
    const started = Promise.all(Array.from({ length: this.#options.count }, (_, index) => this.#spawn(index)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConfigError(`workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([started, failed, timeout]);
    } catch (error) {
      await this.shutdown();
      throw error;
    } finally {
      clearTimeout(timer);
      this.#failStart = undefined;
    }
    this.#watchdog = setInterval(() => this.#checkHeartbeats(), HEARTBEAT_MS);
    (this.#watchdog as { unref?: () => void }).unref?.();
  }

  async handleOffer(request: OfferRequest): Promise<Answer> {
    const existing = request.pcId ? this.#byPcId.get(request.pcId) : undefined;
    if (existing) return await this.#offer(existing.worker, request, existing);

    const { maxSessions, workerLoad } = this.#options.config.limits;
    if (this.#options.config.singleSession && this.#open.size + this.#creating > 0) throw SignallingError.busy();
    if (this.#open.size + this.#creating >= maxSessions) {
      throw new SignallingError("capacity", `the server is at its limit of ${maxSessions} sessions`);
    }
    const chosen = chooseWorker(this.#loads(), workerLoad);
    if (!chosen) {
      throw new SignallingError("capacity", "every worker is busy; try again shortly", { retryAfterSecs: RETRY_AFTER_SECS });
    }
    const worker = this.#workers[chosen.index];
    worker.placedSince++;
    this.#creating++;
    try {
      return await this.#offer(worker, request);
    } finally {
      this.#creating--;
    }
  }

  async handlePatch(request: PatchRequest): Promise<void> {
    const session = this.#byPcId.get(request.pcId);
    if (!session) throw new SignallingError("peer-not-found", "Peer connection not found");
    await this.#call(() => session.worker.request({ kind: "patch", patch: request }, PATCH_TIMEOUT_MS), "peer-not-found");
  }

  find(pcId: string): SessionLifetime | undefined {
    return this.#byPcId.get(pcId);
  }

  /** The expected load of the worker the next session would go to; 1 (full) while none is available. */
  load(): number {
    const chosen = chooseWorker(this.#loads(), Infinity);
    return chosen ? expectedLoad(chosen) : 1;
  }

  async renderMetrics(): Promise<string> {
    const workers = this.#workers.filter((worker) => worker.ready && !worker.exited);
    const texts = await Promise.all(workers.map((worker) =>
      worker.request({ kind: "metrics" }, METRICS_TIMEOUT_MS).catch(() => "")));
    const pool = [
      "# HELP smallwebrtc_worker_load Share of one core each worker used, from its last heartbeat.",
      "# TYPE smallwebrtc_worker_load gauge",
      ...workers.map((worker) => `smallwebrtc_worker_load{worker="${worker.index}"} ${worker.heartbeat.load}`),
      "# HELP smallwebrtc_worker_restarts_total Workers replaced, by why they stopped.",
      "# TYPE smallwebrtc_worker_restarts_total counter",
      ...Object.entries(this.#restarts).map(([reason, count]) => `smallwebrtc_worker_restarts_total{reason="${reason}"} ${count}`),
    ].join("\n");
    return mergeMetrics([
      { text: this.#options.metrics.renderProcess().join("\n") },
      { text: pool },
      ...workers.map((worker, i) => ({ text: texts[i], label: `worker="${worker.index}"` })),
    ]);
  }

  status(): Record<string, unknown> {
    return {
      workers: this.#workers.map((worker) => ({
        index: worker.index,
        pid: worker.pid,
        ready: worker.ready && !worker.exited,
        warm: worker.heartbeat.warm,
        sessions: [...this.#open].filter((session) => session.worker === worker).length,
        load: Math.round(worker.heartbeat.load * 1000) / 1000,
      })),
    };
  }

  /** Drains every worker (each says `peerLeft` to its clients) and waits for them to exit. */
  async shutdown(deadlineMs = 2500): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchdog);
    const running = this.#workers.filter((worker) => !worker.exited);
    const exits = running.map((worker) => worker.exited ? Promise.resolve() : worker.next("exited").then(() => {}));
    for (const worker of running) worker.drain();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(exits), new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
    for (const worker of running) worker.kill();
    this.#relay?.close();
    this.#tcpRelay?.close();
  }

  #loads(): WorkerLoad[] {
    return this.#workers.map((worker) => ({
      index: worker.index,
      load: worker.heartbeat.load,
      sessions: worker.heartbeat.sessions,
      placedSince: worker.placedSince,
      available: worker.ready && !worker.exited,
      warm: worker.heartbeat.warm,
    }));
  }

  async #offer(worker: WorkerProcess, request: OfferRequest, existing?: RemoteSession): Promise<Answer> {
    const answer = await this.#call(() => worker.request({ kind: "offer", offer: request }, OFFER_TIMEOUT_MS), "capacity");
    const session = existing ?? new RemoteSession(worker);
    if (!existing) this.#open.add(session);
    session.pcIds.add(answer.pc_id);
    this.#byPcId.set(answer.pc_id, session);
    return answer;
  }

  /** A request whose worker stopped answers as `reason` says: a lost session (404) or a lost offer (503). */
  async #call<T>(work: () => Promise<T>, reason: "capacity" | "peer-not-found"): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof WorkerGoneError)) throw error;
      throw new SignallingError(reason, reason === "capacity" ? `${error.message}; try again` : "Peer connection not found");
    }
  }

  #spawn(index: number): Promise<void> {
    const child = this.#options.launch({ index, count: this.#options.count, relayPort: this.#relay?.innerPort });
    const worker = new WorkerProcess(index, child, this.#logger);
    this.#workers[index] = worker;
    worker.on("sessionClosed", (pcIds) => this.#closeSessions(pcIds));
    worker.on("udpLink", (port) => this.#relay?.addWorker(index, port));
    worker.on("tcpLink", (link) => this.#tcpRelay?.addWorker(index, link));
    worker.on("ufrags", (assigned, forgotten) => {
      if (assigned) {
        this.#relay?.assign(assigned, index);
        this.#tcpRelay?.assign(assigned, index);
      }
      this.#relay?.forget(forgotten);
      this.#tcpRelay?.forget(forgotten);
    });
    worker.on("exited", (code, signal) => this.#onExit(worker, code, signal));
    return new Promise((resolve) => {
      if (worker.exited) return resolve();
      worker.once("ready", () => {
        this.#logger.debug("worker ready", { worker: index, pid: worker.pid, ms: Math.round(performance.now() - worker.startedAt) });
        resolve();
      });
      worker.once("exited", () => resolve());
    });
  }

  #closeSessions(pcIds: readonly string[]): void {
    for (const pcId of pcIds) {
      const session = this.#byPcId.get(pcId);
      if (!session) continue;
      for (const id of session.pcIds) this.#byPcId.delete(id);
      this.#open.delete(session);
      session.close();
    }
  }

  #onExit(worker: WorkerProcess, code: number | null, signal: string | null): void {
    const lost = [...this.#open].filter((session) => session.worker === worker);
    this.#closeSessions(lost.flatMap((session) => [...session.pcIds]));
    if (this.#workers[worker.index] === worker) {
      this.#relay?.removeWorker(worker.index);
      this.#tcpRelay?.removeWorker(worker.index);
    }
    if (this.#stopping) return;
    if (worker.launchError) {
      const reason = `cannot start worker processes (${worker.launchError.message}); set workers to 1 to serve from one`;
      this.#failStart?.(new ConfigError(reason));
      if (!this.#failStart) this.#logger.error("worker could not be started; not replacing it", { worker: worker.index, reason });
      return;
    }
    // Exit code 2 is a mistake the user must fix (a bad config, a broken embedded file found at warm-up): a
    // replacement would fail the same way, so the server stops, as one process would.
    if (code === CONFIG_ERROR_EXIT) {
      if (this.#failStart) this.#failStart(new WorkerReportedError(`worker ${worker.index} stopped with exit code 2`));
      else this.#options.onFatal();
      return;
    }
    const reason: RestartReason = this.#hung.has(worker) ? "hang" : "crash";
    this.#restarts[reason]++;
    const ranMs = performance.now() - worker.startedAt;
    const previous = this.#restartDelay[worker.index] ?? 0;
    const delay = ranMs >= HEALTHY_RUN_MS ? 0 : Math.min(MAX_RESTART_DELAY_MS, Math.max(250, previous * 2));
    this.#restartDelay[worker.index] = delay;
    this.#logger.warn("worker stopped; replacing it", {
      worker: worker.index,
      pid: worker.pid,
      reason,
      code,
      signal,
      sessionsLost: lost.length,
      delayMs: delay,
    });
    setTimeout(() => {
      if (!this.#stopping) void this.#spawn(worker.index);
    }, delay);
  }

  #checkHeartbeats(): void {
    const limitMs = this.#options.config.limits.workerTimeoutSecs * 1000;
    const now = performance.now();
    for (const worker of this.#workers) {
      // Warming up compiles WebAssembly, which can hold the loop for seconds on a slow machine: that is not a hang.
      const watched = worker.ready && worker.heartbeat.warm && !worker.exited && !this.#hung.has(worker);
      if (!watched || now - worker.heartbeatAt < limitMs) continue;
      this.#hung.add(worker);
      this.#logger.warn("worker stopped answering; killing it", {
        worker: worker.index,
        pid: worker.pid,
        silentMs: Math.round(now - worker.heartbeatAt),
      });
      worker.kill();
    }
  }
}
