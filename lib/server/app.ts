/**
 * The Hono application: signalling routes, status, the static test client, and the middleware that keeps every
 * client mistake a JSON 4xx. Built without sockets, so tests drive it with `app.request()`.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Config } from "../config/schema.ts";
import { resolveIceServers } from "../config/turnCredentials.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { VERSION } from "../version.ts";
import { SignallingError, type SignallingErrorReason } from "../webrtc/errors.ts";
import { type AssetSource, contentType } from "./assets.ts";
import { folderFiles } from "./folderFiles.ts";
import { errorResponse, HttpError } from "./httpError.ts";
import { isAuthorized } from "./accessTokens.ts";
import type { Coordinator } from "./coordinator.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionHost } from "./sessionHost.ts";
import { isOriginAllowed } from "./originPolicy.ts";
import { RateLimiter } from "./rateLimit.ts";
import { signallingRoutes } from "./signallingRoutes.ts";
import type { StartSessions } from "./startSessions.ts";

/** What the HTTP server knows about a request beyond the Request itself. */
export interface RequestInfo {
  remoteAddress?: string;
}

export interface AppOptions {
  config: Config;
  sessions: SessionHost;
  startSessions: StartSessions;
  metrics: Metrics;
  /** Other instances this one works with (lib/cluster); none for a single instance. */
  coordinator?: Coordinator;
  /** The test client served under /client/. */
  assets?: AssetSource;
  logger?: Logger;
}

const SIGNALLING_STATUS: Record<SignallingErrorReason, ContentfulStatusCode> = {
  "invalid-offer": 400,
  "invalid-candidate": 400,
  "peer-not-found": 404,
  capacity: 503,
  // 409, not 503: this process will not take another session, so waiting and retrying here would not help.
  busy: 409,
};

/** Routes that create sessions, and so are rate limited per client IP. */
const OFFER_ROUTES = /^\/(api\/offer|start|sessions\/[^/]+\/api\/offer)$/;
/** Routes that need a token when auth is configured. */
const PROTECTED_ROUTES = /^\/(api\/offer|start|sessions\/.*|files\/.*|metrics)$/;

export function createApp(options: AppOptions): Hono<{ Bindings: RequestInfo }> {
  const { config, sessions, startSessions, assets, metrics, coordinator } = options;
  const logger = options.logger ?? silentLogger;
  const app = new Hono<{ Bindings: RequestInfo }>();
  const limiter = new RateLimiter({ perMinute: config.limits.offersPerMinute });

  app.onError((error) => {
    if (error instanceof HttpError) return errorResponse(error);
    if (error instanceof SignallingError) {
      const retry = error.retryAfterSecs === undefined ? undefined : { "Retry-After": String(error.retryAfterSecs) };
      return errorResponse(new HttpError(SIGNALLING_STATUS[error.reason], error.message, retry));
    }
    logger.error("request failed", { error: error.stack ?? error.message });
    return errorResponse(new HttpError(500, "internal server error"));
  });
  app.notFound((c) => errorResponse(new HttpError(404, `no route for ${c.req.method} ${c.req.path}`)));

  const allowed = (origin: string, url: string) => isOriginAllowed(origin, url, config.allowedOrigins);
  app.use(
    "*",
    cors({
      origin: (origin, c) => (allowed(origin, c.req.url) ? origin : null),
      allowMethods: ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
      allowHeaders: ["Content-Type", "Authorization"],
      maxAge: 600,
    }),
  );
  // CORS only stops a browser from reading the reply; refusing the request keeps other sites from starting bots.
  app.use("*", async (c, next) => {
    const origin = c.req.header("origin");
    if (origin && c.req.method !== "GET" && !allowed(origin, c.req.url)) {
      throw new HttpError(403, "origin not allowed; add it to allowedOrigins");
    }
    await next();
  });
  app.use("*", async (c, next) => {
    if (!PROTECTED_ROUTES.test(c.req.path)) return next();
    const presented = c.req.header("authorization")?.replace(/^Bearer\s+/i, "");
    if (!isAuthorized(config.auth, presented)) {
      throw new HttpError(401, "missing or invalid access token", { "WWW-Authenticate": "Bearer" });
    }
    await next();
  });
  app.use("*", async (c, next) => {
    // An offer another instance forwarded was limited and is counted where it landed: once across the cluster.
    const counted = c.req.method === "POST" && OFFER_ROUTES.test(c.req.path) && !coordinator?.isPeerRequest(c.req.raw);
    if (counted) {
      const retryAfter = limiter.take(clientIp(c.req.raw, c.env, config.limits.trustProxyHeaders));
      if (retryAfter > 0) {
        metrics.countOffer(429);
        throw new HttpError(429, `too many offers; retry in ${retryAfter} s`, { "Retry-After": String(retryAfter) });
      }
    }
    await next();
    if (counted) metrics.countOffer(c.res.status);
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: config.limits.maxBodyBytes,
      onError: () => errorResponse(new HttpError(413, `request body is larger than ${config.limits.maxBodyBytes} bytes`)),
    }),
  );

  if (coordinator) app.use("*", coordinator.middleware);
  app.route("/", signallingRoutes({ sessions, startSessions, iceServers: () => resolveIceServers(config) }));
  if (config.folder) app.route("/", folderFiles(config.folder));

  app.get("/status", (c) =>
    c.json({ status: "ready", sessions: sessions.size, transports: ["webrtc"], version: VERSION, ...sessions.status() }));
  // Degraded still answers 200: the instance serves its sessions and takes new ones, so a balancer should keep it.
  app.get("/health", (c) => c.json(coordinator?.health() ?? { status: "ok" }));
  app.get("/metrics", async (c) => {
    const text = metrics.renderOffers() + await sessions.renderMetrics() + (coordinator?.renderMetrics() ?? "");
    return c.body(text, 200, { "Content-Type": "text/plain; version=0.0.4" });
  });
  app.get("/", (c) => c.redirect("/client/", 307));
  app.get("/client", (c) => c.redirect("/client/", 307));
  app.get("/client/*", async (c) => {
    const path = c.req.path.slice("/client/".length) || "index.html";
    const body = await assets?.read(decodeURIComponent(path));
    if (!body) throw new HttpError(404, `no such file: ${path}`);
    return c.body(body as Uint8Array<ArrayBuffer>, 200, { "Content-Type": contentType(path), "Cache-Control": "no-cache" });
  });

  return app;
}

/** The client's IP: the socket's peer, or the first X-Forwarded-For entry behind a trusted proxy. */
function clientIp(request: Request, info: RequestInfo | undefined, trustProxy: boolean): string {
  const forwarded = trustProxy ? request.headers.get("x-forwarded-for")?.split(",")[0]?.trim() : undefined;
  return forwarded || info?.remoteAddress || "unknown";
}
