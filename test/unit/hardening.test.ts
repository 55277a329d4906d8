/** Limits, access control, candidate policy and metrics: what a server on a network must refuse, and how. */
import { afterEach, describe, expect, test } from "bun:test";
import { mintAccessToken } from "../../lib/server/accessTokens.ts";
import { RateLimiter } from "../../lib/server/rateLimit.ts";
import { candidateRefusal } from "../../lib/webrtc/remoteCandidates.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";

let server: TestServer;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
});

async function realOffer(): Promise<{ sdp: string; type: "offer" }> {
  const client = new TestClient();
  clients.push(client);
  return await client.offer();
}

function post(path: string, body: unknown, headers: Record<string, string> = {}, remoteAddress = "198.51.100.7") {
  return Promise.resolve(
    server.server.app.request(
      `http://127.0.0.1${path}`,
      { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json", ...headers } },
      { remoteAddress },
    ),
  );
}

async function expectDetail(response: Response, status: number, pattern: RegExp) {
  expect(response.status).toBe(status);
  expect((await response.json()).detail).toMatch(pattern);
}

describe("SDP limits", () => {
  test("oversized, overlong, too many sections or candidates, bad ICE credentials: 400, no session", async () => {
    server = startTestServer({ limits: { maxSdpBytes: 4096, maxSdpLines: 120, maxMediaSections: 4, maxRemoteCandidates: 6 } });
    const good = (await realOffer()).sdp;
    const cases: [string, RegExp][] = [
      [good + "a=x\r\n".repeat(2000), /larger than 4096 bytes/],
      [good.replace("v=0\r\n", "v=0\r\n" + "b=AS:1\r\n".repeat(100)), /more than 120 lines/],
      [good + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n".repeat(3), /more than 4 media sections/],
      [good + "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n".repeat(7), /more than 6 candidates/],
      [good.replace(/a=ice-ufrag:\S+/g, "a=ice-ufrag:ab"), /invalid a=ice-ufrag/],
      [good.replace(/a=ice-pwd:\S+/g, "a=ice-pwd:short"), /invalid a=ice-pwd/],
      [good.replace(/a=ice-ufrag:\S+/g, "a=ice-ufrag:bad ufrag!"), /invalid a=ice-ufrag/],
    ];
    for (const [sdp, detail] of cases) await expectDetail(await post("/api/offer", { sdp, type: "offer" }), 400, detail);
    expect(server.server.handler.size).toBe(0);
    expect(server.sessions).toEqual([]);
  });

  test("trickled candidates beyond the limit are refused", async () => {
    server = startTestServer({ limits: { maxRemoteCandidates: 6 } }, () => {});
    const offer = await realOffer();
    const inOffer = offer.sdp.split("a=candidate:").length - 1;
    const { body: answer } = await server.post("/api/offer", offer);
    // Each call trickles new candidates (a candidate given again costs nothing: the budget counts distinct ones).
    let port = 40000;
    const candidate = () => ({ candidate: `candidate:1 1 udp 1 192.0.2.1 ${port++} typ host`, sdp_mid: "0", sdp_mline_index: 0 });
    const patch = (n: number) => server.post("/api/offer", { pc_id: answer.pc_id, candidates: Array.from({ length: n }, candidate) }, "PATCH");
    // The offer's own candidates count too.
    expect((await patch(6 - inOffer)).status).toBe(200);
    const over = await patch(1);
    expect(over.status).toBe(400);
    expect(over.body.detail).toMatch(/more than 6 candidates/);
  });
});

describe("candidate policy", () => {
  const policy = { allowLoopback: false, allowSpecial: false };
  const line = (address: string) => `candidate:1 1 udp 2122260223 ${address} 50000 typ host`;

  test("special and unroutable addresses are refused, ordinary ones used", () => {
    for (const address of ["0.0.0.0", "224.0.0.251", "239.1.2.3", "255.255.255.255", "240.0.0.1", "169.254.10.1", "127.0.0.1", "::", "::1", "ff02::1", "fe80::1"]) {
      expect(candidateRefusal(line(address), policy), address).toBeString();
    }
    for (const address of ["192.168.1.20", "10.0.0.5", "203.0.113.9", "2001:db8::1"]) {
      expect(candidateRefusal(line(address), policy), address).toBeUndefined();
    }
    expect(candidateRefusal(line("printer.local"), { allowLoopback: true, allowSpecial: true })).toContain("host name");
    expect(candidateRefusal(line("127.0.0.1"), { allowLoopback: true, allowSpecial: false })).toBeUndefined();
  });
});

describe("rate limit", () => {
  test("offers beyond the per-IP budget get 429 with Retry-After; other IPs are unaffected", async () => {
    server = startTestServer({ limits: { offersPerMinute: 3 } });
    for (let i = 0; i < 3; i++) expect((await post("/start", {})).status).toBe(200);
    const limited = await post("/start", {});
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await post("/start", {}, {}, "198.51.100.8")).status).toBe(200);
  });

  test("tokens come back over time", () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 2, now: () => now });
    expect([limiter.take("a"), limiter.take("a")]).toEqual([0, 0]);
    expect(limiter.take("a")).toBe(30);
    now = 30_000;
    expect(limiter.take("a")).toBe(0);
  });

  test("the table of clients stays bounded", () => {
    const limiter = new RateLimiter({ perMinute: 1, maxClients: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.take("10.0.0.0")).toBe(0); // evicted long ago, so it starts over
  });
});

describe("access tokens", () => {
  const secret = "0123456789abcdef-secret";

  test("with auth on, signalling and /metrics need a valid token; /status and /health stay open", async () => {
    server = startTestServer({ auth: { token: "static-token-0123456789", secret } });
    await expectDetail(await post("/start", {}), 401, /access token/);
    await expectDetail(await post("/start", {}, { Authorization: "Bearer wrong-token-0123456789" }), 401, /access token/);
    expect((await post("/start", {}, { Authorization: "Bearer static-token-0123456789" })).status).toBe(200);
    expect((await post("/start", {}, { Authorization: `Bearer ${mintAccessToken(secret, 60)}` })).status).toBe(200);
    const expired = mintAccessToken(secret, 60, Date.now() - 3_600_000);
    expect((await post("/start", {}, { Authorization: `Bearer ${expired}` })).status).toBe(401);
    const forged = mintAccessToken("another-secret-0123456789", 60);
    expect((await post("/start", {}, { Authorization: `Bearer ${forged}` })).status).toBe(401);
    expect((await server.request("/metrics")).status).toBe(401);
    expect((await server.request("/status")).status).toBe(200);
    expect((await server.request("/health")).status).toBe(200);
    const patch = await server.request("/api/offer", { method: "PATCH", json: { pc_id: "x", candidates: [] } });
    expect(patch.status).toBe(401);
    expect(patch.headers.get("www-authenticate")).toBe("Bearer");
  });
});

describe("metrics", () => {
  test("Prometheus text with sessions, offers by result, traffic, codec time and loop stalls", async () => {
    server = startTestServer({}, () => {});
    expect((await post("/api/offer", await realOffer())).status).toBe(200);
    await post("/api/offer", { sdp: "v=0", type: "offer" });
    const text = await (await server.request("/metrics")).text();
    expect(text).toContain("# TYPE smallwebrtc_sessions gauge");
    expect(text).toContain("smallwebrtc_sessions 1");
    expect(text).toContain('smallwebrtc_offers_total{result="answered"} 1');
    expect(text).toContain('smallwebrtc_offers_total{result="invalid"} 1');
    expect(text).toMatch(/smallwebrtc_bytes_total\{direction="in"\} \d+/);
    expect(text).toMatch(/smallwebrtc_event_loop_stall_seconds_count \d+/);
    expect(text).toMatch(/process_resident_memory_bytes \d+/);
  });
});
