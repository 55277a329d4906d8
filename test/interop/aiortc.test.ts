/**
 * Interop with a peer not written here: aiortc (Debian's python3-aiortc), the WebRTC stack Pipecat itself uses,
 * driven by test/interop/aiortc_peer.py against the real server process with the echo bot. One run speaks as a
 * Pipecat-style client (aiortc's own offer, RTVI client-ready, app messages, pings); the other shapes its offer and
 * media like the pipecat-esp32 firmware (libpeer). Both must get their speech back and the server's RTVI messages.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { decimate, findEcho, readWav, rms } from "../../scripts/support/audio.ts";
import { metricSample } from "../../scripts/benchmarks/servers.ts";
import { speechWav } from "../../scripts/support/media.ts";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";
import { createTwoHosts } from "../support/twoHosts.ts";
import { eventually } from "../support/eventually.ts";
import { type AiortcPeerReport, runAiortcPeer } from "./aiortcPeer.ts";

const SECONDS = 6;
const RATE = 16000;

let server: ServerProcess;
let speech: string;
/** The speech sent, at the 16 kHz of the peer's recordings. */
let reference: Int16Array;

beforeAll(async () => {
  // -v: the debug log says how a session ended, which is how the tests see that the server noticed the peer leave.
  [server, speech] = await Promise.all([startServerProcess({ args: ["-v"] }), speechWav()]);
  const wav = readWav(speech);
  reference = decimate(wav.pcm, wav.sampleRate / RATE);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** Where the sent speech sits in `received`, how well it matches there, and its level relative to what was sent. */
function echoIn(received: Int16Array) {
  const echo = findEcho(reference, received, RATE);
  const segment = received.subarray(echo.lag, echo.lag + reference.length);
  return { ...echo, levelRatio: rms(segment) / rms(reference) };
}

/**
 * The speech came back: the same loudness contour and waveform, at about the level it was sent. The waveform bound
 * is loose because the echo has no playout cushion: an input frame that arrives late is replaced by 20 ms of silence
 * and the rest of the sentence shifts, which can halve the best single-lag correlation (seen: 0.52 to 0.90 with the
 * ESP32 profile, 0.89 steadily otherwise). Noise and silence score about 0.
 */
function isEcho({ envelopeCorrelation, waveformCorrelation, levelRatio }: ReturnType<typeof echoIn>): boolean {
  return envelopeCorrelation > 0.8 && waveformCorrelation > 0.3 && levelRatio > 0.5 && levelRatio < 2;
}

function expectSpeechEchoed(report: AiortcPeerReport) {
  expect(report.recording).not.toBeNull();
  const received = readWav(report.recording!);
  expect(received.sampleRate).toBe(RATE);
  const echo = echoIn(received.pcm);
  // The same criterion the control test below holds against silence and noise; a failure prints the measurements.
  expect({ ...echo, echoed: isEcho(echo) }).toMatchObject({ echoed: true });
  return echo;
}

/**
 * Bot audio packets the server skipped so far because it stalled (each one is a timestamp gap by design), summed
 * over its workers.
 */
async function packetsSkippedByStalls(): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const skipped = metricSample(metrics, "smallwebrtc_audio_packets_skipped_total");
  expect(skipped).toBeNumber();
  return skipped!;
}

async function expectConnected(report: AiortcPeerReport) {
  expect(report.errors).toEqual([]);
  expect(report.http_status).toBe(200);
  expect(report.connected).toBe(true);
  expect(report.pc_id).toBeString();
  // Measured about 200 ms on loopback; the bound only has to catch a connection that merely limps in.
  expect(report.ms_to_connected!).toBeLessThan(5000);
  // Media flows both ways for the whole call: 50 frames a second, a little lost to start-up.
  expect(report.audio_frames_sent).toBeGreaterThan(SECONDS * 50 * 0.8);
  expect(report.audio_frames_received).toBeGreaterThan(SECONDS * 50 * 0.8);
  // Like Pipecat, the server sends silence when it has nothing to say: RTP timestamps never jump, except where the
  // server itself stalled for more than 60 ms (a loaded machine) and skipped the packets it could not send in time.
  expect(report.audio_timestamp_gaps).toBeLessThanOrEqual(await packetsSkippedByStalls());
  // Pipecat clients JSON.parse every message: the server must never send anything else (nor echo the pings).
  expect(report.dc_received_non_json).toEqual([]);
}

/**
 * aiortc's close() ends SCTP (ABORT) and DTLS (close_notify): the server must see that itself and free the session at once (measured
 * 1 ms), not only when its liveness check gives up on the client seconds later (which logs "client vanished" instead).
 */
async function expectClosedByClient(report: AiortcPeerReport) {
  // A worker's lines carry its index first: "... connection worker=1 pcId=...".
  const closed = new RegExp(`client closed its peer connection (worker=\\d+ )?pcId=${RegExp.escape(JSON.stringify(report.pc_id))}`);
  await eventually(() => closed.test(server.output()), 2000, `${closed} in the server's log`);
}

type Message = { type?: string; label?: string; id?: string; data?: unknown; [key: string]: unknown };

describe("aiortc as a Pipecat-style client", () => {
  test("connects, gets bot-ready for its client-ready, its app messages echoed, and its speech back", async () => {
    const report = await runAiortcPeer({ baseUrl: server.url, wav: speech, seconds: SECONDS });
    await expectConnected(report);
    const received = report.dc_received as Message[];
    const sent = report.dc_sent as Message[];

    expect(report.client_ready_id).toBeString();
    expect(received.find((m) => m.type === "bot-ready")).toMatchObject({
      label: "rtvi-ai",
      id: report.client_ready_id!,
      data: { version: "2.1.0" },
    });
    // Plain app messages come back verbatim, the 20 kB one too (many SCTP fragments each way).
    const plain = sent.filter((m) => m.type === "interop-echo");
    expect(plain.length).toBe(2);
    for (const message of plain) expect(received).toContainEqual(message);
    // An RTVI client-message is answered by the echo bot with a server-response carrying the same id and data.
    const request = sent.find((m) => m.type === "client-message")!;
    expect(received).toContainEqual({ label: "rtvi-ai", type: "server-response", id: request.id, data: request.data });
    // The echoed speech starts the bot speaking.
    expect(received.some((m) => m.label === "rtvi-ai" && m.type === "bot-started-speaking")).toBe(true);
    // An audio-only client has no video to refresh: nothing asks it to renegotiate.
    expect(received.filter((m) => m.type === "signalling")).toEqual([]);

    const echo = expectSpeechEchoed(report);
    console.log(
      `aiortc: connected ${report.ms_to_connected} ms, channel ${report.ms_to_datachannel_open} ms, first audio ` +
        `${report.ms_to_first_audio} ms; echo envelope r=${echo.envelopeCorrelation.toFixed(3)} waveform ` +
        `r=${echo.waveformCorrelation.toFixed(3)} level x${echo.levelRatio.toFixed(2)} (rms ${report.received_rms})`,
    );
    await expectClosedByClient(report);
  }, 60_000);
});

describe("aiortc shaped like the pipecat-esp32 firmware (server without --esp32)", () => {
  test("a libpeer-style offer is answered so libpeer could use it, audio echoes, RTVI events arrive", async () => {
    const report = await runAiortcPeer({ baseUrl: server.url, wav: speech, seconds: SECONDS, esp32: true });
    expect(report.offer_sdp).toContain("a=setup:passive");
    await expectConnected(report);

    // The peer already refused what libpeer cannot read (setup, fingerprint, CRLF, candidates, 4 KiB; see
    // libpeer_answer_problems). Beyond that: libpeer named its mids and sent one Opus payload type, and it offered
    // no header extensions, so none may be answered (RFC 8285 section 6).
    const answer = report.answer_sdp;
    expect([...answer.matchAll(/^a=mid:(\S+)/gm)].map((m) => m[1])).toEqual(["audio", "datachannel"]);
    expect(answer).toMatch(/^a=group:BUNDLE audio datachannel\r?$/m);
    expect(answer).toMatch(/^m=audio \d+ \S+ 111\r?$/m);
    expect(answer).toMatch(/^a=rtpmap:111 opus\/48000\/2\r?$/m);
    expect(answer).not.toMatch(/^a=extmap:/m);
    expect(answer).toMatch(/^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/im);

    // The firmware sends nothing on the channel, so what arrives is the server's own RTVI events.
    const received = report.dc_received as Message[];
    expect(report.dc_sent).toEqual([]);
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((m) => m.label === "rtvi-ai")).toBe(true);
    expect(received.some((m) => m.type === "bot-started-speaking")).toBe(true);
    expect(received.some((m) => m.type === "bot-ready")).toBe(false);

    const echo = expectSpeechEchoed(report);
    console.log(
      `esp32 profile: connected ${report.ms_to_connected} ms, channel ${report.ms_to_datachannel_open} ms, first ` +
        `audio ${report.ms_to_first_audio} ms; echo envelope r=${echo.envelopeCorrelation.toFixed(3)} waveform ` +
        `r=${echo.waveformCorrelation.toFixed(3)} level x${echo.levelRatio.toFixed(2)} (rms ${report.received_rms})`,
    );
    await expectClosedByClient(report);
  }, 60_000);
});

describe("aiortc as a pipecat-esp32 device against a server in ESP32 mode", () => {
  test("connects across two hosts, gets its speech back and the server's RTVI events, with a libpeer-sized answer", async () => {
    // ESP32 mode needs a real LAN address: the server lives on a second host (netns) at hosts.serverIp.
    const hosts = createTwoHosts();
    let esp32Server: ServerProcess | undefined;
    try {
      esp32Server = await startServerProcess({
        command: hosts.serverCommand([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
        args: ["--host", hosts.serverIp, "--esp32", "-v"],
      });
      const baseUrl = esp32Server.url.replace("127.0.0.1", hosts.serverIp);
      const report = await runAiortcPeer({ baseUrl, wav: speech, seconds: SECONDS, esp32: true, iceAddress: hosts.clientIp });
      // The peer itself refuses an answer libpeer could not read (setup, fingerprint, CRLF, candidates, size).
      await expectConnected(report);
      expect(report.http_body_bytes).toBeLessThanOrEqual(4096);
      expect(report.http_chunked).toBe(false);
      const candidates = report.answer_sdp.split("\r\n").filter((line) => line.startsWith("a=candidate:"));
      expect(candidates.length).toBeGreaterThan(0);
      expect(candidates.every((line) => line.split(" ")[4] === hosts.serverIp && !line.includes("raddr"))).toBe(true);
      expect(report.answer_sdp).toContain("a=setup:active");
      expect((report.dc_received as Message[]).some((m) => m.type === "bot-started-speaking")).toBe(true);
      expectSpeechEchoed(report);
    } finally {
      await esp32Server?.stop();
      hosts.close();
    }
  }, 60_000);
});

describe("the echo check itself", () => {
  test("accepts the speech, rejects silence and noise as loud as the speech", () => {
    const length = reference.length + 2 * RATE;
    const speechThenSilence = new Int16Array(length);
    speechThenSilence.set(reference, RATE / 2);
    const silence = new Int16Array(length);
    // Deterministic white noise at the speech's RMS (uniform: rms = amplitude / sqrt 3).
    let seed = 1;
    const amplitude = rms(reference) * Math.sqrt(3);
    const noise = Int16Array.from({ length }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.round((seed / 2 ** 30 - 1) * amplitude);
    });
    expect(isEcho(echoIn(speechThenSilence))).toBe(true);
    expect(isEcho(echoIn(silence))).toBe(false);
    expect(isEcho(echoIn(noise))).toBe(false);
  });
});
