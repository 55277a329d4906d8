/**
 * Network controls, with the server in its own network namespace (a second "host") where that matters:
 * a UDP port range, single-port mode with five sessions at once, NAT 1:1 addresses, and ESP32 answers on a host
 * with many addresses.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { createTwoHosts, type TwoHosts } from "../support/twoHosts.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { consistently } from "../support/eventually.ts";

let hosts: TwoHosts | undefined;
let server: ServerProcess | undefined;
let local: TestServer | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.stop("SIGKILL");
  await local?.close();
  hosts?.close();
  [hosts, server, local] = [undefined, undefined, undefined];
});

const bun = join(repoRoot, "node_modules/.bin/bun");
const mainTs = join(repoRoot, "main.ts");

/** Starts `main.ts` in the server namespace, listening on the server address; returns its URL. */
async function serverOnSecondHost(args: string[], env: string[] = []): Promise<string> {
  hosts ??= createTwoHosts();
  server = await startServerProcess({
    command: hosts.serverCommand(["env", ...env, bun, mainTs]),
    args: ["--host", hosts.serverIp, ...args],
  });
  return server.url.replace("127.0.0.1", hosts.serverIp);
}

async function offer(url: string, client: TestClient, path = "/api/offer") {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(await client.offer()),
  });
  return { response, text: await response.text() };
}

function candidatePorts(sdp: string): number[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ/gm)].map((m) => Number(m[1]));
}

async function connectAndEcho(url: string, interfaces: string[]): Promise<{ answer: { sdp: string } }> {
  const client = new TestClient({ interfaces });
  clients.push(client);
  const { response, text } = await offer(url, client);
  expect(response.status).toBe(200);
  const answer = JSON.parse(text);
  await client.accept(answer);
  await client.channelOpen();
  client.send({ hello: interfaces[0] });
  await client.waitFor((m) => (m as { hello?: string }).hello === interfaces[0]);
  return { answer };
}

describe("network controls", () => {
  test("with a port range, the server's media sockets are all inside it", async () => {
    // The range comes from the environment here, to exercise that path too.
    const base = await serverOnSecondHost([], ["SMALLWEBRTC_ICE_PORT_RANGE=[42100,42109]"]);
    const answers = await Promise.all([1, 2, 3].map(() => connectAndEcho(base, [hosts!.clientIp])));
    for (const { answer } of answers) {
      for (const port of candidatePorts(answer.sdp)) expect(port).toBeWithin(42100, 42110);
    }
    const listening = hosts!.inServer(["ss", "-Hulpn"]);
    const udpPorts = [...listening.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1]));
    expect(udpPorts.length).toBeGreaterThanOrEqual(3);
    for (const port of udpPorts) expect(port).toBeWithin(42100, 42110);
  }, 60_000);

  test("single-port mode: five sessions at once share one UDP port", async () => {
    local = startTestServer({ ice: { interfaces: ["127.0.0.1"], udpPort: 42200 } });
    await local.server.listen(); // opens the shared UDP port
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const client = new TestClient();
        clients.push(client);
        const { body: answer } = await local!.post("/api/offer", await client.offer());
        await client.accept(answer);
        await client.channelOpen();
        client.send({ label: "rtvi-ai", type: "client-ready", id: "x", data: { version: "2.1.0" } });
        await client.waitFor((m) => (m as { type?: string }).type === "bot-ready");
        return answer as { sdp: string };
      }),
    );
    for (const answer of answers) expect(new Set(candidatePorts(answer.sdp))).toEqual(new Set([42200]));
    expect(local.server.handler.size).toBe(5);
    // Every session still has its own media: a message on one reaches only its own bot.
    clients[2].send({ only: "two" });
    await clients[2].waitFor((m) => (m as { only?: string }).only === "two");
    const reached = () => clients.filter((c) => c.received.some((m) => (m as { only?: string }).only === "two")).length;
    await consistently(() => reached() === 1, 200, "the message reaching only its own session");
  }, 60_000);

  test("NAT 1:1: a public address is offered beside each private host candidate", async () => {
    local = startTestServer({ ice: { interfaces: ["127.0.0.1"], advertisedIps: ["203.0.113.9"] } });
    const client = new TestClient();
    clients.push(client);
    const { body: answer } = await local.post("/api/offer", await client.offer());
    const hostLines = (answer.sdp as string).split("\r\n").filter((l) => l.startsWith("a=candidate:"));
    expect(hostLines.some((l) => l.includes(" 127.0.0.1 "))).toBe(true);
    expect(hostLines.some((l) => l.includes(" 203.0.113.9 "))).toBe(true);
    await client.accept(answer);
    await client.channelOpen();
  }, 30_000);

  test("ESP32 mode on a host with 30 addresses: only the configured one, and the reply fits libpeer's 4 KiB", async () => {
    hosts = createTwoHosts();
    for (let i = 10; i < 40; i++) hosts.inServer(["ip", "addr", "add", `10.232.0.${i}/24`, "dev", hosts.serverDevice]);
    const url = await serverOnSecondHost(["--esp32"]);

    // A libpeer-shaped offer: string mids and setup:passive (see test/interop for a full ESP32-profile peer).
    const device = new TestClient({ interfaces: [hosts.clientIp], media: [{ kind: "audio", direction: "sendrecv" }], dataChannelLabel: "rtvi-ai" });
    clients.push(device);
    const sdp = (await device.offer()).sdp
      .replace("a=group:BUNDLE 0 1", "a=group:BUNDLE audio datachannel")
      .replace("a=mid:0", "a=mid:audio")
      .replace("a=mid:1", "a=mid:datachannel")
      .replaceAll("a=setup:actpass", "a=setup:passive");
    const response = await fetch(`${url}/api/offer`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp, type: "offer" }),
    });
    const body = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("transfer-encoding")).toBeNull();
    expect(Number(response.headers.get("content-length"))).toBe(new TextEncoder().encode(body).length);
    expect(body.length).toBeLessThanOrEqual(4096);
    const answer = JSON.parse(body);
    const candidates = (answer.sdp as string).split("\r\n").filter((l) => l.startsWith("a=candidate:"));
    expect(candidates.length).toBeGreaterThan(0);
    for (const line of candidates) expect(line.split(" ")[4]).toBe(hosts.serverIp);
    expect(answer.sdp).toContain("a=setup:active");
    expect(answer.sdp).toContain("a=mid:audio");
    expect(answer.sdp.endsWith("\r\n")).toBe(true);

    // A browser-style offer on the same server still gets every address.
    const browser = new TestClient({ interfaces: [hosts.clientIp] });
    clients.push(browser);
    const { text } = await offer(url, browser);
    const browserCandidates = (JSON.parse(text).sdp as string).split("\r\n").filter((l) => l.startsWith("a=candidate:"));
    expect(browserCandidates.length).toBeGreaterThan(candidates.length);
  }, 60_000);
});
