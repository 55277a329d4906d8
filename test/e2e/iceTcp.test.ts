/**
 * ICE over TCP: Chromium, with every UDP packet in the test's network namespace dropped, connects to the server's
 * one TCP port (`ice.tcpPort`) and hears its echo, under Bun and under Deno. Each server runs two workers, so the
 * connection also crosses the main process's TCP relay (lib/workers/tcpRelay.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { speechWav } from "../../scripts/support/media.ts";
import { withoutUdp } from "../../scripts/support/packetFilter.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, startProbe } from "./support/probe.ts";

/** A fixed port: the test runs in a network namespace of its own. */
const TCP_PORT = 42300;

let browser: LaunchedBrowser;

beforeAll(async () => {
  browser = await launchBrowser({ audioFile: await speechWav() });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

for (const runtime of ["bun", "deno"] as const) {
  describe(`ICE over TCP, ${runtime}`, () => {
    let server: ServerProcess;

    beforeAll(async () => {
      const env = { SMALLWEBRTC_ICE_TCP_PORT: String(TCP_PORT), SMALLWEBRTC_WORKERS: "2" };
      server = await startServerProcess({ command: SOURCE_COMMANDS[runtime], env });
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
    });

    test("with UDP dropped, the official client connects over the TCP port and hears its echo", async () => {
      const { page, close } = await openProbePage(browser.context, { baseUrl: server.url });
      try {
        await withoutUdp(async () => {
          const start = await startProbe(page, { baseUrl: server.url, disconnectAtEnd: true, connectTimeoutMs: 20_000 });
          expect(start.botReady).toBe(true);
          // "tcp 127.0.0.1:41500 prflx <-> 127.0.0.1:42300 host": the browser's side, then the server's.
          const pair = (await controlProbe(page, "getStats"))?.selectedPair ?? "";
          expect(pair.startsWith("tcp ")).toBe(true);
          expect(pair).toEndWith(`:${TCP_PORT} host`);
          const received = async () => (await controlProbe(page, "getStats"))?.audioIn.packetsReceived ?? 0;
          await eventually(async () => (await received()) > 50, 10_000, "50 echoed audio packets");
          await finishProbe(page);
        });
      } finally {
        await close();
      }
    }, 60_000);
  });
}
