/**
 * TURN on the server's side, against a real coturn (test/support/coturn.ts) on a host of the test's LAN.
 * - The start-up check: minted credentials accepted and the allocation released, wrong, static and expired ones
 *   refused with coturn's code, a server that never answers, and the one line the server logs once it listens.
 * - The server's own TURN client: what a refusing relay costs an answer, and sessions in single-port mode that can
 *   only be reached through the relay.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { mintTurnCredentials } from "../../lib/config/turnCredentials.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { checkTurnServer, logTurnCheck, parseTurnUrl } from "../../lib/webrtc/turnCheck.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { type Coturn, startCoturn } from "../support/coturn.ts";
import { eventually } from "../support/eventually.ts";
import { createLan, type Lan } from "../support/lan.ts";

const SECRET = "the-shared-secret";
const SHARED_UDP_PORT = 47_000;

let lan: Lan<"relay" | "server">;
let coturn: Coturn;

beforeAll(async () => {
  lan = createLan(["relay", "server"]);
  coturn = await startCoturn({ host: lan.hosts.relay, secret: SECRET });
}, 30_000);

afterAll(async () => {
  await coturn?.stop();
  lan?.close();
});

function minted(secret: string, ttlSecs = 600) {
  const { username, credential } = mintTurnCredentials(secret, "check", ttlSecs);
  return { username, credential };
}

/** The log lines `logTurnCheck` writes for one check. */
async function checkLines(url: string, credentials: { username: string; credential: string }): Promise<string[]> {
  const lines: string[] = [];
  await logTurnCheck({ url, ...credentials }, createLogger({ level: "debug", write: (line) => lines.push(line) }));
  return lines;
}

describe("TURN credential check against coturn", () => {
  test("minted credentials are accepted over UDP and TCP, and each allocation is released at once", async () => {
    for (const url of [coturn.urls.udp, coturn.urls.tcp]) {
      const credentials = minted(SECRET);
      const result = await checkTurnServer({ url, ...credentials });
      const relayedAddress = expect.stringMatching(new RegExp(`^${coturn.ip}:\\d+$`));
      expect(result).toEqual({ outcome: "accepted", relayedAddress });
      // Released, not left to lapse: coturn closes it right away, on the Refresh (UDP) or with the connection (TCP).
      const closed = await eventually(() => coturn.sessions().find((s) => s.username === credentials.username &&
        s.closeReason), 5000, `coturn to close the allocation of ${url}`);
      expect(closed.remote).toStartWith(`${lan.ip}:`);
      expect(closed.peerUsage?.sentBytes).toBe(0);
    }
  }, 30_000);

  test("a wrong secret: 401 from coturn, as one warn line naming the server and the code", async () => {
    const wrong = minted("not-the-secret");
    expect(await checkTurnServer({ url: coturn.urls.udp, ...wrong }))
      .toEqual({ outcome: "refused", code: 401, reason: "Unauthorized", credentials: true });
    const lines = await checkLines(coturn.urls.tcp, wrong);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`WARN  TURN server ${coturn.urls.tcp} refused the credentials: 401 reason=Unauthorized`);
    expect(lines[0]).toContain(`username=${wrong.username}`);
    expect(lines[0]).not.toContain("expiredAt");
    // The control: the right secret on the same URL gives one info line.
    const right = await checkLines(coturn.urls.tcp, minted(SECRET));
    expect(right).toEqual([expect.stringContaining(`INFO  TURN server ${coturn.urls.tcp} accepted the credentials`)]);
  }, 30_000);

  test("a wrong static username and credential are refused the same way", async () => {
    const lines = await checkLines(coturn.urls.udp, { username: "alice", credential: "wrong" });
    expect(lines).toEqual([expect.stringContaining(`TURN server ${coturn.urls.udp} refused the credentials: 401`)]);
    // The control: static credentials that coturn does know (a REST pair made by hand) pass as they are.
    expect((await checkTurnServer({ url: coturn.urls.udp, ...minted(SECRET) })).outcome).toBe("accepted");
  }, 30_000);

  test("an expired REST username is refused, and the line says when it expired", async () => {
    const expired = minted(SECRET, -60);
    const lines = await checkLines(coturn.urls.udp, expired);
    const expiredAt = new Date(Number(expired.username.split(":")[0]) * 1000).toISOString();
    expect(lines).toEqual([expect.stringContaining(`refused the credentials: 401 reason=Unauthorized`)]);
    expect(lines[0]).toContain(`expiredAt=${expiredAt}`);
  }, 30_000);

  test("a server that never answers, or refuses the connection, is reported at the deadline or at once", async () => {
    const credentials = minted(SECRET);
    // Nothing listens on this UDP port: the datagrams are lost, as behind a firewall that drops them.
    const silent = await checkTurnServer({ url: `turn:${coturn.ip}:3479`, ...credentials }, { timeoutMs: 1500 });
    expect(silent).toEqual({ outcome: "unreachable", error: "no answer within 1500 ms" });
    const started = performance.now();
    const refused = await checkTurnServer({ url: `turn:${coturn.ip}:3479?transport=tcp`, ...credentials });
    expect(refused).toEqual({ outcome: "unreachable", error: expect.stringContaining("ECONNREFUSED") });
    expect(performance.now() - started).toBeLessThan(1000);
    // TLS: the certificate is verified, as a browser does; coturn's throwaway one is self-signed.
    const tls = await checkTurnServer({ url: coturn.urls.tls, ...credentials });
    expect(tls).toEqual({ outcome: "unreachable", error: expect.stringMatching(/self[- ]signed/) });
  }, 30_000);

  test("URLs are read as werift reads them; one it would ignore is not checked", async () => {
    expect(parseTurnUrl("turn:10.0.0.1")).toEqual({ host: "10.0.0.1", port: 3478, transport: "udp" });
    expect(parseTurnUrl("turn:relay.example:80?transport=tcp"))
      .toEqual({ host: "relay.example", port: 80, transport: "tcp" });
    expect(parseTurnUrl("turns:[2001:db8::1]")).toEqual({ host: "2001:db8::1", port: 5349, transport: "tls" });
    expect(parseTurnUrl("turns:relay.example?transport=udp")).toBeUndefined();
    const result = await checkTurnServer({ url: "turn:10.0.0.1?transport=sctp", username: "u", credential: "p" });
    expect(result).toEqual({ outcome: "unreachable", error: "the URL names no transport this server can use" });
  });
});

describe("the check at server start-up", () => {
  const serverWithTurn = (turn: object) =>
    startServerProcess({ env: { SMALLWEBRTC_TURN: JSON.stringify(turn) }, args: ["--workers", "1"] });

  test("once listening, the server logs one line: info for the right secret, warn for wrong credentials", async () => {
    const cases: [object, string][] = [
      [{ secret: SECRET }, "accepted the credentials"],
      [{ secret: "wrong" }, "refused the credentials: 401"],
      [{ username: "alice", credential: "wrong" }, "refused the credentials: 401"],
    ];
    for (const [credentials, expected] of cases) {
      const server = await serverWithTurn({ urls: [coturn.urls.udp], ...credentials });
      try {
        const line = await eventually(() => server.output().split("\n").find((l) => l.includes("TURN server")),
          10_000, `the TURN check's line (${expected})`);
        expect(line).toContain(`TURN server ${coturn.urls.udp} ${expected}`);
        expect(server.output().indexOf("listening")).toBeLessThan(server.output().indexOf("TURN server"));
      } finally {
        await server.stop();
      }
    }
  }, 60_000);

  test("a TURN server that never answers does not hold up listening", async () => {
    const server = await serverWithTurn({ urls: [`turn:${coturn.ip}:3479`], secret: SECRET });
    try {
      // Listening is what startServerProcess waited for; the check's line comes after its 5 s deadline.
      expect(server.output()).not.toContain("TURN server");
      const line = await eventually(() => server.output().split("\n").find((l) => l.includes("TURN server")),
        15_000, "the TURN check's line");
      expect(line).toContain(`WARN  TURN server turn:${coturn.ip}:3479 could not be reached`);
      expect(line).toContain(`error="no answer within 5000 ms"`);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe("the server's own TURN client", () => {
  test("with its credentials refused, an answer comes within the gathering limit (3 s), and the call too", async () => {
    const server = await startServerProcess({
      env: { SMALLWEBRTC_TURN: JSON.stringify({ urls: [coturn.urls.udp], secret: "wrong" }) },
      args: ["--workers", "1"],
    });
    const client = new TestClient();
    try {
      const started = performance.now();
      const response = await fetch(`${server.url}/api/offer`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(await client.offer()),
      });
      const answer = await response.json();
      // werift alone gave up on the refused Allocate after 6.4 s, then on TCP after as long again: 13 s.
      expect(performance.now() - started).toBeLessThan(8000);
      expect(answer.sdp).toContain("typ host");
      expect(answer.sdp).not.toContain("typ relay");
      await client.accept(answer);
      await client.channelOpen();
    } finally {
      await client.close();
      await server.stop();
    }
  }, 60_000);

  test("in single-port mode, sessions reachable only through the relay get an allocation each", async () => {
    const { server: host } = lan.hosts;
    host.run(["iptables", "-A", "INPUT", "-p", "udp", "!", "-s", coturn.ip, "-j", "DROP"]);
    const server = await startServerProcess({
      command: host.command([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
      args: ["--host", host.ip, "--workers", "1"],
      env: {
        SMALLWEBRTC_TURN: JSON.stringify({ urls: [coturn.urls.udp], secret: SECRET }),
        SMALLWEBRTC_ICE_UDP_PORT: String(SHARED_UDP_PORT),
      },
    });
    const clients = Array.from({ length: 3 }, () => new TestClient({ interfaces: [lan.ip] }));
    const before = new Set(coturn.sessions().map((session) => session.id));
    try {
      await Promise.all(clients.map(async (client) => {
        const response = await fetch(`${server.url}/api/offer`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(await client.offer()),
        });
        await client.accept(await response.json());
        await client.channelOpen(15_000);
      }));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await server.stop();
      host.run(["iptables", "-F", "INPUT"]);
    }
    // Each session released its own allocation; each came from a port of its own, not the shared one.
    const allocations = await eventually(() => {
      const ended = coturn.sessions().filter((s) => !before.has(s.id) && s.remote?.startsWith(`${host.ip}:`));
      return ended.length >= clients.length && ended;
    }, 10_000, "coturn to log the end of the sessions' allocations");
    const ports = new Set(allocations.map((session) => session.remote!.split(":")[1]));
    expect(ports.size).toBe(allocations.length);
    expect(ports.has(String(SHARED_UDP_PORT))).toBe(false);
    expect(coturn.log()).not.toContain("error 437");
  }, 60_000);
});
