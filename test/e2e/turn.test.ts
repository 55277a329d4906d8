/**
 * TURN against a real coturn (test/support/coturn.ts). Three hosts on one LAN (test/support/lan.ts): this namespace
 * with Chromium, the server's, and coturn's. The server's config has `turn` with coturn's shared secret, so `/start`
 * hands the official client freshly minted credentials, and the server gathers a relay candidate of its own.
 * - Client through the relay: a packet filter here leaves Chromium's media one way out, to coturn over UDP, TCP or
 *   TLS; the echo comes back through the relay, and coturn's log accounts for the bytes it relayed.
 * - Server behind the relay: a filter in the server's namespace drops every UDP packet that does not come from coturn,
 *   so the server's relay candidate is the only way in; a client with no TURN server of its own still gets its echo.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { type Coturn, startCoturn, TURN_PORT, type TurnSession, TURNS_PORT } from "../support/coturn.ts";
import { eventually } from "../support/eventually.ts";
import { createLan, type Lan, sh } from "../support/lan.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { type CallUntil, openProbePage, type ProbeOptions, type ProbeResult, runProbe } from "./support/probe.ts";
import type { SdpSummary } from "./support/probeTypes.ts";
import { ECHOED_SPEECH_ENERGY, explainProbe } from "./support/servingChecks.ts";

const SECRET = "coturn-and-smallwebrtc-share-this";
/** Chromium's own packets (this namespace's OUTPUT) go through this chain. */
const CLIENT_FILTER = "swrtc-turn-client";
/**
 * A call lasts until this many echoed audio packets arrived, so at least as many crossed the relay each way; ICE
 * checks and the DTLS handshake are a few dozen packets.
 */
const ECHO_PACKETS = 100;

let lan: Lan<"server" | "relay">;
let coturn: Coturn;
let server: ServerProcess;
let browser: LaunchedBrowser;

beforeAll(async () => {
  lan = createLan(["server", "relay"]);
  coturn = await startCoturn({ host: lan.hosts.relay, secret: SECRET });
  const turn = { urls: [coturn.urls.udp, coturn.urls.tcp, coturn.urls.tls], secret: SECRET };
  server = await startServerProcess({
    command: lan.hosts.server.command([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
    args: ["--host", lan.hosts.server.ip, "--workers", "1"],
    env: { SMALLWEBRTC_TURN: JSON.stringify(turn) },
  });
  browser = await launchBrowser({
    // The page comes from the server's LAN address, and so must count as secure for getUserMedia.
    remoteOrigins: [server.url],
    // Chromium resolves a TURN server's address before it connects over TCP or TLS, even an IP literal.
    reachableHosts: [coturn.ip],
    // Chromium checks the TURN server's TLS certificate; coturn's is a throwaway self-signed one.
    args: ["--ignore-certificate-errors"],
  });
  sh(["iptables", "-N", CLIENT_FILTER]);
  sh(["iptables", "-A", "OUTPUT", "-j", CLIENT_FILTER]);
}, 120_000);

afterAll(async () => {
  Bun.spawnSync(["iptables", "-D", "OUTPUT", "-j", CLIENT_FILTER]);
  Bun.spawnSync(["iptables", "-F", CLIENT_FILTER]);
  Bun.spawnSync(["iptables", "-X", CLIENT_FILTER]);
  await browser?.close();
  await server?.stop();
  await coturn?.stop();
  lan?.close();
});

const echoHeard: CallUntil = {
  what: `${ECHO_PACKETS} audio packets carrying the echoed speech`,
  holds: ({ stats }) =>
    !!stats && stats.audioIn.packetsReceived > ECHO_PACKETS && stats.audioIn.totalAudioEnergy > ECHOED_SPEECH_ENERGY,
  timeoutMs: 20_000,
};

/** One call of the official client that stays until its speech came back; the disconnect releases its allocation. */
async function call(options: Omit<ProbeOptions, "baseUrl">): Promise<ProbeResult> {
  const page = await openProbePage(browser.context, { baseUrl: server.url });
  try {
    const result = await runProbe(page.page, { baseUrl: server.url, connectTimeoutMs: 20_000, ...options }, echoHeard);
    expect(result.botReady, explainProbe(result)).toBe(true);
    expect(result.stats!.audioIn.totalAudioEnergy).toBeGreaterThan(ECHOED_SPEECH_ENERGY);
    return result;
  } finally {
    await page.close();
  }
}

/**
 * The allocation, made by a client at `ip` after the sessions in `before`, that carried the call: coturn logs what it
 * relayed when the allocation ends. A client allocates on every path it can and releases the ones it does not use.
 */
function callAllocation(before: TurnSession[], ip: string): Promise<TurnSession> {
  const known = new Set(before.map((session) => session.id));
  const relayedCall = ({ peerUsage }: TurnSession) =>
    !!peerUsage && peerUsage.sentPackets > ECHO_PACKETS && peerUsage.receivedPackets > ECHO_PACKETS;
  return eventually(() => coturn.sessions().find((session) =>
    !known.has(session.id) && session.remote?.startsWith(`${ip}:`) && relayedCall(session)), 15_000,
    `coturn to log an allocation from ${ip} that relayed ${ECHO_PACKETS} packets each way`);
}

/** Packets a filter rule dropped so far, read from `iptables -L -v -x` (the first column). */
function droppedPackets(listing: string, rule: RegExp): number {
  const line = listing.split("\n").find((text) => rule.test(text));
  if (!line) throw new Error(`no rule matching ${rule} in:\n${listing}`);
  return Number(line.trim().split(/\s+/)[0]);
}

const RELAY_PATHS = {
  udp: { protocol: "udp", port: TURN_PORT },
  tcp: { protocol: "tcp", port: TURN_PORT },
  tls: { protocol: "tcp", port: TURNS_PORT },
} as const;

describe("the official client through coturn, its direct UDP path blocked", () => {
  /** Chromium may reach coturn on `path` only, and send no other UDP; HTTP to the server stays open. */
  function leaveOnly(path: keyof typeof RELAY_PATHS): void {
    const { protocol, port } = RELAY_PATHS[path];
    const rule = (...args: string[]) => sh(["iptables", "-A", CLIENT_FILTER, ...args]);
    sh(["iptables", "-F", CLIENT_FILTER]);
    rule("-o", "lo", "-j", "RETURN");
    rule("-d", coturn.ip, "-p", protocol, "--dport", String(port), "-j", "RETURN");
    rule("-d", coturn.ip, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset");
    rule("-p", "udp", "-j", "DROP");
  }

  for (const path of ["udp", "tcp", "tls"] as const) {
    test(`connects through the relay over ${path}, hears its echo, and coturn relayed the media`, async () => {
      leaveOnly(path);
      const before = coturn.sessions();
      const result = await call({ mode: "start" });

      // The credentials came from /start, minted by the server from the secret coturn was started with.
      const start = result.requests.find((request) => new URL(request.url).pathname === "/start")!;
      const { iceServers } = (start.response as unknown as { iceConfig: { iceServers: RTCIceServer[] } }).iceConfig;
      const minted = { username: expect.stringMatching(/^\d+:smallwebrtc$/), credential: expect.any(String) };
      expect(iceServers).toContainEqual({ urls: Object.values(coturn.urls), ...minted });
      // Chromium's end of the pair is its relayed address on coturn, reached over `path`.
      expect(result.stats!.selectedPair).toMatch(new RegExp(`^udp ${coturn.ip}:\\d+ relay/${path} <-> `));
      // Its direct UDP was tried and dropped.
      const listing = sh(["iptables", "-L", CLIENT_FILTER, "-v", "-x", "-n"]);
      expect(droppedPackets(listing, /DROP\s+(17|udp)\b/)).toBeGreaterThan(0);

      // Chromium's speech went out of its relayed address to the server, and the echo came back into it.
      const session = await callAllocation(before, lan.ip);
      expect(session.username).toMatch(/^\d+:smallwebrtc$/);
      expect(session.local).toBe(`${coturn.ip}:${RELAY_PATHS[path].port}`);
      expect(session.cipher !== undefined).toBe(path === "tls");
      console.log(`relay over ${path}: connected ${result.msToConnected} ms, bot-ready ${result.msToBotReady} ms; ` +
        `coturn relayed ${session.peerUsage!.sentBytes} B out, ${session.peerUsage!.receivedBytes} B back`);
    }, 90_000);
  }
});

describe("the server behind coturn: no UDP reaches it but from the relay", () => {
  beforeAll(() => {
    sh(["iptables", "-F", CLIENT_FILTER]);
    lan.hosts.server.run(["iptables", "-A", "INPUT", "-p", "udp", "!", "-s", coturn.ip, "-j", "DROP"]);
  });

  test("a client with no TURN server of its own gets its echo through the server's relay candidate", async () => {
    const before = coturn.sessions();
    const result = await call({ mode: "offer" });

    // The answer offered the server's host address too, but the pair that carried the call is the relayed one.
    const answer = result.requests.find((request) => request.method === "POST")!.response as { sdp: SdpSummary };
    expect(answer.sdp.candidates.some((line) => line.includes(`${lan.hosts.server.ip}:`))).toBe(true);
    expect(result.stats!.selectedPair).toMatch(new RegExp(`^udp ${lan.ip}:\\d+ host <-> ${coturn.ip}:\\d+ relay$`));
    const listing = lan.hosts.server.run(["iptables", "-L", "INPUT", "-v", "-x", "-n"]);
    expect(droppedPackets(listing, /DROP\s+(17|udp)\b/)).toBeGreaterThan(0);

    // The server released its allocation when the call ended, and coturn relayed the call through it.
    const session = await callAllocation(before, lan.hosts.server.ip);
    expect(session.username).toMatch(/^\d+:smallwebrtc$/);
    console.log(`server behind the relay: connected ${result.msToConnected} ms, bot-ready ${result.msToBotReady} ms; ` +
      `coturn relayed ${session.peerUsage!.receivedBytes} B in, ${session.peerUsage!.sentBytes} B out`);
  }, 90_000);
});
