/**
 * The connection events a bot hears beyond `connected` and `closed`: `failed` when a call ends without the client
 * hanging up, and `trackEnded` when the client stops one of its tracks. Real werift peers through the HTTP routes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { SmallWebRTCConnection } from "../../lib/webrtc/connection.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
});

function client(): TestClient {
  const created = new TestClient();
  clients.push(created);
  return created;
}

/** Every event of `connection` that this test is about, in order. */
function recordEvents(connection: SmallWebRTCConnection): string[] {
  const events: string[] = [];
  connection.on("failed", () => events.push("failed"));
  connection.on("closed", () => events.push("closed"));
  connection.on("trackEnded", (slot, kind) => events.push(`trackEnded ${slot} ${kind}`));
  return events;
}

/** Posts the client's offer (with `body` added) and returns the answer, applied. */
async function offer(peer: TestClient, body: Record<string, unknown> = {}): Promise<{ pc_id: string }> {
  const { status, body: answer } = await server.post("/api/offer", { ...(await peer.offer()), ...body });
  expect(status).toBe(200);
  await peer.accept(answer);
  return answer;
}

describe("connection events", () => {
  test("failed, then closed, when the client never connects; a client that hangs up gets closed only", async () => {
    server = startTestServer({ limits: { connectTimeoutSecs: 1 } }, () => {});

    // Positive control: a call that connects and is hung up by the client is not a failure.
    const hungUp = client();
    const first = server.nextConnection().then(recordEvents);
    await offer(hungUp);
    const hungUpEvents = await first;
    await hungUp.connected();
    await hungUp.close();
    await eventually(() => hungUpEvents.includes("closed"), 10_000, "the hung-up call to close");

    // This client's offer is answered, but it is gone before it could connect.
    const vanished = client();
    const second = server.nextConnection().then(recordEvents);
    const { status } = await server.post("/api/offer", await vanished.offer());
    expect(status).toBe(200);
    await vanished.close();
    const vanishedEvents = await second;
    await eventually(() => vanishedEvents.includes("closed"), 10_000, "the unconnected call to close");

    expect(vanishedEvents).toEqual(["failed", "closed"]);
    expect(hungUpEvents.filter((event) => event === "failed" || event === "closed")).toEqual(["closed"]);
  }, 30_000);

  test("trackEnded names the receiver and kind of a track the client stopped, and no other", async () => {
    server = startTestServer({}, () => {});
    const peer = client();
    const recorded = server.nextConnection().then(recordEvents);
    const answer = await offer(peer);
    const events = await recorded;
    await peer.connected();
    await peer.sendAudio(new Int16Array(960 * 5));
    expect(events).toEqual([]);

    // The client stops its microphone's transceiver and re-offers: that m-line goes to port 0.
    peer.pc.getTransceivers()[0].stop();
    await offer(peer, { pc_id: answer.pc_id });
    await eventually(() => events.includes("trackEnded 0 audio"), 10_000, "the microphone track to end");
    expect(events.filter((event) => event.startsWith("trackEnded"))).toEqual(["trackEnded 0 audio"]);
    expect(events).not.toContain("closed");
  }, 30_000);
});
