/**
 * The messages between the main process and its workers, over the IPC channel that node:child_process sets up
 * (JSON, one message at a time, in order). The main process asks; a worker answers each request by its id and
 * reports on its own: heartbeats with its load, and the sessions that ended.
 */
import type { TcpWorkerLink } from "./tcpRelay.ts";
import type { Answer } from "../webrtc/connection.ts";
import type { SignallingErrorReason } from "../webrtc/errors.ts";
import type { OfferRequest, PatchRequest } from "../webrtc/requestHandler.ts";

/**
 * Set in a worker's environment: "<index>/<count>", and "@<port>" for the main process's UDP relay in single-port
 * mode. The double underscore keeps it out of the SMALLWEBRTC_* config settings.
 */
export const WORKER_ENV = "SMALLWEBRTC__WORKER";

/** A worker's place among the workers. */
export interface WorkerPlace {
  index: number;
  count: number;
  /** Single-port mode: the main process's loopback port that relays the shared UDP port. */
  relayPort?: number;
}

export function formatWorkerPlace({ index, count, relayPort }: WorkerPlace): string {
  return `${index}/${count}${relayPort === undefined ? "" : `@${relayPort}`}`;
}

/** This process's place among the workers, or undefined in the main process. */
export function workerRole(env: Record<string, string | undefined>): WorkerPlace | undefined {
  const match = /^(\d+)\/(\d+)(?:@(\d+))?$/.exec(env[WORKER_ENV] ?? "");
  if (!match) return undefined;
  return { index: Number(match[1]), count: Number(match[2]), relayPort: match[3] ? Number(match[3]) : undefined };
}

export type WorkerRequest =
  | { kind: "offer"; offer: OfferRequest }
  | { kind: "patch"; patch: PatchRequest }
  | { kind: "metrics" };

/** What each request kind answers with. */
export interface WorkerReplies {
  offer: Answer;
  patch: null;
  metrics: string;
}

export type ToWorker =
  | { type: "request"; id: number; request: WorkerRequest }
  /** Say `peerLeft` to every client, close every session, exit. */
  | { type: "drain" };

export interface ReplyError {
  message: string;
  /** Set for signalling errors, so that the main process answers with the same HTTP status. */
  reason?: SignallingErrorReason;
}

export interface Heartbeat {
  /** Share of one core used over the last interval. */
  load: number;
  /** Codecs warmed up: until then the load is the warm-up's, not the sessions'. */
  warm: boolean;
  sessions: number;
  rssBytes: number;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "reply"; id: number; value: unknown }
  | { type: "reply"; id: number; error: ReplyError }
  | ({ type: "heartbeat" } & Heartbeat)
  /** Every pc_id the session was known by, once it closed. */
  | { type: "sessionClosed"; pcIds: string[] }
  /** Single-port mode: the loopback port of the worker's relayed link (sent before "ready"). */
  | { type: "udpLink"; port: number }
  /** ICE over TCP: the worker's loopback listener for relayed connections (sent before "ready"). */
  | { type: "tcpLink"; link: TcpWorkerLink }
  /** Shared ports (single-port UDP, ICE over TCP): ufrags of this worker's sessions, sent before the answer that carries them. */
  | { type: "ufrags"; assigned?: string; forgotten?: string[] };

/** How often a worker says it is alive. */
export const HEARTBEAT_MS = 500;
