/**
 * The server under Deno, started the way the README says (`deno task start -- <flags>`, the pinned Deno from
 * node_modules, with the task's permission flags) in a checkout as `npm ci` leaves it, passes the same official-client
 * echo check as the Bun and binary runs, and stops cleanly when the task is sent SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { speechWav, videoY4m } from "../../scripts/support/media.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { expectSpeechEchoed, expectTestPageServed } from "./support/servingChecks.ts";

/** The sources as a fresh clone has them, with the installed node_modules and no test page built yet. */
function freshCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), "swrtc-deno-"));
  const built = (path: string) => /^public\/(dist|\.dist-)/.test(relative(repoRoot, path));
  for (const entry of ["main.ts", "deno.json", "package.json", "package-lock.json", "lib", "public", "scripts"]) {
    cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true, filter: (path) => !built(path) });
  }
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  return dir;
}

describe("Deno, through deno task start", () => {
  let checkout: string;
  let server: ServerProcess;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    checkout = freshCheckout();
    server = await startServerProcess({ command: SOURCE_COMMANDS.deno, cwd: checkout });
    browser = await launchBrowser({ audioFile: await speechWav(), videoFile: await videoY4m() });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(checkout, { recursive: true, force: true });
  });

  test("passes the official client's echo test and serves the test page", async () => {
    await expectSpeechEchoed(browser.context, server.url);
    await expectTestPageServed(server.url);
  }, 60_000);

  test("SIGTERM to the task reaches the server, which shuts down and exits 0", async () => {
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(server.output()).toContain("shutting down signal=SIGTERM");
  }, 30_000);
});
