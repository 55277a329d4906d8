/**
 * The messages between the main process and its workers, over the IPC channel that node:child_process sets up
 * (JSON, one message at a time, in order). The main process asks; a worker answers each request by its id and
 * reports on its own: heartbeats with its load, and the sessions that ended.
 */
import type { Answer } from "../webrtc/connection.ts";
import type { SignallingErrorReason } from "../webrtc/errors.ts";
import type { OfferRequest, PatchRequest } from "../webrtc/requestHandler.ts";

/**
 * Set in a worker's environment: "<index>/<count>". The double underscore keeps it out of the SMALLWEBRTC_* config
 * settings.
 */
export const WORKER_ENV = "SMALLWEBRTC__WORKER";

/** This process's place among the workers, or undefined in the main process. */
export function workerRole(env: Record<string, string | undefined>): { index: number; count: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(env[WORKER_ENV] ?? "");
  return match ? { index: Number(match[1]), count: Number(match[2]) } : undefined;
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
  | { type: "sessionClosed"; pcIds: string[] };

/** How often a worker says it is alive. */
export const HEARTBEAT_MS = 500;
