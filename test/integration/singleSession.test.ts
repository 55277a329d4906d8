/**
 * `--single-session` as users run it, in its own process with two workers (the check lives in the worker pool then):
 * a second offer while the session is live gets a JSON 409, and the session's own re-offer still works.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";

let server: ServerProcess | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.stop("SIGKILL");
  server = undefined;
});

async function postOffer(extra: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const client = new TestClient();
  clients.push(client);
  const response = await fetch(`${server!.url}/api/offer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...(await client.offer()), ...extra }),
  });
  return { status: response.status, body: await response.json() };
}

test("--single-session with workers: the second offer gets 409, the live session's re-offer 200", async () => {
  server = await startServerProcess({ command: [join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")], args: ["--workers", "2", "--single-session"] });
  const first = await postOffer();
  expect(first.status).toBe(200);
  const second = await postOffer();
  expect(second.status).toBe(409);
  expect(second.body.detail).toMatch(/one session per process/);
  expect((await postOffer({ pc_id: first.body.pc_id })).status).toBe(200);
}, 60_000);
