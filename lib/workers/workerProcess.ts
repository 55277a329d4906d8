/**
 * The main process's handle on one worker: requests answered by id (with a deadline, so a hung worker cannot hold
 * an HTTP request forever), its heartbeats, and the sessions it reports closed. Once the process has exited, every
 * pending request fails and `exited` fires once.
 */
import type { ChildProcess } from "node:child_process";
import { TypedEmitter } from "../events/emitter.ts";
import type { Logger } from "../log/logger.ts";
import { SignallingError } from "../webrtc/errors.ts";
import type { FromWorker, Heartbeat, ToWorker, WorkerReplies, WorkerRequest } from "./messages.ts";
import type { TcpWorkerLink } from "./tcpRelay.ts";

export interface WorkerEvents {
  [event: string]: unknown[];
  ready: [];
  heartbeat: [Heartbeat];
  sessionClosed: [pcIds: string[]];
  udpLink: [port: number];
  tcpLink: [link: TcpWorkerLink];
  ufrags: [assigned: string | undefined, forgotten: string[]];
  exited: [code: number | null, signal: string | null];
}

/** Raised for a request the worker could not answer because it stopped or stopped responding. */
export class WorkerGoneError extends Error {
  override name = "WorkerGoneError";
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class WorkerProcess extends TypedEmitter<WorkerEvents> {
  readonly pid: number;
  readonly startedAt = performance.now();
  ready = false;
  exited = false;
  /** The last heartbeat, and when it came. */
  heartbeat: Heartbeat = { load: 0, warm: false, sessions: 0, rssBytes: 0 };
  heartbeatAt = performance.now();
  /** Sessions placed here since that heartbeat. */
  placedSince = 0;
  /** Why the process could not be started, if it could not. */
  launchError?: Error;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(readonly index: number, child: ChildProcess, logger: Logger) {
    super(logger);
    this.#child = child;
    this.pid = child.pid ?? -1;
    child.on("message", (message) => this.#receive(message as FromWorker));
    child.on("exit", (code, signal) => this.#exit(code, signal));
    child.on("error", (error) => {
      // A process that could not be started at all never exits: its failure is its exit.
      if (child.pid === undefined) {
        this.launchError = error;
        this.#exit(null, null);
        return;
      }
      // An IPC write to a process that just died fails here instead of throwing into the caller.
      logger.debug("worker channel error", { worker: index, error });
    });
  }

  request<K extends WorkerRequest["kind"]>(
    request: Extract<WorkerRequest, { kind: K }>,
    timeoutMs: number,
  ): Promise<WorkerReplies[K]> {
    if (this.exited) return Promise.reject(new WorkerGoneError(`worker ${this.index} has stopped`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new WorkerGoneError(`worker ${this.index} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.#send({ type: "request", id, request });
    });
  }

  /** Asks the worker to end its sessions (with `peerLeft`) and exit. */
  drain(): void {
    this.#send({ type: "drain" });
  }

  kill(): void {
    if (!this.exited) this.#child.kill("SIGKILL");
  }

  #send(message: ToWorker): void {
    if (this.exited || !this.#child.connected) return;
    try {
      this.#child.send(message);
    } catch {
      // The channel closed under us: the exit handler fails what is pending.
    }
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case "ready":
        this.ready = true;
        this.heartbeatAt = performance.now();
        this.emit("ready");
        return;
      case "heartbeat":
        this.heartbeat = { load: message.load, warm: message.warm, sessions: message.sessions, rssBytes: message.rssBytes };
        this.heartbeatAt = performance.now();
        this.placedSince = 0;
        this.emit("heartbeat", this.heartbeat);
        return;
      case "sessionClosed":
        this.emit("sessionClosed", message.pcIds);
        return;
      case "udpLink":
        this.emit("udpLink", message.port);
        return;
      case "tcpLink":
        this.emit("tcpLink", message.link);
        return;
      case "ufrags":
        this.emit("ufrags", message.assigned, message.forgotten ?? []);
        return;
      case "reply": {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if ("error" in message) {
          const { reason, message: text } = message.error;
          pending.reject(reason ? new SignallingError(reason, text) : new Error(text));
        } else {
          pending.resolve(message.value);
        }
      }
    }
  }

  #exit(code: number | null, signal: string | null): void {
    if (this.exited) return;
    this.exited = true;
    for (const { reject, timer } of this.#pending.values()) {
      clearTimeout(timer);
      reject(new WorkerGoneError(`worker ${this.index} stopped`));
    }
    this.#pending.clear();
    this.emit("exited", code, signal);
  }
}
