/**
 * The bad-input suite: a seeded fuzzer sends 10,000 mutated requests to every route and garbage STUN/DTLS/RTP
 * datagrams to the open UDP ports, while a real call runs beside it. Required: no crash, no 5xx, every error a JSON
 * 4xx with a reason, no session left behind, and the real call's audio never stops.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { rms } from "../../scripts/support/audio.ts";
import { Mutator } from "../support/mutations.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { sleep, TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const REQUESTS = 10_000;
const DATAGRAMS = 5_000;

let server: TestServer;
const clients: TestClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
});

interface Outcome {
  status: number;
  contentType: string;
  body: string;
}

function udpPorts(sdp: string): number[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ 127\.0\.0\.1 (\d+) typ/gm)].map((m) => Number(m[1]));
}

describe("bad input", () => {
  test(`${REQUESTS} mutated requests and ${DATAGRAMS} garbage datagrams (seed ${SEED})`, async () => {
    server = startTestServer({ limits: { offersPerMinute: 1_000_000, connectTimeoutSecs: 2, maxSessions: 10_000 } });
    const fuzz = new Mutator(SEED);

    // The real call: a client streaming speech-like audio to the echo bot for the whole run.
    const call = new TestClient();
    clients.push(call);
    const { body: callAnswer } = await server.post("/api/offer", await call.offer());
    await call.accept(callAnswer);
    await call.channelOpen();
    let streaming = true;
    const tone = Int16Array.from({ length: 48000 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 48000)));
    const audioLoop = (async () => {
      while (streaming) await call.sendAudio(tone);
    })();
    const packetsAt = (): number => call.audioIn.length;

    // Material to mutate: real offers, the session ids and pc_ids handed out along the way.
    const offers = await Promise.all([0, 1, 2].map(async () => {
      const c = new TestClient();
      clients.push(c);
      return (await c.offer()).sdp;
    }));
    const pcIds = new Set<string>([callAnswer.pc_id]);
    const sessionIds: string[] = [];
    const ports = new Set<number>(udpPorts(callAnswer.sdp));

    const outcomes: Outcome[] = [];
    const packetsBefore = packetsAt();
    for (let i = 0; i < REQUESTS; i++) {
      const { method, path, body, headers } = request(fuzz, offers, [...pcIds], sessionIds);
      const response = await server.request(path, { method, body, headers });
      const text = await response.text();
      outcomes.push({ status: response.status, contentType: response.headers.get("content-type") ?? "", body: text });
      if (response.status === 200 && response.headers.get("content-type")?.includes("json")) {
        const json = JSON.parse(text) as { pc_id?: string; sessionId?: string; sdp?: string };
        if (json.pc_id) pcIds.add(json.pc_id);
        if (json.sessionId) sessionIds.push(json.sessionId);
        if (json.sdp) for (const port of udpPorts(json.sdp)) ports.add(port);
      }
      if (i % 500 === 0) await sleep(1); // let the real call's timers run
    }

    // Garbage at every UDP port seen, the real call's included.
    const socket = createSocket("udp4");
    socket.on("error", () => {});
    const targets = [...ports];
    for (let i = 0; i < DATAGRAMS; i++) {
      socket.send(fuzz.datagram(), fuzz.pick(targets), "127.0.0.1");
      if (i % 100 === 0) await sleep(2);
    }
    socket.close();

    const serverErrors = outcomes.filter((o) => o.status >= 500);
    expect(serverErrors.map((o) => `${o.status} ${o.body.slice(0, 120)}`)).toEqual([]);
    const badErrors = outcomes.filter((o) => o.status >= 400 && !isJsonDetail(o));
    expect(badErrors.map((o) => `${o.status} ${o.contentType} ${o.body.slice(0, 120)}`)).toEqual([]);
    const statuses = new Set(outcomes.map((o) => o.status));
    for (const expected of [200, 400, 404, 413, 422]) expect(statuses.has(expected)).toBe(true);

    // The real call kept flowing during the fuzz, and its echo still carries the tone (not just silence packets).
    expect(packetsAt() - packetsBefore).toBeGreaterThan(50);
    const loudEchoes = () => {
      const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
      const recent = call.audioIn.slice(-100).sort((a, b) => a.header.timestamp - b.header.timestamp);
      const echoed = recent.map((packet) => rms(decoder.decode(packet.payload)));
      decoder.free();
      return echoed.filter((level) => level > 1000).length;
    };
    await eventually(() => loudEchoes() > 60, 5000, "the tone in 60 of the last 100 echoed packets");

    // Sessions the fuzz created but never connected are reaped (2 s connect timeout); only the real call remains.
    await eventually(() => server.server.handler.size === 1, 10_000, "the fuzz's sessions to be reaped");
    expect(server.server.handler.connections()[0].pcId).toBe(callAnswer.pc_id);
    streaming = false;
    await audioLoop;
  }, 600_000);
});

function isJsonDetail(outcome: Outcome): boolean {
  if (!outcome.contentType.includes("application/json")) return false;
  try {
    return typeof JSON.parse(outcome.body).detail === "string";
  } catch {
    return false;
  }
}

/** A URL path segment from any text (lone surrogates cannot be percent-encoded, so they become "?"). */
function segment(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "?"));
}

/** One mutated request to a random route. */
function request(fuzz: Mutator, offers: string[], pcIds: string[], sessionIds: string[]) {
  const sessionId = fuzz.chance(0.7) && sessionIds.length ? fuzz.pick(sessionIds) : fuzz.junkText(12) || "x";
  const route = fuzz.pick([
    ["POST", "/api/offer"],
    ["POST", "/api/offer"],
    ["PATCH", "/api/offer"],
    ["PATCH", "/api/offer"],
    ["POST", "/start"],
    ["POST", `/sessions/${segment(sessionId)}/api/offer`],
    ["PATCH", `/sessions/${segment(sessionId)}/api/offer`],
    ["GET", "/status"],
    ["GET", "/health"],
    ["GET", "/metrics"],
    ["GET", `/client/${segment(fuzz.junkText(10))}`],
    ["GET", "/client/../../etc/passwd"],
    ["PUT", "/api/offer"],
    ["DELETE", `/sessions/${segment(sessionId)}`],
    ["POST", `/${segment(fuzz.junkText(6))}`],
  ] as const);
  const [method, path] = route;
  const pcId = fuzz.chance(0.6) && pcIds.length ? fuzz.pick(pcIds) : fuzz.value();
  let body: string | undefined;
  switch (fuzz.int(7)) {
    case 0: // broken JSON
      body = JSON.stringify({ sdp: fuzz.pick(offers), type: "offer" }).slice(0, fuzz.int(200));
      break;
    case 1: // not JSON at all
      body = fuzz.junkText(200);
      break;
    case 2: // wrong types everywhere
      body = JSON.stringify({ sdp: fuzz.value(), type: fuzz.value(), pc_id: fuzz.value(), restart_pc: fuzz.value(), candidates: fuzz.value() });
      break;
    case 3: // a damaged SDP in an otherwise valid offer, sometimes renegotiating a known pc_id
      body = JSON.stringify({ sdp: fuzz.sdp(fuzz.pick(offers)), type: "offer", pc_id: fuzz.chance(0.3) ? pcId : null, restart_pc: fuzz.chance(0.2) });
      break;
    case 4: // trickle with end-of-candidates markers and garbage candidates for known and unknown pc_ids
      body = JSON.stringify({
        pc_id: pcId,
        candidates: Array.from({ length: fuzz.int(5) }, () => ({
          candidate: fuzz.pick(["", "candidate:1 1 udp 1 127.0.0.1 9 typ host", fuzz.junkText(40), "candidate:1 1 udp 1 224.0.0.1 9 typ host"]),
          sdp_mid: fuzz.pick(["0", "1", "9", null, fuzz.junkText(4)]),
          sdp_mline_index: fuzz.pick([0, 1, 7, -1, null, 1e9]),
        })),
      });
      break;
    case 5: // huge fields
      body = JSON.stringify({ sdp: "v=0\r\n" + "a=x\r\n".repeat(20_000), type: "offer", requestData: fuzz.value() });
      break;
    default: // an untouched valid body for the route (so the mutated ones are compared with working ones)
      body = path.endsWith("/start") ? JSON.stringify({ body: fuzz.value() }) : JSON.stringify({ sdp: fuzz.pick(offers), type: "offer" });
  }
  const headers: Record<string, string> = fuzz.chance(0.8) ? { "Content-Type": "application/json" } : {};
  if (fuzz.chance(0.05)) headers.Origin = fuzz.pick(["https://evil.example", "null", "http://localhost:3000"]);
  return { method, path, body: method === "GET" ? undefined : body, headers };
}
