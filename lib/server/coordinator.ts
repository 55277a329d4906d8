/**
 * What the HTTP side needs from whatever coordinates this process with other instances (lib/cluster): a middleware
 * that runs before the signalling routes and may answer a request by forwarding it, the health it reports, and its
 * metrics. A single instance has none.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/logger.ts";
import type { SessionHost } from "./sessionHost.ts";
import type { StartSessions } from "./startSessions.ts";

export interface Coordinator {
  /** Runs after auth, rate limiting and the body limit, before the signalling routes. */
  readonly middleware: MiddlewareHandler;
  /** A request another instance forwarded: the client was already rate limited where it arrived. */
  isPeerRequest(request: Request): boolean;
  /** "degraded" while the instance serves alone because it cannot reach the others' registry. */
  health(): { status: "ok" | "degraded"; reason?: string };
  /** Its /metrics lines. */
  renderMetrics(): string;
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

/** What a coordinator is built over: this process's sessions and `/start` records. */
export interface CoordinatorParts {
  sessions: SessionHost;
  startSessions: StartSessions;
  logger: Logger;
}
