/**
 * A pipecat-esp32 device behind a home router (masquerading NAT; test/support/natTopology.ts): the aiortc peer shaped
 * like the firmware (test/interop/aiortc_peer.py --esp32) runs in the client's namespace and offers its LAN address
 * only, as the firmware does (no STUN server). The server runs in ESP32 mode in its own namespace, either on a public
 * address or behind a cloud VM's 1:1 NAT with `ice.advertisedIps`. Either way the device's checks reach the server's
 * public address, the server answers the home router's mapped address they came from, and the device hears its
 * speech back.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { speechWav } from "../../scripts/support/media.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { eventually } from "../support/eventually.ts";
import { createNatTopology, type NatTopology, type NatTopologyOptions } from "../support/natTopology.ts";
import { type AiortcPeerReport, runAiortcPeer } from "./aiortcPeer.ts";

const SECONDS = 6;

let speech: string;
let net: NatTopology | undefined;
let server: ServerProcess | undefined;

beforeAll(async () => {
  speech = await speechWav();
});

afterEach(async () => {
  await server?.stop();
  net?.close();
  [server, net] = [undefined, undefined];
});

/**
 * An ESP32-mode server in the server's namespace, told its public address when `advertise` is set; the device behind
 * the home router calls that public address.
 */
async function callFromBehindNat(site: NatTopologyOptions["server"], advertise: boolean) {
  net = createNatTopology({ server: site });
  const mapping = `${net.serverPublicIp}/${net.server.ip}`;
  const env: Record<string, string> = advertise ? { SMALLWEBRTC_ICE_ADVERTISED_IPS: mapping } : {};
  server = await startServerProcess({
    command: net.server.command([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
    // -v: the debug log names the session's selected candidate pair.
    args: ["--host", net.server.ip, "--esp32", "-v"],
    env,
  });
  const baseUrl = `http://${net.serverPublicIp}:${new URL(server.url).port}`;
  const report = await runAiortcPeer({
    baseUrl,
    wav: speech,
    seconds: SECONDS,
    esp32: true,
    iceAddress: net.client.ip,
    launcher: net.client.command,
  });
  return { net, server, report };
}

/**
 * The device connected (its peer refuses answers libpeer could not read), and media flowed both ways for the whole
 * call: its speech came back loud. The echo bot sends silence when it hears nothing, so loud audio at the device is
 * its own speech (RMS 3040 sent, about 2700 back over the call; silence is 0). How faithful the echo is belongs to
 * test/interop/aiortc.test.ts: on a loaded machine a stalled server shifts it by more than a realignment follows.
 */
function expectEchoed(report: AiortcPeerReport): void {
  expect(report.errors).toEqual([]);
  expect(report.connected).toBe(true);
  expect(report.audio_frames_sent).toBeGreaterThan(SECONDS * 50 * 0.8);
  expect(report.audio_frames_received).toBeGreaterThan(SECONDS * 50 * 0.8);
  expect(report.received_rms).toBeGreaterThan(1000);
}

function answerCandidates(report: AiortcPeerReport): string[] {
  return report.answer_sdp.split("\r\n").filter((line) => line.startsWith("a=candidate:"));
}

/** The server's log line for the session's path: "udp LOCAL:PORT host <-> REMOTE:PORT TYPE". */
function serverPair(process: ServerProcess): Promise<string> {
  const pair = () => process.output().match(/selected candidate pair .*pair="([^"]+)"/)?.[1];
  return eventually(pair, 5000, "the server's selected candidate pair in its log");
}

describe("an ESP32 device behind a home router", () => {
  test("reaches a server on a public address, with nothing configured for NAT", async () => {
    const { net, server, report } = await callFromBehindNat("public", false);
    expectEchoed(report);
    expect(answerCandidates(report).every((line) => line.split(" ")[4] === net.serverPublicIp)).toBe(true);
    const pair = await serverPair(server);
    expect(pair.replace(/:\d+ /g, " ")).toBe(`udp ${net.serverPublicIp} host <-> ${net.homeRouter.ip} prflx`);
    console.log(`ESP32 behind NAT, public server: connected after ${report.ms_to_connected} ms; ${pair}`);
  }, 60_000);

  test("reaches a server behind a 1:1 NAT through the public address in ice.advertisedIps", async () => {
    const { net, server, report } = await callFromBehindNat("oneToOne", true);
    expectEchoed(report);
    // The ESP32 rules still hold: UDP host candidates without related addresses, on the server's address and the
    // public one mapped to it.
    const candidates = answerCandidates(report);
    expect(candidates.every((line) => / udp \d+ \S+ \d+ typ host /i.test(line) && !line.includes("raddr"))).toBe(true);
    expect(new Set(candidates.map((line) => line.split(" ")[4]))).toEqual(new Set([net.server.ip, net.serverPublicIp]));
    const pair = await serverPair(server);
    expect(pair.replace(/:\d+ /g, " ")).toBe(`udp ${net.server.ip} host <-> ${net.homeRouter.ip} prflx`);
    console.log(`ESP32 behind NAT, server behind 1:1 NAT: connected after ${report.ms_to_connected} ms; ${pair}`);
  }, 60_000);
});
