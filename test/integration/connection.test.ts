/**
 * SmallWebRTCConnection behaviour with two real werift peers in one process, signalled through the HTTP routes
 * (driven with app.request, so no HTTP socket; media and data flow over UDP on 127.0.0.1).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { sleep, TestClient, withoutCandidates, withTimeout } from "../../scripts/support/weriftClient.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import type { SmallWebRTCConnection } from "../../lib/webrtc/connection.ts";

let server: TestServer;
const clients: TestClient[] = [];

function client(options?: ConstructorParameters<typeof TestClient>[0]): TestClient {
  const created = new TestClient(options);
  clients.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
});

async function connect(peer: TestClient, body: Record<string, unknown> = {}) {
  const { status, body: answer } = await server.post("/api/offer", { ...(await peer.offer()), ...body });
  expect(status).toBe(200);
  await peer.accept(answer);
  return answer as { sdp: string; type: string; pc_id: string };
}

const isType = (type: string) => (m: unknown) => (m as { type?: string })?.type === type;

describe("connection", () => {
  test("answers with every server candidate, connects, and completes the RTVI handshake", async () => {
    server = startTestServer();
    const peer = client();
    const answer = await connect(peer);

    expect(answer.type).toBe("answer");
    expect(answer.pc_id).toMatch(/^SmallWebRTCConnection#\d+-[0-9a-f]{32}$/);
    expect(answer.sdp).toContain("a=candidate:");
    expect(answer.sdp).toContain(" 127.0.0.1 ");
    // bot media goes out on transceivers 0 and 1; the screen slot (client sendonly) is answered recvonly.
    const directions = [...answer.sdp.matchAll(/^a=(sendrecv|recvonly|sendonly|inactive)$/gm)].map((m) => m[1]);
    expect(directions).toEqual(["sendrecv", "sendrecv", "recvonly"]);

    await peer.channelOpen();
    peer.send({ label: "rtvi-ai", type: "client-ready", id: "abc123", data: { version: "2.1.0" } });
    const ready = (await peer.waitFor(isType("bot-ready"))) as { id: string; label: string; data: { version: string } };
    expect(ready).toMatchObject({ label: "rtvi-ai", id: "abc123", data: { version: "2.1.0" } });

    peer.send({ label: "rtvi-ai", type: "no-such-type", id: "q1" });
    expect(await peer.waitFor(isType("error-response"))).toMatchObject({ id: "q1", data: { error: "Unsupported type no-such-type" } });
    expect((await server.request("/status").then((r) => r.json())).sessions).toBe(1);
  });

  test("adopts the client's data channel whatever its label, ignores pings and reports trackStatus", async () => {
    server = startTestServer({}, () => {});
    const peer = client({ dataChannelLabel: "rtvi-events" });
    const connecting = server.nextConnection();
    await connect(peer);
    const connection = await connecting;
    const statuses: [number, boolean][] = [];
    const messages: unknown[] = [];
    connection.on("trackStatus", (index, enabled) => statuses.push([index, enabled]));
    connection.on("appMessage", (message) => messages.push(message));
    connection.connect();

    await peer.channelOpen();
    peer.send("ping: 1795496795875");
    peer.send({ type: "signalling", message: { type: "trackStatus", receiver_index: 1, enabled: false } });
    peer.send({ hello: "world" });
    await withTimeout(waitUntil(() => messages.length === 1), 5000, "app message");

    expect(messages).toEqual([{ hello: "world" }]);
    expect(statuses).toEqual([[1, false]]);
    expect(connection.isTrackEnabled(1)).toBe(false);
    expect(connection.isTrackEnabled(0)).toBe(true);
    expect(connection.lastPingAt).toBeDefined();
    expect(connection.isAlive()).toBe(true);
  });

  test("holds app messages until connect() and replays them in order", async () => {
    server = startTestServer({}, () => {});
    const peer = client();
    const connecting = server.nextConnection();
    await connect(peer);
    const connection = await connecting;
    await peer.channelOpen();
    for (let i = 0; i < 5; i++) peer.send({ n: i });
    await sleep(300);

    const messages: unknown[] = [];
    connection.on("appMessage", (message) => messages.push(message));
    expect(messages).toEqual([]);
    connection.connect();
    expect(messages).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
  });

  test("queues at most 50 messages before the channel opens and flushes them in order", async () => {
    server = startTestServer({}, () => {});
    const peer = client();
    const connecting = server.nextConnection();
    const answer = server.post("/api/offer", await peer.offer());
    const connection = await connecting;
    for (let i = 0; i < 60; i++) connection.sendAppMessage({ n: i });
    await peer.accept((await answer).body);

    await peer.waitFor((m) => (m as { n?: number }).n === 49);
    await sleep(200);
    expect(peer.received).toEqual(Array.from({ length: 50 }, (_, n) => ({ n })));
  });

  test("trickle: an offer without candidates connects through PATCHed candidates and end-of-candidates", async () => {
    server = startTestServer();
    const peer = client();
    const { sdp, candidates } = withoutCandidates((await peer.offer()).sdp);
    expect(candidates.length).toBeGreaterThan(0);
    const { body: answer } = await server.post("/api/offer", { sdp, type: "offer" });
    await peer.accept(answer);

    const endMarkers = [{ candidate: "", sdp_mid: "0", sdp_mline_index: 0 }];
    const patched = await server.post("/api/offer", { pc_id: answer.pc_id, candidates: [...candidates, ...endMarkers] }, "PATCH");
    expect(patched).toEqual({ status: 200, body: { status: "success" } });
    const remote = server.server.handler.find(answer.pc_id)!.remoteCandidates;
    expect(remote).toEqual(candidates.map((c) => c.candidate.split(" ").slice(4, 6).join(":")));
    await peer.channelOpen();
    peer.send({ label: "rtvi-ai", type: "client-ready", id: "t1", data: { version: "2.1.0" } });
    await peer.waitFor(isType("bot-ready"));
  });

  test("renegotiate: a re-offer with the same pc_id is answered on the same peer connection", async () => {
    server = startTestServer({}, () => {});
    const peer = client();
    const connecting = server.nextConnection();
    const first = await connect(peer);
    const connection = await connecting;
    connection.connect();
    await peer.channelOpen();

    connection.askToRenegotiate();
    await peer.waitFor((m) => (m as { message?: { type?: string } }).message?.type === "renegotiate");
    let replaced = false;
    connection.on("disconnected", () => (replaced = true));
    const second = await connect(peer, { pc_id: first.pc_id, restart_pc: false });

    expect(second.pc_id).toBe(first.pc_id);
    // The same peer connection: same DTLS certificate and ICE credentials, and no replacement announced.
    const identity = (sdp: string) => sdp.match(/^a=(fingerprint|ice-ufrag):.*$/gm);
    expect(identity(second.sdp)).toEqual(identity(first.sdp));
    expect(replaced).toBe(false);
    expect(server.sessions.length).toBe(1);
    const echoed: unknown[] = [];
    connection.on("appMessage", (m) => echoed.push(m));
    peer.send({ after: "renegotiation" });
    await withTimeout(waitUntil(() => echoed.length === 1), 5000, "message after renegotiation");
  });

  test("restart_pc: a new peer connection and pc_id, and the old id still accepts PATCH", async () => {
    server = startTestServer({}, () => {});
    const first = client();
    const connecting = server.nextConnection();
    const initial = await connect(first);
    const connection = await connecting;
    connection.connect();
    await first.channelOpen();
    let disconnected = 0;
    connection.on("disconnected", () => disconnected++);

    // The client rebuilt its RTCPeerConnection (as after an ICE failure) and offers again with restart_pc.
    const second = client();
    const restarted = await connect(second, { pc_id: initial.pc_id, restart_pc: true });
    expect(restarted.pc_id).not.toBe(initial.pc_id);
    expect(disconnected).toBe(1);
    expect(server.sessions.length).toBe(1);
    await second.channelOpen();

    const late = await server.post("/api/offer", { pc_id: initial.pc_id, candidates: [{ candidate: "", sdp_mid: "0", sdp_mline_index: 0 }] }, "PATCH");
    expect(late.status).toBe(200);
    const received: unknown[] = [];
    connection.on("appMessage", (m) => received.push(m));
    second.send({ via: "restarted" });
    await withTimeout(waitUntil(() => received.length === 1), 5000, "message after restart");
    expect((await server.request("/status").then((r) => r.json())).sessions).toBe(1);
  });

  test("a peer that never connects is closed after the connect timeout and leaves nothing behind", async () => {
    server = startTestServer({ limits: { connectTimeoutSecs: 1 } }, () => {});
    const peer = client();
    const connecting = server.nextConnection();
    // The offer is answered, but the client never applies the answer, so ICE never completes.
    const { status } = await server.post("/api/offer", await peer.offer());
    expect(status).toBe(200);
    const connection = await connecting;
    expect(server.server.handler.size).toBe(1);

    await withTimeout(connection.next("closed"), 5000, "closed");
    expect(connection.isClosed).toBe(true);
    expect(server.server.handler.size).toBe(0);
  });

  test("without a data channel in time, outgoing messages are discarded instead of queued", async () => {
    server = startTestServer({ limits: { dataChannelTimeoutSecs: 1 } }, () => {});
    const noChannel = client({ media: [{ kind: "audio", direction: "sendrecv" }], dataChannelLabel: null });
    const connecting = server.nextConnection();
    await connect(noChannel);
    const connection: SmallWebRTCConnection = await connecting;
    await withTimeout(waitUntil(() => connection.state === "connected"), 5000, "connected");
    expect(connection.sendAppMessage({ early: true })).toBe(true);
    await sleep(1300);
    expect(connection.sendAppMessage({ late: true })).toBe(false);
  });

  test("a vanished client's port-unreachable errors do not take the server down", async () => {
    server = startTestServer({}, () => {});
    const gone = client();
    const connecting = server.nextConnection();
    await connect(gone);
    const connection = await connecting;
    await gone.channelOpen();
    // werift sends no close_notify: the client's sockets just close, and our packets now bounce with ICMP errors,
    // which Bun reports as socket "error" events.
    await gone.close();
    for (let i = 0; i < 20; i++) {
      connection.sendAppMessage({ i });
      await sleep(25);
    }
    const next = client();
    await connect(next);
    await next.channelOpen();
    next.send({ label: "rtvi-ai", type: "client-ready", id: "after", data: { version: "2.1.0" } });
  });

  test("disconnect() sends peerLeft to the client, then closes", async () => {
    server = startTestServer({}, () => {});
    const peer = client();
    const connecting = server.nextConnection();
    await connect(peer);
    const connection = await connecting;
    await peer.channelOpen();

    await connection.disconnect();
    expect(await peer.waitFor((m) => (m as { message?: { type?: string } }).message?.type === "peerLeft")).toEqual({
      type: "signalling",
      message: { type: "peerLeft" },
    });
    expect(connection.isClosed).toBe(true);
    expect(server.server.handler.size).toBe(0);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(20);
}
