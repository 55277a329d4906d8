/**
 * Protocol safety with real peers: DTLS must match the fingerprint in the SDP, HTTPS works from config, and an
 * exception in one session's bot does not disturb another session.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { echoBot } from "../../lib/bots/echo.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { SmallWebRTCServer } from "../../lib/server/smallWebRTCServer.ts";
import { startTestServer, type TestServer, testConfig } from "../support/testServer.ts";
import { TestClient, withTimeout } from "../../scripts/support/weriftClient.ts";

let server: TestServer | undefined;
let listening: SmallWebRTCServer | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  await listening?.shutdown();
  [server, listening] = [undefined, undefined];
});

function client(): TestClient {
  const created = new TestClient();
  clients.push(created);
  return created;
}

describe("protocol safety", () => {
  test("a DTLS certificate that does not match the offer's fingerprint closes the session", async () => {
    server = startTestServer({}, () => {});
    const peer = client();
    const offer = await peer.offer();
    // Flip one byte of the fingerprint: the client's real certificate no longer matches what it claimed.
    const tampered = offer.sdp.replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/g, (_, prefix, byte) =>
      `${prefix}${((parseInt(byte, 16) + 1) & 0xff).toString(16).padStart(2, "0").toUpperCase()}`);
    const connecting = server.nextConnection();
    const { status, body: answer } = await server.post("/api/offer", { sdp: tampered, type: "offer" });
    expect(status).toBe(200);
    const connection = await connecting;
    const closed = connection.next("closed");
    await peer.accept(answer);
    await withTimeout(closed, 10_000, "the session to close");
    expect(peer.channel?.readyState).not.toBe("open");
    expect(server.server.handler.size).toBe(0);
  }, 20_000);

  test("HTTPS with a certificate and key from the config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "swrtc-tls-"));
    const [certFile, keyFile] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=127.0.0.1"]);
    expect(made.success).toBe(true);
    listening = new SmallWebRTCServer({
      config: testConfig({ tls: { certFile, keyFile } }),
      logger: createLogger({ level: "error" }),
      onConnection: (connection) => void echoBot({ webrtcConnection: connection, body: undefined, cliArgs: [] }),
    });
    const { url } = await listening.listen();
    expect(url).toStartWith("https://");
    const tls = { tls: { rejectUnauthorized: false } } as RequestInit;
    expect(await (await fetch(`${url}/health`, tls)).json()).toEqual({ status: "ok" });
    const peer = client();
    const response = await fetch(`${url}/api/offer`, {
      ...tls,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(await peer.offer()),
    });
    expect(response.status).toBe(200);
    await peer.accept(await response.json());
    await peer.channelOpen();
  }, 20_000);

  test("a bot that throws ends only its own session", async () => {
    let calls = 0;
    server = startTestServer({}, async (args) => {
      if (calls++ === 0) throw new Error("the first bot breaks");
      await echoBot(args);
    });
    const first = client();
    await server.post("/api/offer", await first.offer()).then(({ body }) => first.accept(body));
    const second = client();
    await server.post("/api/offer", await second.offer()).then(({ body }) => second.accept(body));
    await second.channelOpen();
    second.send({ label: "rtvi-ai", type: "client-ready", id: "ok", data: { version: "2.1.0" } });
    await second.waitFor((m) => (m as { type?: string }).type === "bot-ready");
  }, 20_000);
});
