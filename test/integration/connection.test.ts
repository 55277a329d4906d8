/**
 * SmallWebRTCConnection behaviour with two real werift peers in one process, signalled through the HTTP routes
 * (driven with app.request, so no HTTP socket; media and data flow over UDP on 127.0.0.1).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { echoBot } from "../../lib/bots/echo.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { TestClient, withoutCandidates, withTimeout } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
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
    await eventually(() => messages.length === 1, 5000, "app message");

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
    // Pings are never held, and the channel is ordered: once this one is seen, the five messages have arrived too.
    peer.send(`ping: ${Date.now()}`);
    await eventually(() => connection.lastPingAt !== undefined, 5000, "the ping after the messages");

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

    // The channel is ordered: once a message sent after the flush arrives, everything flushed before it has too.
    await peer.channelOpen();
    connection.sendAppMessage({ n: "after" });
    await peer.waitFor((m) => (m as { n?: unknown }).n === "after");
    expect(peer.received).toEqual([...Array.from({ length: 50 }, (_, n) => ({ n })), { n: "after" }]);
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
    await eventually(() => echoed.length === 1, 5000, "message after renegotiation");
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
    await eventually(() => received.length === 1, 5000, "message after restart");
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
    await eventually(() => connection.state === "connected", 5000, "connected");
    expect(connection.sendAppMessage({ early: true })).toBe(true);
    // Each probe that is accepted is queued; probing every 100 ms keeps the probes far below the 50-message queue
    // limit, so the refusal can only come from the data channel timeout.
    let probes = 0;
    const refused = () => {
      probes++;
      return !connection.sendAppMessage({ late: true });
    };
    await eventually(refused, 5000, "messages to be refused once the data channel timeout passed", { pollMs: 100 });
    expect(probes).toBeLessThan(40);
  });

  test("port-unreachable errors from a vanished client do not take the server down", async () => {
    const lines: string[] = [];
    server = startTestServer({}, echoBot, createLogger({ level: "debug", write: (line) => lines.push(line) }));
    const live = client();
    const answer = await connect(live);
    await live.channelOpen();
    const [, serverPort] = answer.sdp.match(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/)!;

    // A client's last connectivity checks arrive after it is gone: each answer the server sends bounces with an ICMP
    // port-unreachable, which Bun reports on the server's socket as an "error" event (recvmsg ECONNREFUSED). More
    // checks than one read batch (8) make the socket read again after its first answers bounced.
    const vanished = createSocket("udp4");
    await new Promise<void>((resolve) => vanished.bind(0, "127.0.0.1", resolve));
    await Promise.all(Array.from({ length: 64 }, () => new Promise((sent) => {
      vanished.send(bindingRequest(), Number(serverPort), "127.0.0.1", sent);
    })));
    vanished.close();
    const bounced = () => lines.some((line) => line.includes("UDP socket error ignored"));
    await eventually(bounced, 10_000, "an ICMP error on the server's socket");

    live.send({ label: "rtvi-ai", type: "client-ready", id: "after", data: { version: "2.1.0" } });
    await live.waitFor(isType("bot-ready"));
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

/** A STUN binding request (RFC 8489 section 5) carrying only a USERNAME, like a client's connectivity check. */
function bindingRequest(): Uint8Array {
  const username = new TextEncoder().encode("server:client");
  const padded = Math.ceil(username.length / 4) * 4;
  const request = new Uint8Array(24 + padded);
  const view = new DataView(request.buffer);
  view.setUint16(0, 0x0001); // Binding request
  view.setUint16(2, 4 + padded);
  view.setUint32(4, 0x2112a442); // magic cookie
  crypto.getRandomValues(request.subarray(8, 20)); // transaction ID
  view.setUint16(20, 0x0006); // USERNAME
  view.setUint16(22, username.length);
  request.set(username, 24);
  return request;
}
