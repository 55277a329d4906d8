/**
 * A browser behind a home router (masquerading NAT) and a server behind a cloud VM's 1:1 NAT (test/support/
 * natTopology.ts). Chromium runs in the client's namespace and the server in its own, so every packet between them,
 * HTTP and media alike, crosses both NATs. With `ice.advertisedIps` the answer offers the public address, the browser
 * checks it, the server learns the router's mapped address from those checks (a peer-reflexive candidate) and the
 * call works; without it the answer offers only the private address, which nothing on the internet can reach.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { createNatTopology, type NatTopology } from "../support/natTopology.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { openProbePage, type ProbeResult, runProbe } from "./support/probe.ts";
import { explainProbe } from "./support/servingChecks.ts";

/** Silence alone scores ~0; echoed speech scores well above this (as in servingChecks.ts). */
const ECHOED_SPEECH_ENERGY = 0.05;
const CONNECT_TIMEOUT_MS = 10_000;

interface PublicServer {
  /** Where the internet reaches it. */
  url: string;
  process: ServerProcess;
}

let net: NatTopology;
let browser: LaunchedBrowser;
const servers: ServerProcess[] = [];
/** Offers the public address beside its private one. */
let mapped: PublicServer;
/** Offers its private address only. */
let unmapped: PublicServer;

beforeAll(async () => {
  net = createNatTopology({ server: "oneToOne" });
  mapped = await startServer([`${net.serverPublicIp}/${net.server.ip}`]);
  unmapped = await startServer([]);
  browser = await launchBrowser({
    executablePath: net.client.wrap("/usr/bin/chromium"),
    remoteOrigins: [mapped.url, unmapped.url],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((server) => server.stop()));
  net?.close();
});

/** The echo server in the server's namespace, on its private address; its URL as the internet sees it. */
async function startServer(advertisedIps: string[]): Promise<PublicServer> {
  const server = await startServerProcess({
    command: net.server.command([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
    // -v: the debug log names each session's selected candidate pair.
    args: ["--host", net.server.ip, "-v"],
    env: { SMALLWEBRTC_ICE_ADVERTISED_IPS: advertisedIps.join(",") },
  });
  servers.push(server);
  return { url: `http://${net.serverPublicIp}:${new URL(server.url).port}`, process: server };
}

async function call(url: string, echo: boolean): Promise<ProbeResult> {
  const page = await openProbePage(browser.context, { baseUrl: url });
  try {
    const until = {
      what: "100 audio packets carrying the echoed speech",
      holds: ({ stats }: ProbeResult) =>
        !!stats && stats.audioIn.packetsReceived > 100 && stats.audioIn.totalAudioEnergy > ECHOED_SPEECH_ENERGY,
    };
    return await runProbe(page.page, { baseUrl: url, mode: "offer", connectTimeoutMs: CONNECT_TIMEOUT_MS },
      echo ? until : undefined);
  } finally {
    await page.close();
  }
}

/** "udp 10.0.0.10:40000 host <-> ..." without the ports, which change from run to run. */
function withoutPorts(pair: string): string {
  return pair.replace(/:\d+ /g, " ");
}

describe("a browser behind a home router, a server behind a 1:1 NAT", () => {
  test("with advertisedIps the call crosses both NATs and its speech comes back; without, no connection", async () => {
    const result = await call(mapped.url, true);
    expect(result.botReady, explainProbe(result)).toBe(true);
    expect(result.stats!.audioIn.totalAudioEnergy).toBeGreaterThan(ECHOED_SPEECH_ENERGY);
    // The browser reached the server's public address, and learnt from the answers to its checks that it is seen
    // as the home router (a local peer-reflexive candidate); the server saw the checks come from that address.
    const browserPair = result.stats!.selectedPair!;
    expect(withoutPorts(browserPair)).toBe(`udp ${net.homeRouter.ip} prflx <-> ${net.serverPublicIp} host`);
    const seen = await eventually(() => mapped.process.output().match(/selected candidate pair .*pair="([^"]+)"/)?.[1],
      5000, "the server's selected candidate pair in its log");
    expect(withoutPorts(seen)).toBe(`udp ${net.server.ip} host <-> ${net.homeRouter.ip} prflx`);
    console.log(`behind NAT: bot-ready after ${result.msToBotReady} ms; browser ${browserPair}; server ${seen}`);

    // Same network, same browser, the same wait: without the mapping the answer names only the private address.
    const refused = await call(unmapped.url, false);
    expect(refused.connected, explainProbe(refused)).toBe(false);
    const answer = refused.requests.find((r) => r.method === "POST")?.response as { sdp?: { candidates: string[] } };
    expect(answer.sdp!.candidates.length).toBeGreaterThan(0);
    expect(answer.sdp!.candidates.every((c) => c.includes(` ${net.server.ip}:`))).toBe(true);
    expect(unmapped.process.output()).not.toContain("selected candidate pair");
  }, 90_000);
});
