/**
 * The development runner as users run it, in its own process: a custom bot from examples/, the --bot flag, and the
 * graceful shutdown that says peerLeft to every client and exits within 3 s.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";

let server: ServerProcess | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.stop("SIGKILL");
  server = undefined;
});

async function connect(url: string): Promise<TestClient> {
  const client = new TestClient();
  clients.push(client);
  const response = await fetch(`${url}/api/offer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(await client.offer()),
  });
  expect(response.status).toBe(200);
  await client.accept(await response.json());
  await client.channelOpen();
  return client;
}

const bun = join(repoRoot, "node_modules/.bin/bun");

describe("runner", () => {
  test("runs a custom bot from examples/ with the runner's flags", async () => {
    server = await startServerProcess({ command: [bun, join(repoRoot, "examples/countdown.ts"), "-t", "webrtc"] });
    const client = await connect(server.url);
    client.send({ hello: 1 });
    client.send({ hello: 2 });
    expect(await client.waitFor((m) => (m as { count?: number }).count === 2)).toEqual({ type: "count", count: 2 });
    client.send({ label: "rtvi-ai", type: "client-message", id: "q1", data: { t: "count" } });
    const response = await client.waitFor((m) => (m as { type?: string }).type === "server-response");
    // RTVI requests are consumed by the RTVI processor, so they are not counted as application messages.
    expect(response).toEqual({ label: "rtvi-ai", type: "server-response", id: "q1", data: { t: "count", d: { count: 2 } } });
  }, 60_000);

  test("--bot parrot selects a built-in bot", async () => {
    server = await startServerProcess({ args: ["--bot", "parrot"] });
    expect(server.output()).toContain("bot=parrot");
  }, 60_000);

  test("SIGTERM: every client gets peerLeft and the process exits 0 within 3 s", async () => {
    server = await startServerProcess();
    const clientsUp = await Promise.all([connect(server.url), connect(server.url), connect(server.url)]);
    const started = performance.now();
    const code = await server.stop("SIGTERM");
    const tookMs = performance.now() - started;

    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(3000);
    for (const client of clientsUp) {
      expect(client.received).toContainEqual({ type: "signalling", message: { type: "peerLeft" } });
    }
  }, 60_000);
});
