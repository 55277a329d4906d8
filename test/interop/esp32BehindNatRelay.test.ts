/**
 * A pipecat-esp32 device and an ESP32-mode server each behind a home router (test/support/natTopology.ts,
 * `server: "home"`): the server's router forwards its HTTP port and no UDP, so no direct path exists. The server has
 * `turn` set and offers the device its relayed address on a real coturn (test/support/coturn.ts); libpeer reads a
 * relay candidate like any other and sends its checks to that address.
 *
 * The relay admits a peer only once the server has created a permission for the peer's address (RFC 8656 §9), and the
 * server creates one for each device candidate it checks. So the device gets through when it offers its public
 * address, a server-reflexive candidate, which libpeer gathers from a STUN URL in its `ice_servers` (the aiortc peer
 * with `--stun`, here asking coturn); a device that offers only its LAN address, as pipecat-esp32 ships, does not.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { speechWav } from "../../scripts/support/media.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { type Coturn, startCoturn, TURN_PORT, type TurnSession } from "../support/coturn.ts";
import { eventually } from "../support/eventually.ts";
import { createNatTopology, type NatTopology } from "../support/natTopology.ts";
import { type AiortcPeerReport, runAiortcPeer } from "./aiortcPeer.ts";

const SECRET = "the-pi-at-home-and-coturn-share-this";
const SECONDS = 4;
/** Enough for a call through the relay on a loaded machine (about 1 s on an idle one), and the control's whole wait. */
const CONNECT_TIMEOUT_SECONDS = 8;

let speech: string;
let net: NatTopology;
let coturn: Coturn;
let server: ServerProcess;
let baseUrl: string;

beforeAll(async () => {
  speech = await speechWav();
  net = createNatTopology({ server: "home" });
  coturn = await startCoturn({ host: net.addInternetHost("relay"), secret: SECRET });
  server = await startServerProcess({
    command: net.server.command([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
    // -v: the debug log names the session's selected candidate pair.
    args: ["--host", net.server.ip, "--esp32", "-v"],
    env: { SMALLWEBRTC_TURN: JSON.stringify({ urls: [coturn.urls.udp], secret: SECRET }) },
  });
  const port = Number(new URL(server.url).port);
  net.forwardTcpToServer(port);
  baseUrl = `http://${net.serverPublicIp}:${port}`;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await coturn?.stop();
  net?.close();
});

function callFromDevice(stun?: string): Promise<AiortcPeerReport> {
  return runAiortcPeer({
    baseUrl,
    wav: speech,
    seconds: SECONDS,
    esp32: true,
    iceAddress: net.client.ip,
    launcher: net.client.command,
    connectTimeoutSeconds: CONNECT_TIMEOUT_SECONDS,
    ...(stun ? { stun } : {}),
  });
}

/** "192.0.2.10:3478" -> "192.0.2.10". */
function address(endpoint: string): string {
  return endpoint.slice(0, endpoint.lastIndexOf(":"));
}

function answerCandidates(report: AiortcPeerReport): string[] {
  return report.answer_sdp.split("\r\n").filter((line) => line.startsWith("a=candidate:"));
}

/** The session's path as the server logged it after `from` characters of its output. */
function serverPairAfter(from: number): string | undefined {
  return server.output().slice(from).match(/selected candidate pair .*pair="([^"]+)"/)?.[1];
}

describe("an ESP32 device and a server each behind a home router, the server with turn", () => {
  test("a device that knows its public address reaches the server through its relay candidate; one that does not, " +
    "never", async () => {
    const before = new Set(coturn.sessions().map((session) => session.id));
    const report = await callFromDevice(`stun:${coturn.ip}:${TURN_PORT}`);
    // The peer refuses answers libpeer could not read; media flowed both ways for the whole call and the speech came
    // back loud (the echo bot sends silence when it hears nothing; RMS 0 for silence, about 2700 for the echo).
    expect(report.errors).toEqual([]);
    expect(report.connected).toBe(true);
    expect(report.audio_frames_sent).toBeGreaterThan(SECONDS * 50 * 0.8);
    expect(report.audio_frames_received).toBeGreaterThan(SECONDS * 50 * 0.8);
    expect(report.received_rms).toBeGreaterThan(1000);
    expect(report.offer_sdp).toMatch(new RegExp(`typ srflx raddr 0\\.0\\.0\\.0 rport 0\\r\\n`));

    // The answer (each section repeats it): the host candidate, then the relayed address on coturn. The path: from
    // the relay to the home router's address that the device learnt from STUN.
    const offered = answerCandidates(report).map((line) => `${line.split(" ")[4]} ${line.split(" ")[7]}`);
    expect([...new Set(offered)]).toEqual([`${net.server.ip} host`, `${coturn.ip} relay`]);
    const pair = await eventually(() => serverPairAfter(0), 5000, "the server's selected candidate pair in its log");
    expect(pair.replace(/:\d+ /g, " ")).toBe(`udp ${coturn.ip} relay <-> ${net.homeRouter.ip} srflx`);

    // coturn relayed the call through the server's allocation, which ends (and is logged) with the call. The server
    // had opened it to both device candidates it checked, the LAN address and the router's.
    const relayedCall = (session: TurnSession) => !before.has(session.id) &&
      session.remote?.startsWith(`${net.serverPublicIp}:`) && (session.peerUsage?.sentPackets ?? 0) > SECONDS * 40 &&
      (session.peerUsage?.receivedPackets ?? 0) > SECONDS * 40;
    const allocation = await eventually(() => coturn.sessions().find(relayedCall), 15_000,
      "coturn to log the server's allocation relaying the call both ways");
    expect(allocation.peers.map(address)).toEqual([net.client.ip, net.homeRouter.ip]);
    console.log(`ESP32 and server behind NAT, through the server's relay: connected after ` +
      `${report.ms_to_connected} ms; ${pair}; coturn relayed ${allocation.peerUsage!.receivedBytes} B in, ` +
      `${allocation.peerUsage!.sentBytes} B out`);

    // The device as pipecat-esp32 ships (no STUN server): the same answer, but the server's allocation is open to the
    // device's LAN address only, so the relay drops the checks that come from the router's.
    const logged = server.output().length;
    const known = new Set(coturn.sessions().map((session) => session.id));
    const stock = await callFromDevice();
    expect(stock.connected).toBe(false);
    expect(stock.errors).toEqual([expect.stringMatching(/^not connected with an open data channel within/)]);
    expect(new Set(answerCandidates(stock).map((line) => line.split(" ")[7]))).toEqual(new Set(["host", "relay"]));
    expect(serverPairAfter(logged)).toBeUndefined();
    const stockAllocation = coturn.sessions().find((session) => !known.has(session.id) && session.peers.length > 0);
    expect(stockAllocation?.peers.map(address)).toEqual([net.client.ip]);
  }, 60_000);
});
