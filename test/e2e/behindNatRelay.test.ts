/**
 * Both ends at home (test/support/natTopology.ts, `server: "home"`): Chromium behind one masquerading router, the
 * server behind another that forwards only its HTTP port (signalling has to get in somehow, by a port forward or a
 * tunnel) and no UDP at all: the Pi at home, the user on a phone network. No direct path exists: each router drops
 * what the other side sends first. A real coturn on the internet (test/support/coturn.ts) is the way through: the
 * server, with `turn` set, allocates a relayed address of its own and offers it, and `/start` hands Chromium fresh
 * credentials for the same relay. Without `turn` the same call never connects.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { type Coturn, startCoturn, type TurnSession } from "../support/coturn.ts";
import { eventually } from "../support/eventually.ts";
import { createNatTopology, type NatTopology } from "../support/natTopology.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { openProbePage, type ProbeResult, runProbe } from "./support/probe.ts";
import type { SdpSummary } from "./support/probeTypes.ts";
import { ECHOED_SPEECH_ENERGY, explainProbe } from "./support/servingChecks.ts";

const SECRET = "the-pi-at-home-and-coturn-share-this";
const CONNECT_TIMEOUT_MS = 10_000;
/** A call lasts until this many echoed packets arrived, so at least as many crossed the relay each way. */
const ECHO_PACKETS = 100;

interface HomeServer {
  /** Where the internet reaches it: its router's address, on the forwarded HTTP port. */
  url: string;
  process: ServerProcess;
}

let net: NatTopology;
let coturn: Coturn;
let browser: LaunchedBrowser;
const servers: ServerProcess[] = [];
/** Has `turn`: gathers a relay candidate, and `/start` gives clients credentials. */
let relayed: HomeServer;
/** The same server without `turn`. */
let unrelayed: HomeServer;

beforeAll(async () => {
  net = createNatTopology({ server: "home" });
  coturn = await startCoturn({ host: net.addInternetHost("relay"), secret: SECRET });
  relayed = await startServer({ SMALLWEBRTC_TURN: JSON.stringify({ urls: [coturn.urls.udp], secret: SECRET }) });
  unrelayed = await startServer({});
  browser = await launchBrowser({
    executablePath: net.client.wrap("/usr/bin/chromium"),
    remoteOrigins: [relayed.url, unrelayed.url],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((server) => server.stop()));
  await coturn?.stop();
  net?.close();
});

/** The echo server in the server's namespace, its HTTP port forwarded by its router. */
async function startServer(env: Record<string, string>): Promise<HomeServer> {
  const server = await startServerProcess({
    command: net.server.command([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
    // -v: the debug log names each session's selected candidate pair.
    args: ["--host", net.server.ip, "-v"],
    env,
  });
  servers.push(server);
  const port = Number(new URL(server.url).port);
  net.forwardTcpToServer(port);
  return { url: `http://${net.serverPublicIp}:${port}`, process: server };
}

/** One call of the official client (`/start`, then the offer); with `echo`, it lasts until its speech came back. */
async function call(url: string, echo: boolean): Promise<ProbeResult> {
  const page = await openProbePage(browser.context, { baseUrl: url });
  try {
    const until = {
      what: `${ECHO_PACKETS} audio packets carrying the echoed speech`,
      holds: ({ stats }: ProbeResult) =>
        !!stats && stats.audioIn.packetsReceived > ECHO_PACKETS &&
        stats.audioIn.totalAudioEnergy > ECHOED_SPEECH_ENERGY,
      timeoutMs: 20_000,
    };
    return await runProbe(page.page, { baseUrl: url, mode: "start", connectTimeoutMs: CONNECT_TIMEOUT_MS },
      echo ? until : undefined);
  } finally {
    await page.close();
  }
}

function answerCandidates(result: ProbeResult): string[] {
  const answer = result.requests.find((request) => new URL(request.url).pathname.endsWith("/offer"));
  return (answer?.response as { sdp?: SdpSummary } | undefined)?.sdp?.candidates ?? [];
}

describe("a browser and a server each behind a home router, nothing forwarded for media", () => {
  test("with turn the call goes through the server's relay candidate and its speech comes back; without, no call",
    async () => {
      const before = new Set(coturn.sessions().map((session) => session.id));
      const result = await call(relayed.url, true);
      expect(result.botReady, explainProbe(result)).toBe(true);
      expect(result.stats!.audioIn.totalAudioEnergy).toBeGreaterThan(ECHOED_SPEECH_ENERGY);

      // /start handed Chromium credentials for the relay, minted from the secret coturn checks them with.
      const start = result.requests.find((request) => new URL(request.url).pathname === "/start")!;
      const { iceServers } = (start.response as unknown as { iceConfig: { iceServers: RTCIceServer[] } }).iceConfig;
      expect(iceServers).toContainEqual({ urls: [coturn.urls.udp], username: expect.stringMatching(/^\d+:smallwebrtc$/),
        credential: expect.any(String) });
      // The server offered its relayed address on coturn beside its private one, and that is where the call went.
      // Chromium's end is whichever of its own candidates got through: it also asks a UDP TURN server for its public
      // address (a srflx candidate), and the server's checks to that through its allocation opened the relay to it.
      const relayCandidate = new RegExp(`^udp ${coturn.ip}:\\d+ relay$`);
      expect(answerCandidates(result)).toContainEqual(expect.stringMatching(relayCandidate));
      const browserPair = result.stats!.selectedPair!;
      expect(browserPair).toMatch(new RegExp(`<-> ${coturn.ip}:\\d+ relay$`));
      const serverPair = await eventually(
        () => relayed.process.output().match(/selected candidate pair .*pair="([^"]+)"/)?.[1], 5000,
        "the server's selected candidate pair in its log");
      expect(serverPair).toMatch(new RegExp(`^udp ${coturn.ip}:\\d+ relay <-> `));

      // The server's allocation (it reaches coturn from its router's address) relayed the call both ways; coturn
      // logs that when the allocation ends, which the server does when the call does.
      const relayedCall = (session: TurnSession) => !before.has(session.id) &&
        session.remote?.startsWith(`${net.serverPublicIp}:`) && (session.peerUsage?.sentPackets ?? 0) > ECHO_PACKETS &&
        (session.peerUsage?.receivedPackets ?? 0) > ECHO_PACKETS;
      const allocation = await eventually(() => coturn.sessions().find(relayedCall), 15_000,
        `coturn to log the server's allocation relaying ${ECHO_PACKETS} packets each way`);
      expect(allocation.username).toMatch(/^\d+:smallwebrtc$/);
      console.log(`both behind NAT, through the relay: connected ${result.msToConnected} ms, bot-ready ` +
        `${result.msToBotReady} ms; browser ${browserPair}; server ${serverPair}; coturn relayed ` +
        `${allocation.peerUsage!.receivedBytes} B in, ${allocation.peerUsage!.sentBytes} B out`);

      // Same networks, same browser, the same wait: without `turn` there is only the private address to offer.
      const refused = await call(unrelayed.url, false);
      expect(refused.connected, explainProbe(refused)).toBe(false);
      const candidates = answerCandidates(refused);
      expect(candidates.length).toBeGreaterThan(0);
      expect(candidates.every((line) => line.startsWith(`udp ${net.server.ip}:`))).toBe(true);
      expect(unrelayed.process.output()).not.toContain("selected candidate pair");
    }, 90_000);
});
