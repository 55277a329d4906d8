/**
 * A client process that is killed outright (no close, no goodbye) is noticed and its session freed: within 5 s for a
 * client that sends keep-alive pings, within 15 s for one that sends nothing but ICE consent answers. Either way the
 * connection reports `failed`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger } from "../../lib/log/logger.ts";
import { SmallWebRTCServer } from "../../lib/server/smallWebRTCServer.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import type { SmallWebRTCConnection } from "../../lib/webrtc/connection.ts";
import { eventually } from "../support/eventually.ts";
import { testConfig } from "../support/testServer.ts";

let server: SmallWebRTCServer | undefined;
afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function killAndTime(mode: "--ping" | "--silent"): Promise<{ ms: number; disconnected: number; failed: number }> {
  let disconnected = 0;
  let failed = 0;
  let session: SmallWebRTCConnection | undefined;
  server = new SmallWebRTCServer({
    config: testConfig(),
    logger: createLogger({ level: "error" }),
    onConnection: (connection) => {
      session = connection;
      connection.connect();
      connection.on("closed", () => disconnected++);
      connection.on("failed", () => failed++);
    },
  });
  const { url } = await server.listen();
  const child = Bun.spawn([process.execPath, join(repoRoot, "test/support/vanishingClient.ts"), url, mode], { stdout: "pipe" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toStartWith("connected ");
  expect(server.handler.size).toBe(1);
  // A pinging client is only judged by its pings once one has arrived.
  if (mode === "--ping") await eventually(() => session?.lastPingAt !== undefined, 5000, "the first keep-alive ping");

  child.kill("SIGKILL");
  const killedAt = performance.now();
  await eventually(() => server!.handler.size === 0, 20_000, "the vanished client's session to be freed");
  return { ms: performance.now() - killedAt, disconnected, failed };
}

describe("liveness", () => {
  test("a client with keep-alive pings is freed within 5 s of vanishing", async () => {
    const { ms, disconnected, failed } = await killAndTime("--ping");
    expect(ms).toBeLessThan(5000);
    expect(disconnected).toBe(1);
    // A client that vanished did not hang up: the bot hears `failed` before `closed`.
    expect(failed).toBe(1);
  }, 30_000);

  test("a client without pings is freed within 15 s of vanishing", async () => {
    const { ms, disconnected, failed } = await killAndTime("--silent");
    expect(ms).toBeLessThan(15_000);
    expect(ms).toBeGreaterThan(5000);
    expect(disconnected).toBe(1);
    expect(failed).toBe(1);
  }, 40_000);
});
