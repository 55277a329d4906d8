/**
 * ICE over TCP: Chromium, with every UDP packet in the test's network namespace dropped, connects to the server's
 * one TCP port (`ice.tcpPort`) and hears its echo. The server runs two workers, so the connection also crosses the
 * main process's TCP relay (lib/workers/tcpRelay.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { speechWav } from "../../scripts/support/media.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { withoutUdp } from "../../scripts/support/packetFilter.ts";
import { eventually } from "../support/eventually.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, startProbe } from "./support/probe.ts";

let server: ServerProcess;
let browser: LaunchedBrowser;
/** A fixed port: the test runs in a network namespace of its own. */
const tcpPort = 42300;

beforeAll(async () => {
  server = await startServerProcess({ env: { SMALLWEBRTC_ICE_TCP_PORT: String(tcpPort), SMALLWEBRTC_WORKERS: "2" } });
  browser = await launchBrowser({ audioFile: await speechWav() });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("ICE over TCP", () => {
  test("with UDP dropped, the official client connects over the TCP port and hears its echo", async () => {
    const { page, close } = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      await withoutUdp(async () => {
        const start = await startProbe(page, { baseUrl: server.url, disconnectAtEnd: true, connectTimeoutMs: 20_000 });
        expect(start.botReady).toBe(true);
        // "tcp 127.0.0.1:41500 prflx <-> 127.0.0.1:42300 host": the browser's side, then the server's.
        const pair = (await controlProbe(page, "getStats"))?.selectedPair ?? "";
        expect(pair.startsWith("tcp ")).toBe(true);
        expect(pair).toEndWith(`:${tcpPort} host`);
        const received = async () => (await controlProbe(page, "getStats"))?.audioIn.packetsReceived ?? 0;
        await eventually(async () => (await received()) > 50, 10_000, "50 echoed audio packets");
        await finishProbe(page);
      });
    } finally {
      await close();
    }
  }, 60_000);
});
