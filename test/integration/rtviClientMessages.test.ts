/**
 * The RTVI messages @pipecat-ai/client-js sends, over a real data channel from a werift client to a server built as
 * the runner builds it: UI messages reach a bot written against the public API as client messages, and the types
 * nothing serves come back as an error-response naming them (docs/protocol.md §4.3, §4.4).
 */
import { afterEach, describe, expect, test } from "bun:test";
import {
  type ClientMessage,
  Pipeline,
  PipelineRunner,
  PipelineTask,
  RTVIProcessor,
  type RunnerArguments,
  SmallWebRTCTransport,
} from "../../lib/mod.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

let server: TestServer | undefined;
let client: TestClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

/** Connects a werift client to `server` and completes the RTVI handshake. */
async function readyClient(testServer: TestServer): Promise<TestClient> {
  const peer = new TestClient();
  client = peer;
  const { status, body } = await testServer.post("/api/offer", await peer.offer());
  expect(status).toBe(200);
  await peer.accept(body);
  await peer.channelOpen();
  peer.send({ label: "rtvi-ai", type: "client-ready", id: "r1", data: { version: "2.1.0" } });
  await peer.waitFor(withId("r1"));
  return peer;
}

const withId = (id: string) => (m: unknown) => (m as { id?: string })?.id === id;

describe("RTVI client messages over the data channel", () => {
  test("ui-event and ui-snapshot reach a bot as client messages, data intact; it answers them", async () => {
    const received: ClientMessage[] = [];
    const bot = async ({ webrtcConnection }: RunnerArguments) => {
      const transport = new SmallWebRTCTransport(webrtcConnection, {});
      const rtvi = new RTVIProcessor();
      rtvi.events.on("clientMessage", (message) => {
        received.push(message);
        return rtvi.sendServerResponse(message, { kind: message.kind });
      });
      const task = new PipelineTask(new Pipeline([transport.input(), rtvi, transport.output()]));
      transport.on("clientDisconnected", () => task.cancel());
      await new PipelineRunner({ handleSignals: false }).run(task);
    };
    server = startTestServer({}, bot);
    const peer = await readyClient(server);

    // Shapes as client-js 1.13 builds them (sendUIEvent, the snapshot streamer).
    const payload = { to: "/cart", items: [{ sku: "a-1", qty: 2 }], note: "ünïcode ✓" };
    const button = { ref: "e7", role: "button", name: "Check out", state: ["focused"] };
    const tree = { root: { ref: "e1", role: "generic", children: [button] }, captured_at: 1796051058706 };
    peer.send({ label: "rtvi-ai", type: "ui-event", id: "u1", data: { event: "nav-click", payload } });
    peer.send({ label: "rtvi-ai", type: "ui-snapshot", id: "u2", data: { tree } });

    expect(await peer.waitFor(withId("u1"))).toEqual({
      label: "rtvi-ai", type: "server-response", id: "u1", data: { t: "nav-click", d: { kind: "ui-event" } },
    });
    expect(await peer.waitFor(withId("u2"))).toEqual({
      label: "rtvi-ai", type: "server-response", id: "u2", data: { t: "ui-snapshot", d: { kind: "ui-snapshot" } },
    });
    await eventually(() => received.length === 2, 5000, "both at the bot");
    expect(received).toEqual([
      { id: "u1", kind: "ui-event", type: "nav-click", data: payload },
      { id: "u2", kind: "ui-snapshot", type: "ui-snapshot", data: { tree } },
    ]);
  });

  test("the echo bot answers a ui-event with its payload; what nothing serves gets an error-response", async () => {
    server = startTestServer();
    const peer = await readyClient(server);

    peer.send({ label: "rtvi-ai", type: "ui-event", id: "e1", data: { event: "opened", payload: { page: 3 } } });
    peer.send({ label: "rtvi-ai", type: "dtmf", id: "e2", data: { buttons: ["4", "#"] } });
    peer.send({ label: "rtvi-ai", type: "ui-cancel-job-group", id: "e3", data: { job_id: "j1" } });
    peer.send({ label: "rtvi-ai", type: "ui-event", id: "e4", data: { payload: { page: 3 } } });

    expect(await peer.waitFor(withId("e1"))).toEqual({
      label: "rtvi-ai", type: "server-response", id: "e1", data: { t: "opened", d: { page: 3 } },
    });
    expect(await peer.waitFor(withId("e2"))).toEqual({
      label: "rtvi-ai", type: "error-response", id: "e2", data: { error: "Unsupported type dtmf" },
    });
    expect(await peer.waitFor(withId("e3"))).toEqual({
      label: "rtvi-ai", type: "error-response", id: "e3", data: { error: "Unsupported type ui-cancel-job-group" },
    });
    expect(await peer.waitFor(withId("e4"))).toEqual({
      label: "rtvi-ai", type: "error-response", id: "e4", data: { error: "ui-event needs data.event" },
    });
  });
});
