/** Every signalling route and error path, driven in-process with app.request(). */
import { afterEach, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
});

async function realOffer() {
  const client = new TestClient();
  clients.push(client);
  return await client.offer();
}

const JSON_HEADERS = { "Content-Type": "application/json" };

async function expectJsonError(response: Response | Promise<Response>, status: number, detail?: string | RegExp) {
  const res = await response;
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toStartWith("application/json");
  const body = await res.json();
  expect(typeof body.detail).toBe("string");
  if (typeof detail === "string") expect(body.detail).toBe(detail);
  else if (detail) expect(body.detail).toMatch(detail);
}

describe("POST /api/offer", () => {
  test("passes request_data (or camelCase requestData) to the bot", async () => {
    server = startTestServer({}, () => {});
    expect((await server.post("/api/offer", { ...(await realOffer()), request_data: { a: 1 } })).status).toBe(200);
    expect((await server.post("/api/offer", { ...(await realOffer()), requestData: { b: 2 } })).status).toBe(200);
    expect(server.sessions.map((s) => s.body)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  test("?session_id= reaches the bot as sessionId; without it there is none", async () => {
    server = startTestServer({}, () => {});
    expect((await server.post("/api/offer?session_id=abc-1", await realOffer())).status).toBe(200);
    expect((await server.post("/api/offer", await realOffer())).status).toBe(200);
    expect(server.sessions.map((s) => s.sessionId)).toEqual(["abc-1", undefined]);
  });

  test("rejects what is not JSON with 400 and a wrong shape with 422", async () => {
    server = startTestServer();
    await expectJsonError(server.request("/api/offer", { method: "POST", body: "{not json", headers: JSON_HEADERS }), 400);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: { type: "offer" } }), 422, /sdp/);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: { sdp: "v=0", type: "answer" } }), 422, /type/);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: [1, 2] }), 422);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: { sdp: 5, type: "offer" } }), 422, /sdp/);
  });

  test("a junk SDP gets 400 and creates no session and no bot", async () => {
    server = startTestServer();
    for (const sdp of ["v=0\r\n", "hello", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"]) {
      await expectJsonError(server.request("/api/offer", { method: "POST", json: { sdp, type: "offer" } }), 400);
    }
    expect(server.server.handler.size).toBe(0);
    expect(server.sessions).toEqual([]);
  });

  test("a body over the limit gets 413", async () => {
    server = startTestServer({ limits: { maxBodyBytes: 2048 } });
    const sdp = "v=0\r\n" + "a=x\r\n".repeat(1000);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: { sdp, type: "offer" } }), 413, /larger than 2048/);
  });

  test("beyond maxSessions, offers get 503", async () => {
    server = startTestServer({ limits: { maxSessions: 1 } }, () => {});
    expect((await server.post("/api/offer", await realOffer())).status).toBe(200);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: await realOffer() }), 503, /limit of 1 sessions/);
  });
});

describe("PATCH /api/offer", () => {
  test("unknown pc_id is 404, a null one 422, a malformed candidate 400", async () => {
    server = startTestServer({}, () => {});
    const candidates = [{ candidate: "", sdp_mid: "0", sdp_mline_index: 0 }];
    await expectJsonError(server.request("/api/offer", { method: "PATCH", json: { pc_id: "nope", candidates } }), 404, "Peer connection not found");
    await expectJsonError(server.request("/api/offer", { method: "PATCH", json: { pc_id: null, candidates } }), 422, /pc_id/);
    await expectJsonError(server.request("/api/offer", { method: "PATCH", json: { pc_id: "x" } }), 422, /candidates/);

    const { body: answer } = await server.post("/api/offer", await realOffer());
    const bad = [{ candidate: "candidate:garbage", sdp_mid: "0", sdp_mline_index: 0 }];
    await expectJsonError(server.request("/api/offer", { method: "PATCH", json: { pc_id: answer.pc_id, candidates: bad } }), 400, /candidate/);
  });

  test("end-of-candidates markers do not fail the batch (Firefox sends one per m-line)", async () => {
    server = startTestServer({}, () => {});
    const { body: answer } = await server.post("/api/offer", await realOffer());
    const candidates = [
      { candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", sdp_mid: "0", sdp_mline_index: 0 },
      { candidate: "", sdp_mid: "0", sdp_mline_index: 0 },
      { candidate: "candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host", sdp_mid: "1", sdp_mline_index: 1 },
      { candidate: "", sdp_mid: "1", sdp_mline_index: 1 },
      { candidate: "", sdp_mid: null, sdp_mline_index: 3 },
    ];
    expect(await server.post("/api/offer", { pc_id: answer.pc_id, candidates }, "PATCH")).toEqual({
      status: 200,
      body: { status: "success" },
    });
  });
});

describe("POST /start and /sessions/:id/api/offer", () => {
  test("returns a session id and the ICE config with minted TURN credentials", async () => {
    server = startTestServer({
      iceServers: [{ urls: "stun:stun.example.com:3478" }],
      turn: { urls: ["turn:turn.example.com:3478"], secret: "s3cret" },
    });
    const { status, body } = await server.post("/start", { createDailyRoom: false, enableDefaultIceServers: true, transport: "webrtc" });
    expect(status).toBe(200);
    expect(body.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.iceConfig.iceServers[0]).toEqual({ urls: ["stun:stun.example.com:3478"] });
    expect(body.iceConfig.iceServers[1]).toMatchObject({ urls: ["turn:turn.example.com:3478"], username: expect.stringMatching(/^\d+:smallwebrtc$/) });
    expect(JSON.stringify(body)).not.toContain("s3cret");
  });

  test("the /start body reaches the bot, unless the offer brings its own request data", async () => {
    server = startTestServer({}, () => {});
    const { body: started } = await server.post("/start", { body: { room: "kitchen" } });
    const { status } = await server.post(`/sessions/${started.sessionId}/api/offer`, await realOffer());
    expect(status).toBe(200);
    const { body: again } = await server.post("/start", { body: { room: "hall" } });
    await server.post(`/sessions/${again.sessionId}/api/offer`, { ...(await realOffer()), requestData: { own: true } });
    expect(server.sessions.map((s) => s.body)).toEqual([{ room: "kitchen" }, { own: true }]);
    expect(server.sessions.map((s) => s.sessionId)).toEqual([started.sessionId, again.sessionId]);
  });

  test("an empty or unparsable /start body is treated as {}", async () => {
    server = startTestServer();
    expect((await server.request("/start", { method: "POST" })).status).toBe(200);
    expect((await server.request("/start", { method: "POST", body: "][" })).status).toBe(200);
  });

  test("other transports are refused with 400", async () => {
    server = startTestServer();
    await expectJsonError(server.request("/start", { method: "POST", json: { transport: "daily" } }), 400, /Transport 'daily'/);
    await expectJsonError(server.request("/start", { method: "POST", json: { createDailyRoom: true } }), 400, /Transport 'daily'/);
  });

  test("unknown session ids get a JSON 404 for any method and path", async () => {
    server = startTestServer();
    await expectJsonError(server.request("/sessions/nope/api/offer", { method: "POST", json: await realOffer() }), 404);
    await expectJsonError(server.request("/sessions/nope/api/offer", { method: "PATCH", json: { pc_id: "x", candidates: [] } }), 404);
    for (const method of ["GET", "PUT", "DELETE", "POST"]) {
      await expectJsonError(server.request("/sessions/nope/anything/else", { method }), 404, "Invalid or not-yet-ready session_id");
    }
  });

  test("any other request under a known session gets 200 and {}, for any method, and starts no bot", async () => {
    server = startTestServer({}, () => {});
    const { body: started } = await server.post("/start", {});
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
      const response = await server.request(`/sessions/${started.sessionId}/app/state?x=1`, { method, body: "{}" });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
    }
    // A GET of the offer path is not an offer either.
    expect((await server.request(`/sessions/${started.sessionId}/api/offer`)).status).toBe(200);
    expect(server.sessions).toHaveLength(0);
    // Positive control: the offer path on the same session does start the bot.
    expect((await server.post(`/sessions/${started.sessionId}/api/offer`, await realOffer())).status).toBe(200);
    expect(server.sessions).toHaveLength(1);
  });

  test("a bad offer body under a session still gets its JSON 4xx", async () => {
    server = startTestServer();
    const { body: started } = await server.post("/start", {});
    await expectJsonError(server.request(`/sessions/${started.sessionId}/api/offer`, { method: "POST", body: "][" }), 400);
    await expectJsonError(server.request(`/sessions/${started.sessionId}/api/offer`, { method: "PATCH", json: { x: 1 } }), 422);
  });

  test("PATCH through the session path reaches the connection", async () => {
    server = startTestServer({}, () => {});
    const { body: started } = await server.post("/start", {});
    const { body: answer } = await server.post(`/sessions/${started.sessionId}/api/offer`, await realOffer());
    const patch = { pc_id: answer.pc_id, candidates: [{ candidate: "", sdp_mid: "0", sdp_mline_index: 0 }] };
    expect((await server.post(`/sessions/${started.sessionId}/api/offer`, patch, "PATCH")).status).toBe(200);
  });
});

describe("singleSession", () => {
  test("a second offer while the session is live gets a JSON 409; its own re-offer and PATCH still work", async () => {
    // Positive control: without the mode, two sessions side by side are fine.
    server = startTestServer({}, () => {});
    expect((await server.post("/api/offer", await realOffer())).status).toBe(200);
    expect((await server.post("/api/offer", await realOffer())).status).toBe(200);
    await server.close();

    server = startTestServer({ singleSession: true }, () => {});
    const { status, body: answer } = await server.post("/api/offer", await realOffer());
    expect(status).toBe(200);
    await expectJsonError(server.request("/api/offer", { method: "POST", json: await realOffer() }), 409, /one session per process/);
    const { body: started } = await server.post("/start", {});
    await expectJsonError(server.request(`/sessions/${started.sessionId}/api/offer`, { method: "POST", json: await realOffer() }), 409);
    expect((await server.post("/api/offer", { ...(await realOffer()), pc_id: answer.pc_id })).status).toBe(200);
    const patch = { pc_id: answer.pc_id, candidates: [{ candidate: "", sdp_mid: "0", sdp_mline_index: 0 }] };
    expect((await server.post("/api/offer", patch, "PATCH")).status).toBe(200);
    expect(server.sessions).toHaveLength(1);
    const metrics = await (await server.request("/metrics")).text();
    expect(metrics).toContain('smallwebrtc_offers_total{result="busy"} 2');

    // Once that session has ended, the next offer is taken.
    await server.sessions[0].webrtcConnection.close();
    expect((await server.post("/api/offer", await realOffer())).status).toBe(200);
  });

  test("of two offers at once, exactly one is answered", async () => {
    server = startTestServer({ singleSession: true }, () => {});
    const [a, b] = await Promise.all([realOffer(), realOffer()]);
    const statuses = await Promise.all([server.post("/api/offer", a), server.post("/api/offer", b)]);
    expect(statuses.map((r) => r.status).sort()).toEqual([200, 409]);
  });
});

describe("other routes", () => {
  test("/ redirects to the test client; /status reports sessions", async () => {
    server = startTestServer();
    const redirect = await server.request("/");
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get("location")).toBe("/client/");
    expect(await (await server.request("/status")).json()).toMatchObject({ status: "ready", sessions: 0 });
  });

  test("unknown routes get a JSON 404", async () => {
    server = startTestServer();
    await expectJsonError(server.request("/nope"), 404);
    await expectJsonError(server.request("/api/offer"), 404);
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    server.request("/api/offer", {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "content-type" },
    });

  test("localhost origins pass the preflight; PATCH and content-type are allowed", async () => {
    server = startTestServer();
    const response = await preflight("http://localhost:5173");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(response.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("other origins get no CORS grant and their requests are refused with 403", async () => {
    server = startTestServer();
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    await expectJsonError(
      server.request("/start", { method: "POST", headers: { Origin: "https://evil.example" } }),
      403,
      /origin not allowed/,
    );
    expect(server.server.startSessions.size).toBe(0);
  });

  test("configured origins are allowed", async () => {
    server = startTestServer({ allowedOrigins: ["https://app.example"] });
    expect((await preflight("https://app.example")).headers.get("access-control-allow-origin")).toBe("https://app.example");
    const response = await server.request("/start", { method: "POST", headers: { Origin: "https://app.example" } });
    expect(response.status).toBe(200);
  });
});
