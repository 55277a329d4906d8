/**
 * What the runner hands a bot file, in its own process, with one worker and with two: the session id of the
 * `/start` flow or of `?session_id=`, the request body, and the command line the server was started with.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";

const BUN = join(repoRoot, "node_modules/.bin/bun");
const MAIN = join(repoRoot, "main.ts");

/** A bot that tells its client what the runner gave it. */
const REPORTING_BOT = `export async function bot(args) {
  const { sessionId = null, cliArgs, body = null } = args;
  args.webrtcConnection.sendAppMessage({ type: "runnerArguments", sessionId, cliArgs, body });
}
`;

let server: ServerProcess | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.stop("SIGKILL");
  server = undefined;
});

async function post(path: string, body: unknown): Promise<any> {
  const response = await fetch(`${server!.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return await response.json();
}

/** Connects through `path` and returns what the bot reported. */
async function reported(path: string): Promise<unknown> {
  const client = new TestClient();
  clients.push(client);
  await client.accept(await post(path, await client.offer()));
  await client.channelOpen();
  return await client.waitFor((m) => (m as { type?: string }).type === "runnerArguments");
}

describe("RunnerArguments", () => {
  for (const workers of ["1", "2"]) {
    test(`sessionId, body and cliArgs reach a bot file (${workers} worker${workers === "1" ? "" : "s"})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "swrtc-runnerargs-"));
      writeFileSync(join(dir, "bot.mjs"), REPORTING_BOT);
      const args = ["--workers", workers, "--bot", join(dir, "bot.mjs")];
      server = await startServerProcess({ command: [BUN, MAIN], args });
      const cliArgs = ["--host", "127.0.0.1", "--port", "0", ...args];

      const { sessionId } = await post("/start", { body: { room: "kitchen" } });
      expect(await reported(`/sessions/${sessionId}/api/offer`))
        .toEqual({ type: "runnerArguments", sessionId, cliArgs, body: { room: "kitchen" } });
      expect(await reported("/api/offer?session_id=from-query"))
        .toEqual({ type: "runnerArguments", sessionId: "from-query", cliArgs, body: null });
      expect(await reported("/api/offer")).toEqual({ type: "runnerArguments", sessionId: null, cliArgs, body: null });
    }, 60_000);
  }
});
