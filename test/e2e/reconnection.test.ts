/**
 * The official client's reconnection paths against our server: a re-offer on the same peer connection
 * (renegotiation), and a full restart (restart_pc) after a forced ICE failure, made by dropping the server's media
 * port with iptables inside the test's network namespace. Audio must flow again afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { speechWav, videoY4m } from "../../scripts/support/media.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, startProbe } from "./support/probe.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";

let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  server = await startServerProcess();
  browser = await launchBrowser({ audioFile: await speechWav(), videoFile: await videoY4m() });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function packetsReceived(page: Parameters<typeof controlProbe>[0]): Promise<number> {
  return (await controlProbe(page, "getStats"))?.audioIn.packetsReceived ?? 0;
}

function iptables(action: "-A" | "-D", port: number): void {
  const result = Bun.spawnSync(["iptables", action, "INPUT", "-p", "udp", "--dport", String(port), "-j", "DROP"]);
  if (!result.success) throw new Error(`iptables failed: ${result.stderr.toString()}`);
}

describe("reconnection with the official client", () => {
  test("a re-offer on the same peer connection keeps the session and its audio", async () => {
    const { page, close } = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const start = await startProbe(page, { baseUrl: server.url, disconnectAtEnd: true, connectTimeoutMs: 10_000 });
      expect(start.botReady).toBe(true);
      const pcId = start.requests.find((r) => r.method === "POST")!.response as { pc_id: string };
      await controlProbe(page, "reconnect", false);
      await eventually(async () => (await controlProbe(page, "snapshot")).requests.filter((r) => r.method === "POST").length >= 2, 10_000, "the re-offer");
      const snapshot = await controlProbe(page, "snapshot");
      const reoffer = snapshot.requests.filter((r) => r.method === "POST")[1];
      expect(reoffer.status).toBe(200);
      expect((reoffer.body as { pc_id: string; restart_pc: boolean })).toMatchObject({ pc_id: pcId.pc_id, restart_pc: false });
      expect((reoffer.response as { pc_id: string }).pc_id).toBe(pcId.pc_id);
      await expectOneLiveSession(page);
      await finishProbe(page);
    } finally {
      await close();
    }
  }, 60_000);

  test("after a forced ICE failure the client restarts (restart_pc) and audio flows again", async () => {
    const { page, close } = await openProbePage(browser.context, { baseUrl: server.url });
    let blocked: number | undefined;
    try {
      const start = await startProbe(page, { baseUrl: server.url, disconnectAtEnd: true, connectTimeoutMs: 10_000 });
      expect(start.botReady).toBe(true);
      const pair = (await controlProbe(page, "getStats"))!.selectedPair!;
      // "127.0.0.1:40000/udp host <-> 127.0.0.1:50000 host": the remote (server) side is after the arrow.
      blocked = Number(pair.split("<->")[1].trim().split(" ")[0].split(":")[1]);
      iptables("-A", blocked);

      // The client sees the path die, waits its 5 s, and starts over with a new peer connection and restart_pc.
      await eventually(async () => {
        const posts = (await controlProbe(page, "snapshot")).requests.filter((r) => r.method === "POST");
        return posts.some((r) => (r.body as { restart_pc?: boolean })?.restart_pc === true && r.status === 200);
      }, 30_000, "the restart offer");
      await eventually(async () => (await controlProbe(page, "state")) === "ready" && (await packetsReceived(page)) > 50, 15_000, "audio after the restart");
      await expectOneLiveSession(page);
      await finishProbe(page);
    } finally {
      if (blocked) iptables("-D", blocked);
      await close();
    }
  }, 90_000);
});

/** Audio still arrives in the page (40 more packets), and the server holds exactly one session. */
async function expectOneLiveSession(page: Parameters<typeof packetsReceived>[0]): Promise<void> {
  const before = await packetsReceived(page);
  await eventually(async () => (await packetsReceived(page)) - before > 40, 5000, "40 more audio packets in the page");
  const sessions = async () => (await (await fetch(`${server.url}/status`)).json()).sessions;
  await eventually(async () => (await sessions()) === 1, 5000, "exactly one session on the server");
}
