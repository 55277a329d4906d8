/**
 * The SmallWebRTC signalling routes (docs/protocol.md §1): the direct `/api/offer` flow and the `/start` ->
 * `/sessions/:id/api/offer` flow, both with trickle ICE by PATCH; any other request under a session gets a 200.
 */
import { Hono } from "hono";
import type { IceServer } from "../config/iceServers.ts";
import type { OfferRequest } from "../webrtc/requestHandler.ts";
import { HttpError } from "./httpError.ts";
import { OfferBody, PatchBody, readJson, readJsonBody, StartBody } from "./requestBodies.ts";
import type { SessionHost } from "./sessionHost.ts";
import type { StartSessions } from "./startSessions.ts";

export interface SignallingDeps {
  sessions: SessionHost;
  startSessions: StartSessions;
  /** The ICE servers to hand to a client, with freshly minted TURN credentials. */
  iceServers: () => IceServer[];
}

export function signallingRoutes({ sessions, startSessions, iceServers }: SignallingDeps): Hono {
  const app = new Hono();

  const offer = async (body: OfferBody, fallbackData: unknown, sessionId: string | undefined) => {
    const request: OfferRequest = {
      sdp: body.sdp,
      type: body.type,
      pcId: body.pc_id,
      restartPc: body.restart_pc,
      requestData: body.request_data ?? body.requestData ?? fallbackData,
      sessionId,
    };
    return await sessions.handleOffer(request);
  };

  const patch = async (body: PatchBody) => {
    await sessions.handlePatch({
      pcId: body.pc_id,
      candidates: body.candidates.map((c) => ({
        candidate: c.candidate,
        sdpMid: c.sdp_mid,
        sdpMLineIndex: c.sdp_mline_index,
      })),
    });
    return { status: "success" };
  };

  app.post("/api/offer", async (c) => {
    return c.json(await offer(await readJsonBody(c, OfferBody), undefined, c.req.query("session_id") || undefined));
  });
  app.patch("/api/offer", async (c) => c.json(await patch(await readJsonBody(c, PatchBody))));

  app.post("/start", async (c) => {
    // Pipecat treats a missing or unparsable /start body as {}.
    const raw = await readJson(c).catch(() => ({}));
    const parsed = StartBody.safeParse(raw ?? {});
    if (!parsed.success) throw new HttpError(422, "invalid request: /start body must be a JSON object");
    const transport = parsed.data.transport ?? (parsed.data.createDailyRoom ? "daily" : "webrtc");
    if (transport !== "webrtc") {
      throw new HttpError(400, `Transport '${transport}' is not available: this server speaks only 'webrtc'`);
    }
    const session = startSessions.create(parsed.data.body);
    return c.json({ sessionId: session.id, iceConfig: { iceServers: iceServers() } });
  });

  const startSession = (id: string) => {
    const session = startSessions.get(id);
    if (!session) throw new HttpError(404, "Invalid or not-yet-ready session_id");
    return session;
  };

  // Pipecat Cloud proxies every request under /sessions/:id/ to the bot's process, for any method: offers and
  // trickle go to the connection, and anything else under a live session is acknowledged with a 200.
  app.all("/sessions/:id/*", async (c) => {
    const session = startSession(c.req.param("id"));
    const isOffer = c.req.path === `/sessions/${session.id}/api/offer`;
    if (isOffer && c.req.method === "POST") {
      const answer = await offer(await readJsonBody(c, OfferBody), session.body, session.id);
      const connection = sessions.find(answer.pc_id);
      if (connection) startSessions.activate(session.id, connection);
      return c.json(answer);
    }
    if (isOffer && c.req.method === "PATCH") return c.json(await patch(await readJsonBody(c, PatchBody)));
    return c.json({});
  });

  return app;
}
