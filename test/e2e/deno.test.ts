/**
 * The server under Deno, started the way the README says (`deno task start -- <flags>`, the pinned Deno from
 * node_modules, with the task's permission flags), passes the same official-client echo check as the Bun and binary
 * runs, and stops cleanly when the task is sent SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { speechWav, videoY4m } from "../support/media.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "./support/serverProcess.ts";
import { expectSpeechEchoed, expectTestPageServed } from "./support/servingChecks.ts";

describe("Deno, through deno task start", () => {
  let server: ServerProcess;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    server = await startServerProcess({ command: SOURCE_COMMANDS.deno });
    browser = await launchBrowser({ audioFile: await speechWav(), videoFile: await videoY4m() });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
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
