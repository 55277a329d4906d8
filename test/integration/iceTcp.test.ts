/**
 * ICE over TCP on one port (`ice.tcpPort`, lib/webrtc/tcpMux.ts): sessions share the port and keep their own media,
 * UDP stays preferred, connections that do not speak ICE are closed without harm, and a client that stops reading
 * cannot make the server hold more than a bounded backlog.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { TcpMux, MAX_PENDING_WRITE_BYTES, type PassiveTcpProtocol } from "../../lib/webrtc/tcpMux.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { withoutUdp } from "../../scripts/support/packetFilter.ts";
import { consistently, eventually } from "../support/eventually.ts";
import { startTestServer, testConfig, type TestServer } from "../support/testServer.ts";
import { connectionOptions } from "../../lib/server/connectionOptions.ts";
import { silentLogger } from "../../lib/log/logger.ts";

/** A fixed port: the tests run in a network namespace of their own. */
const TCP_PORT = 42310;

let local: TestServer | undefined;
let mux: TcpMux | undefined;
const clients: TestClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const socket of sockets.splice(0)) socket.destroy();
  await local?.close();
  mux?.close();
  [local, mux] = [undefined, undefined];
});

function candidates(sdp: string): { transport: string; priority: number; port: number; line: string }[] {
  return sdp.split(/\r?\n/).filter((line) => line.startsWith("a=candidate:")).map((line) => {
    const fields = line.split(" ");
    return { transport: fields[2].toLowerCase(), priority: Number(fields[3]), port: Number(fields[5]), line };
  });
}

async function connectOverTcp(server: TestServer): Promise<{ client: TestClient; answer: { sdp: string } }> {
  const client = new TestClient({ iceTcp: true });
  clients.push(client);
  const { status, body: answer } = await server.post("/api/offer", await client.offer());
  expect(status).toBe(200);
  await client.accept(answer);
  await client.channelOpen();
  client.send({ label: "rtvi-ai", type: "client-ready", id: "x", data: { version: "2.1.0" } });
  await client.waitFor((m) => (m as { type?: string }).type === "bot-ready");
  return { client, answer };
}

async function iceTcpConnections(server: TestServer, result: "accepted" | "refused"): Promise<number> {
  const text = await (await server.request("/metrics")).text();
  const match = text.match(new RegExp(`^smallwebrtc_ice_tcp_connections_total\\{result="${result}"\\} (\\d+)$`, "m"));
  if (!match) throw new Error(`no ICE-TCP ${result} count in /metrics`);
  return Number(match[1]);
}

/** A STUN binding request (RFC 5389) whose USERNAME is `username`, in an RFC 4571 frame. */
function framedBindingRequest(username: string): Buffer {
  const name = Buffer.from(username);
  const padded = Math.ceil(name.length / 4) * 4;
  const message = Buffer.alloc(20 + 4 + padded);
  message.writeUInt16BE(0x0001, 0);
  message.writeUInt16BE(4 + padded, 2);
  message.writeUInt32BE(0x2112a442, 4);
  crypto.getRandomValues(message.subarray(8, 20));
  message.writeUInt16BE(0x0006, 20);
  message.writeUInt16BE(name.length, 22);
  name.copy(message, 24);
  return frame(message);
}

function frame(payload: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(payload.length);
  return Buffer.concat([length, payload]);
}

async function rawClient(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

function closed(socket: Socket): Promise<void> {
  return socket.destroyed || socket.readableEnded
    ? Promise.resolve()
    : new Promise((resolve) => socket.once("close", () => resolve()));
}

describe("ICE over TCP", () => {
  test("five sessions share the one TCP port, each with its own media; TCP candidates rank below UDP", async () => {
    local = startTestServer({ ice: { interfaces: ["127.0.0.1"], tcpPort: TCP_PORT } });
    await local.server.listen();
    const sessions = await withoutUdp(() => Promise.all(Array.from({ length: 5 }, () => connectOverTcp(local!))));
    for (const { answer } of sessions) {
      const offered = candidates(answer.sdp);
      const tcp = offered.filter((c) => c.transport === "tcp");
      const udp = offered.filter((c) => c.transport === "udp");
      expect(new Set(tcp.map((c) => c.port))).toEqual(new Set([TCP_PORT]));
      expect(tcp[0].line).toContain("tcptype passive");
      expect(udp.length).toBeGreaterThan(0);
      for (const candidate of udp) expect(candidate.priority).toBeGreaterThan(tcp[0].priority);
    }
    expect(local.server.handler.size).toBe(5);
    expect(await iceTcpConnections(local, "accepted")).toBe(5);
    // Every session keeps its own media: a message on one reaches only its own bot.
    clients[2].send({ only: "two" });
    await clients[2].waitFor((m) => (m as { only?: string }).only === "two");
    const reached = () => clients.filter((c) => c.received.some((m) => (m as { only?: string }).only === "two")).length;
    await consistently(() => reached() === 1, 200, "the message reaching only its own session");
  }, 60_000);

  test("a client that offers TCP candidates alone (no UDP at all, as under a browser policy) connects", async () => {
    local = startTestServer({ ice: { interfaces: ["127.0.0.1"], tcpPort: TCP_PORT } });
    await local.server.listen();
    const client = new TestClient({ iceTcp: true });
    clients.push(client);
    const withoutUdpCandidates = (sdp: string) => sdp.replace(/^a=candidate:\S+ \d+ udp .*\r?\n/gim, "");
    const offer = await client.offer();
    expect(offer.sdp).toContain(" udp ");
    const { body: answer } = await local.post("/api/offer", { ...offer, sdp: withoutUdpCandidates(offer.sdp) });
    await withoutUdp(async () => {
      await client.accept({ sdp: withoutUdpCandidates(answer.sdp) });
      await client.channelOpen();
    });
    expect(await iceTcpConnections(local, "accepted")).toBe(1);
  }, 30_000);

  test("connections that do not open with a known session's STUN request are closed; a real client still connects", async () => {
    local = startTestServer({ ice: { interfaces: ["127.0.0.1"], tcpPort: TCP_PORT } });
    await local.server.listen();
    const oversized = await rawClient(TCP_PORT);
    oversized.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    const notStun = await rawClient(TCP_PORT);
    notStun.write(frame(Buffer.alloc(100, 0x80)));
    const unknownSession = await rawClient(TCP_PORT);
    unknownSession.write(framedBindingRequest("nosuchufrag:client"));
    await Promise.all([closed(oversized), closed(notStun), closed(unknownSession)]);
    await withoutUdp(() => connectOverTcp(local!));
    expect(local.server.handler.size).toBe(1);
    expect(await iceTcpConnections(local, "refused")).toBe(3);
    expect(await iceTcpConnections(local, "accepted")).toBe(1);
  }, 30_000);
});

describe("TcpMux backpressure", () => {
  /** A stand-in for werift's passive protocol: it keeps the socket the mux hands over. */
  function fakeProtocol() {
    const protocol = {
      localIp: "127.0.0.1",
      link: undefined as undefined | { write(frame: Uint8Array, done: (error?: Error | null) => void): boolean },
      registerSocket(link: never) {
        protocol.link = link;
      },
    };
    return protocol;
  }

  /** Writes `count` numbered 1000-byte frames through the mux's socket; resolves when werift would have been told. */
  async function writeFrames(protocol: ReturnType<typeof fakeProtocol>, count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, index) => {
      const payload = Buffer.alloc(1000, index % 251);
      payload.writeUInt32BE(index);
      return new Promise<void>((resolve, reject) => protocol.link!.write(frame(payload), (e) => (e ? reject(e) : resolve())));
    }));
  }

  /** Frame numbers in what the client read, checking every frame is whole. */
  function frameNumbers(stream: Buffer): number[] {
    const numbers: number[] = [];
    for (let offset = 0; offset + 2 <= stream.length;) {
      const length = stream.readUInt16BE(offset);
      const payload = stream.subarray(offset + 2, offset + 2 + length);
      expect(payload.length).toBe(1000);
      const index = payload.readUInt32BE(0);
      expect(payload[999]).toBe(index % 251);
      numbers.push(index);
      offset += 2 + length;
    }
    return numbers;
  }

  async function handedOver(port: number, protocol: ReturnType<typeof fakeProtocol>): Promise<Socket> {
    const client = await rawClient(port);
    client.write(framedBindingRequest("serverufrag:clientufrag"));
    await eventually(() => protocol.link !== undefined, 5000, "the connection handed to its session");
    return client;
  }

  function muxWithSession(protocol: PassiveTcpProtocol): Promise<TcpMux> {
    return TcpMux.open("127.0.0.1", 0).then((opened) => {
      opened.adopt(protocol);
      opened.assign("serverufrag", protocol);
      return opened;
    });
  }

  test("a client that reads keeps every frame", async () => {
    const protocol = fakeProtocol();
    mux = await muxWithSession(protocol);
    const client = await handedOver(mux.port, protocol);
    const chunks: Buffer[] = [];
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    await writeFrames(protocol, 2000);
    await eventually(() => Buffer.concat(chunks).length >= 2000 * 1002, 10_000, "every frame read");
    expect(frameNumbers(Buffer.concat(chunks))).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(mux.stats.droppedFrames).toBe(0);
  }, 30_000);

  test("a client that stops reading gets whole frames dropped past the bound, and the rest intact", async () => {
    const protocol = fakeProtocol();
    mux = await muxWithSession(protocol);
    const client = await handedOver(mux.port, protocol);
    client.pause();
    // 4 MB, far beyond the bound and the kernel's socket buffers. A dropped frame is done at once; a kept one when
    // the client has read it.
    const written = writeFrames(protocol, 20_000);
    await eventually(() => mux!.stats.droppedFrames > 0, 10_000, "frames dropped while the client does not read");
    const kept = 20_000 - mux.stats.droppedFrames;
    // What is held for the client: the bound in the process, plus what the kernel buffers on both ends.
    expect(kept * 1002).toBeLessThan(MAX_PENDING_WRITE_BYTES + 8 * 1024 * 1024);
    const chunks: Buffer[] = [];
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    client.resume();
    await written;
    await eventually(() => Buffer.concat(chunks).length >= kept * 1002, 10_000, "the kept frames read");
    const numbers = frameNumbers(Buffer.concat(chunks));
    expect(numbers.length).toBe(kept);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  }, 30_000);
});

describe("ICE over TCP and ESP32 devices", () => {
  test("a libpeer offer gets no TCP candidate and no TCP gathering; a browser's offer on the same server does", async () => {
    const tcp = await TcpMux.open("127.0.0.1", 0);
    mux = tcp;
    const config = testConfig({ host: "10.0.0.5", esp32: true, ice: { interfaces: ["10.0.0.5"], tcpPort: tcp.port } });
    const libpeerOffer = "v=0\r\na=setup:passive\r\nm=audio 9 UDP/TLS/RTP/SAVP 111\r\na=mid:audio\r\n";
    const device = connectionOptions(config, silentLogger, libpeerOffer, { tcp });
    expect(device.peerConfig().iceUseTcp).toBe(false);
    expect(device.sharedPorts?.tcp).toBeUndefined();
    const browserOffer = "v=0\r\na=setup:actpass\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
    const browser = connectionOptions(config, silentLogger, browserOffer, { tcp });
    expect(browser.peerConfig().iceUseTcp).toBe(true);
    expect(browser.sharedPorts?.tcp).toBe(tcp);
  });
});
