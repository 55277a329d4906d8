/**
 * Where sessions live, as the HTTP side sees it: in this process (LocalSessions), or spread over worker processes
 * (lib/workers). The signalling routes only ever talk to this interface.
 */
import type { Answer } from "../webrtc/connection.ts";
import type { OfferRequest, PatchRequest } from "../webrtc/requestHandler.ts";

/** Enough of a session to bind a `/start` session to its lifetime. */
export interface SessionLifetime {
  readonly isClosed: boolean;
  once(event: "closed", listener: () => void): unknown;
}

export interface SessionHost {
  /** Open peer connections. */
  readonly size: number;
  handleOffer(request: OfferRequest): Promise<Answer>;
  handlePatch(request: PatchRequest): Promise<void>;
  find(pcId: string): SessionLifetime | undefined;
  /** The share of one core a new session would be placed under (compared with limits.workerLoad). */
  load(): number;
  /** The /metrics lines of the sessions and of the processes that hold them. */
  renderMetrics(): Promise<string>;
  /** Fields added to /status. */
  status(): Record<string, unknown>;
  /** Opens what the sessions need (the shared UDP port, timers) before the first offer. */
  start(): Promise<void>;
  /** Says `peerLeft` to every client, closes every session, and frees what `start` opened. */
  shutdown(): Promise<void>;
}
