/**
 * The server must only ever contact addresses the user configured. werift falls back to Google STUN and resolves
 * `.local` candidates over multicast DNS; both are blocked. Every UDP send and DNS lookup in this process is
 * recorded while real peers connect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import dgram from "node:dgram";
import dns from "node:dns";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { consistently } from "../support/eventually.ts";

const sends: string[] = [];
const lookups: string[] = [];
const socketPrototype = (dgram as unknown as { Socket: { prototype: { send: (...args: unknown[]) => unknown } } }).Socket
  .prototype;
const originalSend = socketPrototype.send;
const originalLookup = dns.promises.lookup;

beforeAll(() => {
  socketPrototype.send = function (this: unknown, ...args: unknown[]) {
    const [, port, address] = args;
    if (typeof address === "string") sends.push(`${address}:${port}`);
    return originalSend.apply(this, args);
  };
  dns.promises.lookup = ((host: string, ...rest: unknown[]) => {
    lookups.push(host);
    return (originalLookup as (...a: unknown[]) => unknown)(host, ...rest);
  }) as typeof dns.promises.lookup;
});

afterAll(() => {
  socketPrototype.send = originalSend;
  dns.promises.lookup = originalLookup;
});

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
  sends.length = 0;
  lookups.length = 0;
});

async function call(overrides: Parameters<typeof startTestServer>[0], extraCandidate?: string) {
  server = startTestServer(overrides);
  peer = new TestClient();
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  if (extraCandidate) {
    await server.post("/api/offer", { pc_id: answer.pc_id, candidates: [{ candidate: extraCandidate, sdp_mid: "0", sdp_mline_index: 0 }] }, "PATCH");
  }
  await peer.accept(answer);
  await peer.channelOpen();
}

const offLoopback = (allowed: string[] = []) => sends.filter((to) => !to.startsWith("127.0.0.1:") && !allowed.includes(to));

/** For 300 ms after the call is up, nothing beyond loopback (and `allowed`) is contacted and no name is resolved. */
function staysLocal(allowed: string[] = []): Promise<void> {
  return consistently(() => {
    expect(offLoopback(allowed)).toEqual([]);
    expect(lookups).toEqual([]);
    return true;
  }, 300, "only the configured addresses contacted");
}

describe("network isolation", () => {
  test("with no ICE servers configured, nothing but 127.0.0.1 is contacted and no name is resolved", async () => {
    await call({});
    expect(sends.length).toBeGreaterThan(0);
    await staysLocal();
  });

  test("a configured STUN server is used (so the recorder above does see non-loopback traffic)", async () => {
    await call({ iceServers: [{ urls: "stun:192.0.2.10:3478" }] });
    expect(sends).toContain("192.0.2.10:3478");
    await staysLocal(["192.0.2.10:3478"]);
  });

  test("mDNS and hostname candidates from the client are ignored, not resolved", async () => {
    await call({}, "candidate:1 1 udp 2122260223 4f1c2d6e-7a3b-4b8e-9d0a-1c2b3d4e5f60.local 54321 typ host");
    expect(sends.length).toBeGreaterThan(0);
    await staysLocal();
  });
});
