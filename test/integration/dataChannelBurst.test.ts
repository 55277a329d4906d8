/**
 * A client that queues 10,000 data channel messages at once gets every one echoed back by the echo bot, in order.
 * Without the single drain loop in weriftPatches.ts, werift delivered about a hundred of them in half a minute.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";

const MESSAGES = 10_000;
let server: TestServer | undefined;
let client: TestClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

describe("data channel burst", () => {
  test("10,000 queued messages all come back, in order", async () => {
    server = startTestServer();
    client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
    const { body: answer } = await server.post("/api/offer", await client.offer());
    await client.accept(answer);
    await client.channelOpen();

    for (let seq = 0; seq < MESSAGES; seq++) client.send({ burst: seq, padding: "x".repeat(100) });
    await client.waitFor((message) => (message as { burst?: number }).burst === MESSAGES - 1, 30_000);

    const echoed = client.received.flatMap((message) => {
      const seq = (message as { burst?: number }).burst;
      return seq === undefined ? [] : [seq];
    });
    expect(echoed).toEqual(Array.from({ length: MESSAGES }, (_, seq) => seq));
  }, 60_000);
});
