/**
 * A client process that is killed outright (no close, no goodbye) is noticed and its session freed: within 5 s for a
 * client that sends keep-alive pings, within 15 s for one that sends nothing but ICE consent answers.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger } from "../../lib/log/logger.ts";
import { SmallWebRTCServer } from "../../lib/server/smallWebRTCServer.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { testConfig } from "../support/testServer.ts";

let server: SmallWebRTCServer | undefined;
afterEach(async () => {
  await server?.shutdown();
  server = undefined;
});

async function killAndTime(mode: "--ping" | "--silent"): Promise<{ ms: number; disconnected: number }> {
  let disconnected = 0;
  server = new SmallWebRTCServer({
    config: testConfig(),
    logger: createLogger({ level: "error" }),
    onConnection: (connection) => {
      connection.connect();
      connection.on("closed", () => disconnected++);
    },
  });
  const { url } = await server.listen();
  const child = Bun.spawn([process.execPath, join(repoRoot, "test/support/vanishingClient.ts"), url, mode], { stdout: "pipe" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toStartWith("connected ");
  expect(server.handler.size).toBe(1);
  // Let the session settle into its steady state before the client disappears.
  await Bun.sleep(2000);

  child.kill("SIGKILL");
  const killedAt = performance.now();
  while (server.handler.size > 0 && performance.now() - killedAt < 20_000) await Bun.sleep(100);
  return { ms: performance.now() - killedAt, disconnected };
}

describe("liveness", () => {
  test("a client with keep-alive pings is freed within 5 s of vanishing", async () => {
    const { ms, disconnected } = await killAndTime("--ping");
    expect(ms).toBeLessThan(5000);
    expect(disconnected).toBe(1);
  }, 30_000);

  test("a client without pings is freed within 15 s of vanishing", async () => {
    const { ms, disconnected } = await killAndTime("--silent");
    expect(ms).toBeLessThan(15_000);
    expect(ms).toBeGreaterThan(5000);
    expect(disconnected).toBe(1);
  }, 40_000);
});
