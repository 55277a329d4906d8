/**
 * The SmallWebRTC signalling routes (docs/protocol.md §1): the direct `/api/offer` flow and the `/start` ->
 * `/sessions/:id/api/offer` flow, both with trickle ICE by PATCH.
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

  const offer = async (body: OfferBody, fallbackData: unknown) => {
    const request: OfferRequest = {
      sdp: body.sdp,
      type: body.type,
      pcId: body.pc_id,
      restartPc: body.restart_pc,
      requestData: body.request_data ?? body.requestData ?? fallbackData,
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

  app.post("/api/offer", async (c) => c.json(await offer(await readJsonBody(c, OfferBody), undefined)));
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

  app.post("/sessions/:id/api/offer", async (c) => {
    const session = startSession(c.req.param("id"));
    const answer = await offer(await readJsonBody(c, OfferBody), session.body);
    const connection = sessions.find(answer.pc_id);
    if (connection) startSessions.activate(session.id, connection);
    return c.json(answer);
  });
  app.patch("/sessions/:id/api/offer", async (c) => {
    startSession(c.req.param("id"));
    return c.json(await patch(await readJsonBody(c, PatchBody)));
  });

  return app;
}
