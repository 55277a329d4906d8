/**
 * Where a signalling request is served. A request naming a connection (a PATCH, a re-offer, a restart) goes to the
 * instance that holds it; a request under a `/start` session whose connection is elsewhere goes there too; a pending
 * `/start` session made on another instance is taken in here, so its offer is answered here; and a new offer to an
 * instance above limits.workerLoad goes to the least loaded one below it. Whatever this instance answers itself, it
 * records: the connections its offers created and the `/start` sessions they activated. A request another instance
 * forwarded is always answered here (one hop at most).
 *
 * While Redis is unreachable nobody can say who holds what, so a request for a connection or `/start` session this
 * instance does not hold is put to the instances known at the last heartbeat, one by one, each asked to answer only
 * if it holds it: calls keep their trickle, re-offers and restarts wherever the balancer sends them.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Logger } from "../log/logger.ts";
import type { SessionHost } from "../server/sessionHost.ts";
import type { StartSessions } from "../server/startSessions.ts";
import type { ClusterMetrics, ForwardKind } from "./clusterMetrics.ts";
import { FORWARDED_BY_HEADER, forwardRequest, IF_HELD_HEADER } from "./forwardRequest.ts";
import type { Ownership } from "./ownership.ts";
import { choosePeer } from "./placement.ts";
import type { InstanceEntry, Registry } from "./registry.ts";

export interface ClusterRoutingOptions {
  instanceId: string;
  /** Marks the requests this instance forwards (InstanceEntry.peerKey). */
  peerKey: string;
  sessions: SessionHost;
  startSessions: StartSessions;
  registry: Registry;
  ownership: Ownership;
  metrics: ClusterMetrics;
  /** limits.workerLoad: above it, new offers go to a less loaded instance. */
  maxLoad: number;
  forwardTimeoutMs: number;
  /** Whether the shared registry can be asked now (else everything is served here). */
  connected: () => boolean;
  logger: Logger;
}

const OFFER_PATH = /^\/(api\/offer|sessions\/[^/]+\/api\/offer)$/;
const SESSION_PATH = /^\/sessions\/([^/]+)\//;

/** Where a request goes: another instance (with why), or here. */
type Route = { owner: string; kind: ForwardKind } | undefined;

export function clusterRouting(options: ClusterRoutingOptions): MiddlewareHandler {
  const { instanceId, sessions, startSessions, ownership } = options;
  // Offers placed on each peer since its entry was read: every heartbeat reads new entries, which start at none.
  const placedSince = new WeakMap<InstanceEntry, number>();

  const route = async (c: Context, pcId: string | undefined, sessionId: string | undefined): Promise<Route> => {
    const isOffer = c.req.method === "POST" && OFFER_PATH.test(c.req.path);
    if (pcId) {
      if (sessions.find(pcId)) return undefined;
      const owner = await ownership.ownerOf(pcId);
      if (owner && owner !== instanceId) return { owner, kind: isOffer ? "reoffer" : "patch" };
    }
    if (sessionId && !startSessions.get(sessionId)?.active) {
      const record = await ownership.findStart(sessionId);
      if (record?.owner && record.owner !== instanceId) return { owner: record.owner, kind: "session" };
      if (record && !record.owner) startSessions.adopt(sessionId, record.body);
    }
    if (isOffer && !pcId && sessions.load() > options.maxLoad) {
      const peer = choosePeer(options.registry.peers(), options.maxLoad, (entry) => placedSince.get(entry) ?? 0);
      if (peer) {
        placedSince.set(peer, (placedSince.get(peer) ?? 0) + 1);
        return { owner: peer.id, kind: "offer" };
      }
    }
    return undefined;
  };

  const send = (c: Context, peer: InstanceEntry, body: string | undefined, ifHeld = false) =>
    forwardRequest(c.req.raw, body, {
      baseUrl: peer.url,
      ownerId: peer.id,
      peerKey: options.peerKey,
      ifHeld,
      clientIp: (c.env as { remoteAddress?: string } | undefined)?.remoteAddress,
      timeoutMs: options.forwardTimeoutMs,
    });

  const forward = async (c: Context, owner: string, kind: ForwardKind, body: string | undefined) => {
    const peer = await options.registry.peer(owner);
    if (!peer) {
      // Its entry expired between the two reads: it is gone, and so is the session.
      return Response.json({ detail: "Peer connection not found: the instance that held it is gone" }, { status: 404 });
    }
    const { response, result } = await send(c, peer, body);
    options.metrics.countForward(kind, result);
    if (result !== "answered") options.logger.warn("forwarding failed", { to: owner, kind, result });
    return response;
  };

  /**
   * Without Redis: the answer of the known instance that holds the session, if one does. All are asked at once (only
   * the holder acts on it), so a dead or hung one delays nobody.
   */
  const search = (c: Context, body: string | undefined): Promise<Response | undefined> => {
    const peers = options.registry.peers();
    if (peers.length === 0) return Promise.resolve(undefined);
    const found = Promise.withResolvers<Response | undefined>();
    let unanswered = peers.length;
    for (const peer of peers) {
      void send(c, peer, body, true).then(({ response, result }) => {
        if (result !== "answered") {
          options.metrics.countForward("search", result);
          options.logger.warn("search failed", { to: peer.id, result });
        } else if (response.status !== 404) {
          options.metrics.countForward("search", result);
          found.resolve(response);
        }
        if (--unanswered === 0) found.resolve(undefined);
      });
    }
    return found.promise;
  };

  /** Whether this instance holds what the request names: its connection, else its `/start` session. */
  const holds = (pcId: string | undefined, sessionId: string | undefined) =>
    pcId ? sessions.find(pcId) !== undefined : sessionId ? startSessions.get(sessionId) !== undefined : true;

  return async (c, next) => {
    const path = c.req.path;
    const sessionId = SESSION_PATH.exec(path)?.[1];
    const isOfferPath = OFFER_PATH.test(path);
    if (!isOfferPath && !sessionId && path !== "/start") return await next();

    if (path === "/start") {
      await next();
      if (c.req.method !== "POST" || c.res.status !== 200) return;
      const { sessionId: created } = await c.res.clone().json() as { sessionId?: string };
      const session = created ? startSessions.get(created) : undefined;
      // Written before /start answers, so that the offer, wherever it lands, finds it.
      if (session) await ownership.savePending(session);
      return;
    }

    const hasBody = isOfferPath && (c.req.method === "POST" || c.req.method === "PATCH");
    const body = c.req.method === "GET" || c.req.method === "HEAD" ? undefined : await c.req.text();
    const pcId = hasBody ? pcIdOf(body) : undefined;
    const forwardedBy = c.req.header(FORWARDED_BY_HEADER);
    if (forwardedBy && c.req.header(IF_HELD_HEADER) && !holds(pcId, sessionId)) {
      return Response.json({ detail: "not held by this instance" }, { status: 404 });
    }
    if (!forwardedBy && !options.connected()) {
      // New sessions are taken here, and what this instance takes meanwhile is written once Redis is back.
      const answer = holds(pcId, sessionId) ? undefined : await search(c, body);
      if (answer) return answer;
    }
    const target = options.connected() ? await route(c, pcId, sessionId) : undefined;
    if (target && !forwardedBy) return await forward(c, target.owner, target.kind, body);

    await next();
    if (c.req.method !== "POST" || !isOfferPath || c.res.status !== 200) return;
    const { pc_id: answered } = await c.res.clone().json() as { pc_id?: string };
    const connection = answered ? sessions.find(answered) : undefined;
    if (!answered || !connection) return;
    // Recorded before the answer goes out, so that the client's first PATCH, wherever it lands, finds the owner.
    const session = sessionId ? startSessions.get(sessionId) : undefined;
    await Promise.all([
      ownership.ownConnection(answered, connection),
      session?.active ? ownership.ownStart(session, connection) : undefined,
    ]);
  };
}

/** The pc_id a JSON body names, if any; a body that is not JSON is left for the route to reject. */
function pcIdOf(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const pcId = (JSON.parse(body) as { pc_id?: unknown }).pc_id;
    return typeof pcId === "string" && pcId !== "" ? pcId : undefined;
  } catch {
    return undefined;
  }
}
