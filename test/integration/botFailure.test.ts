/**
 * A bot that throws ends its own session only: its client gets a fatal RTVI `error` and then `peerLeft`, the log gets
 * the stack with that session's pc_id, and another session on the same server goes on (two werift peers, one
 * process, signalled through the routes).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { echoBot } from "../../lib/bots/echo.ts";
import { createLogger, formatLogValue } from "../../lib/log/logger.ts";
import { BOT_FAILED_MESSAGE } from "../../lib/runner/launchBot.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
});

/** The echo bot, except that it throws when its client sends `{"fail": true}`. */
async function botThatBreaksOnRequest(args: RunnerArguments): Promise<void> {
  const broken = Promise.withResolvers<never>();
  args.webrtcConnection.on("appMessage", (message) => {
    if ((message as { fail?: boolean }).fail) broken.reject(new Error("the bot broke on purpose"));
  });
  await Promise.race([echoBot(args), broken.promise]);
}

async function connect(): Promise<{ client: TestClient; pcId: string }> {
  const client = new TestClient();
  clients.push(client);
  const { status, body } = await server.post("/api/offer", await client.offer());
  expect(status).toBe(200);
  await client.accept(body);
  await client.channelOpen();
  return { client, pcId: body.pc_id };
}

const sessions = async () => (await (await server.request("/status")).json()).sessions as number;

describe("a bot that throws", () => {
  test("ends its own session with an RTVI error and peerLeft, logs its stack with the pc_id; others go on", async () => {
    const log: string[] = [];
    server = startTestServer({}, botThatBreaksOnRequest, createLogger({ level: "error", write: (line) => log.push(line) }));
    const failing = await connect();
    const healthy = await connect();
    // Both bots are up: each echoes a message.
    for (const [index, { client }] of [failing, healthy].entries()) {
      client.send({ hello: index });
      await client.waitFor((m) => (m as { hello?: number }).hello === index);
    }

    failing.client.send({ fail: true });
    const peerLeft = { type: "signalling", message: { type: "peerLeft" } };
    await failing.client.waitFor((m) => JSON.stringify(m) === JSON.stringify(peerLeft));
    const error = { label: "rtvi-ai", type: "error", data: { error: BOT_FAILED_MESSAGE, fatal: true } };
    const received = failing.client.received.map((m) => JSON.stringify(m));
    expect(received).toContain(JSON.stringify(error));
    expect(received.indexOf(JSON.stringify(error))).toBeLessThan(received.indexOf(JSON.stringify(peerLeft)));

    // The log: the error line with the failing session's pc_id, then the stack, frame by frame, reaching this file.
    const at = log.findIndex((line) => line.includes("ERROR bot failed"));
    expect(log[at]).toContain(`pcId=${formatLogValue(failing.pcId)}`);
    expect(log[at]).toContain('error="the bot broke on purpose"');
    const frames = log.slice(at + 1).filter((line) => line.startsWith("    at "));
    expect(frames.some((frame) => frame.includes("botFailure.test.ts"))).toBe(true);
    expect(log.join("\n")).not.toContain(healthy.pcId);

    // The server lets the failed session go and keeps serving the other one.
    await eventually(async () => (await sessions()) === 1, 5000, "the failed session to be gone");
    healthy.client.send({ hello: "after" });
    await healthy.client.waitFor((m) => (m as { hello?: string }).hello === "after");
    expect(healthy.client.received).not.toContainEqual(peerLeft);
  }, 30_000);
});
