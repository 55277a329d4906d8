/**
 * Three instances behind nginx (Debian's, with the deployment guide's server block: plain round robin, no affinity),
 * sharing a real redis-server, and the official client in Chromium talking to nginx alone. A session's requests land
 * on different instances; those that are not its owner forward them. Everything runs on 127.0.0.1 inside the test's
 * network namespace.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { speechWav } from "../../scripts/support/media.ts";
import { freePort, type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { type Nginx, startNginx } from "../support/nginx.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { controlProbe, finishProbe, openProbePage, type ProbePage, type ProbeResult, startProbe } from "./support/probe.ts";
import { ECHOED_SPEECH_ENERGY, explainProbe } from "./support/servingChecks.ts";

const HEARTBEAT_SECS = 1;

interface Instance {
  id: string;
  port: number;
  /** host:port, as nginx logs it. */
  address: string;
  server: ServerProcess;
}

let redis: TestRedis;
let instances: Instance[] = [];
let nginx: Nginx;
let browser: LaunchedBrowser;

async function startInstance(id: string): Promise<Instance> {
  const port = await freePort();
  const server = await startServerProcess({
    args: ["--port", String(port), "--workers", "1", "--redis-url", redis.url,
      "--advertise-url", `http://127.0.0.1:${port}`, "--instance-id", id],
    env: { SMALLWEBRTC_CLUSTER_HEARTBEAT_SECS: String(HEARTBEAT_SECS) },
  });
  return { id, port, address: `127.0.0.1:${port}`, server };
}

beforeAll(async () => {
  redis = await startRedis();
  instances = await Promise.all(["a", "b", "c"].map(startInstance));
  nginx = await startNginx(instances.map((instance) => instance.address));
  browser = await launchBrowser({ audioFile: await speechWav() });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await nginx?.stop();
  await Promise.all(instances.map((instance) => instance.server.stop("SIGKILL")));
  await redis?.kill();
});

/** A call through nginx with the /start flow, left up; resolves once bot-ready arrived. */
async function call(): Promise<{ probe: ProbePage; started: ProbeResult; pcId: string }> {
  const probe = await openProbePage(browser.context, { baseUrl: nginx.url });
  const started = await startProbe(probe.page, {
    baseUrl: nginx.url, mode: "start", disconnectAtEnd: true, connectTimeoutMs: 15_000,
  });
  expect(started.botReady, explainProbe(started)).toBe(true);
  const offer = started.requests.find((request) => request.method === "POST" && request.url.endsWith("/api/offer"));
  return { probe, started, pcId: (offer!.response as { pc_id: string }).pc_id };
}

async function audioIn(page: Page) {
  return (await controlProbe(page, "getStats"))?.audioIn ?? { packetsReceived: 0, totalAudioEnergy: 0 };
}

/** The page keeps receiving audio: `packets` more packets within the deadline. */
async function expectAudioFlowing(page: Page, packets = 50): Promise<void> {
  const before = (await audioIn(page)).packetsReceived;
  await eventually(async () => (await audioIn(page)).packetsReceived - before >= packets, 10_000, `${packets} audio packets`);
}

/** The instance the registry in Redis names as the owner of a session, if any. */
function registeredOwner(pcId: string): string {
  const result = Bun.spawnSync(["redis-cli", "-p", String(redis.port), "--raw", "GET", `smallwebrtc:pc:${pcId}`]);
  if (!result.success) throw new Error(`redis-cli failed: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

async function ownerOf(pcId: string): Promise<Instance> {
  const id = await eventually(() => registeredOwner(pcId), 5000, `the registered owner of ${pcId}`);
  return instances.find((instance) => instance.id === id)!;
}

async function health(instance: Instance): Promise<string> {
  return ((await (await fetch(`${instance.server.url}/health`)).json()) as { status: string }).status;
}

describe("three instances behind nginx, sharing Redis", () => {
  test("the /start flow lands on two instances, the trickle is forwarded to the owner, and the echo comes back", async () => {
    const { probe, pcId } = await call();
    try {
      await eventually(async () => {
        const audio = await audioIn(probe.page);
        return audio.packetsReceived > 100 && audio.totalAudioEnergy > ECHOED_SPEECH_ENERGY;
      }, 15_000, "the echoed speech");

      const logged = nginx.requests();
      const start = logged.find((request) => request.method === "POST" && request.path === "/start")!;
      const offer = logged.find((request) => request.method === "POST" && request.path.endsWith("/api/offer"))!;
      expect(start.status).toBe(200);
      expect(offer.status).toBe(200);
      expect(offer.upstream).not.toBe(start.upstream);

      const owner = await ownerOf(pcId);
      const trickles = logged.filter((request) => request.method === "PATCH");
      expect(trickles.length).toBeGreaterThan(0);
      expect(trickles.every((request) => request.status === 200)).toBe(true);
      const forwarded = trickles.filter((request) => request.upstream !== owner.address);
      expect(forwarded.length, JSON.stringify({ owner: owner.address, trickles })).toBeGreaterThan(0);
      await finishProbe(probe.page);
    } finally {
      await probe.close();
    }
  }, 60_000);

  test("after a forced ICE failure the client's restart_pc reaches the owner and audio flows again", async () => {
    const { probe, pcId } = await call();
    let blocked: number | undefined;
    try {
      const owner = await ownerOf(pcId);
      const pair = (await controlProbe(probe.page, "getStats"))!.selectedPair!;
      // "127.0.0.1:40000/udp host <-> 127.0.0.1:50000 host": the server's side is after the arrow.
      blocked = Number(pair.split("<->")[1].trim().split(" ")[0].split(":")[1]);
      iptables("-A", blocked);
      const restarted = await eventually(async () => {
        const posts = (await controlProbe(probe.page, "snapshot")).requests.filter((r) => r.method === "POST");
        // Its answer too: the page records the status as soon as it arrives, the body once read.
        return posts.find((r) => (r.body as { restart_pc?: boolean })?.restart_pc === true && r.status === 200 &&
          r.response);
      }, 30_000, "the restart offer and its answer");
      // The restart's offer names the old connection, so whichever instance nginx gave it passed it to the owner,
      // which made the new connection.
      expect((await ownerOf((restarted.response as { pc_id: string }).pc_id)).id).toBe(owner.id);
      await eventually(async () => (await controlProbe(probe.page, "state")) === "ready", 15_000, "ready again");
      await expectAudioFlowing(probe.page);
      await finishProbe(probe.page);
    } finally {
      if (blocked) iptables("-D", blocked);
      await probe.close();
    }
  }, 90_000);

  test("a killed instance's sessions leave the registry in time; the other instances' calls keep their audio", async () => {
    // Calls until two instances own one each.
    const calls: Awaited<ReturnType<typeof call>>[] = [];
    const owners = new Map<string, Awaited<ReturnType<typeof call>>>();
    try {
      while (owners.size < 2) {
        if (calls.length >= 6) throw new Error("six calls all landed on one instance");
        const placed = await call();
        calls.push(placed);
        const owner = (await ownerOf(placed.pcId)).id;
        // A call makes the same number of requests each time, so round robin would give every offer to the same
        // instance: one more request moves the next offer on.
        if (owners.has(owner)) await fetch(`${nginx.url}/health`);
        owners.set(owner, placed);
      }
      const [[victimId, victimCall], [survivorId, survivorCall]] = [...owners];
      const victim = instances.find((instance) => instance.id === victimId)!;
      await victim.server.stop("SIGKILL");
      // Within three heartbeats, plus one for the reads and a loaded machine.
      await eventually(() => registeredOwner(victimCall.pcId) === "", HEARTBEAT_SECS * 4 * 1000,
        "the dead instance's session to leave the registry");
      expect(registeredOwner(survivorCall.pcId)).toBe(survivorId);

      // A trickle for the dead instance's session now gets 404 from whichever instance nginx picks, at once.
      const trickle = async () => {
        const sent = performance.now();
        const response = await fetch(`${nginx.url}/api/offer`, {
          method: "PATCH",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ pc_id: victimCall.pcId, candidates: [] }),
        });
        expect(performance.now() - sent).toBeLessThan(5000);
        return response.status;
      };
      expect(await trickle()).toBe(404);
      await expectAudioFlowing(survivorCall.probe.page);
    } finally {
      for (const placed of calls) await placed.probe.close();
    }
  }, 120_000);

  test("with Redis stopped a call keeps going, a new call connects, /health says degraded and then recovers", async () => {
    const alive = instances.filter((instance) => !instance.server.process.killed);
    const first = await call();
    const calls = [first];
    try {
      await redis.stop();
      await eventually(async () => (await Promise.all(alive.map(health))).every((s) => s === "degraded"), 10_000,
        "every instance degraded");
      await expectAudioFlowing(first.probe.page);
      // New calls go to whichever instance nginx picks, which takes them locally.
      calls.push(await call());
      await expectAudioFlowing(calls[1].probe.page);

      await redis.restart();
      await eventually(async () => (await Promise.all(alive.map(health))).every((s) => s === "ok"), 15_000,
        "every instance ok again");
      await expectAudioFlowing(first.probe.page);
      // One line when Redis went, one when it came back, however many commands failed in between.
      for (const instance of alive) {
        expect(instance.server.output().match(/redis unreachable/g)?.length).toBe(1);
        expect(instance.server.output().match(/redis reachable again/g)?.length).toBe(1);
      }
    } finally {
      for (const placed of calls) await placed.probe.close();
    }
  }, 120_000);
});

function iptables(action: "-A" | "-D", port: number): void {
  const result = Bun.spawnSync(["iptables", action, "INPUT", "-p", "udp", "--dport", String(port), "-j", "DROP"]);
  if (!result.success) throw new Error(`iptables failed: ${result.stderr.toString()}`);
}
