/**
 * Messages to an ESP32 session, seen at the SCTP level. libpeer's minimal SCTP reads only the first DATA chunk of a
 * packet and never reassembles fragments, so every message it gets must travel as one packet holding one DATA chunk
 * with both the B(eginning) and E(nd) flags set, and a message too large for that is not sent at all.
 *
 * The server runs in this process in ESP32 mode on a real (non-loopback) address of the test's namespace; the device
 * is a werift peer whose offer has libpeer's traits; its SCTP packets are parsed as they arrive (RFC 4960 section 3).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { SCTP_SINGLE_CHUNK_BYTES } from "../../lib/webrtc/peerConfig.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { createTwoHosts, type TwoHosts } from "../support/twoHosts.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

const SCTP_COMMON_HEADER = 12;
const DATA = 0;
const BEGINNING = 0x02;
const END = 0x01;

interface DataChunk {
  flags: number;
  bytes: number;
}

/** The DATA chunks of one SCTP packet. */
function dataChunks(packet: Uint8Array): DataChunk[] {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const chunks: DataChunk[] = [];
  for (let offset = SCTP_COMMON_HEADER; offset + 4 <= packet.length;) {
    const length = view.getUint16(offset + 2);
    if (length < 4) break;
    if (packet[offset] === DATA) chunks.push({ flags: packet[offset + 1], bytes: length - 16 });
    offset += Math.ceil(length / 4) * 4;
  }
  return chunks;
}

/** Records every SCTP packet the client's association receives. */
function recordSctp(client: TestClient): DataChunk[][] {
  const sctp = (client.pc.sctpTransport as unknown as { sctp: { handleData(data: Buffer): Promise<void> } }).sctp;
  const packets: DataChunk[][] = [];
  const handleData = sctp.handleData.bind(sctp);
  sctp.handleData = (data) => {
    packets.push(dataChunks(data));
    return handleData(data);
  };
  return packets;
}

/** What the bot was asked to send and whether the connection accepted each message. */
const sent = new Map<number, boolean>();

/** A bot that answers {"send": [sizes]} with one message of each size, each padded to exactly that many bytes. */
function sizedMessageBot({ webrtcConnection }: RunnerArguments) {
  webrtcConnection.on("appMessage", (message) => {
    for (const size of (message as { send: number[] }).send) {
      const text = JSON.stringify({ size, pad: "" });
      sent.set(size, webrtcConnection.sendAppMessage({ size, pad: "x".repeat(size - text.length) }));
    }
  });
  webrtcConnection.connect();
}

let hosts: TwoHosts | undefined;
let server: TestServer | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  hosts?.close();
  sent.clear();
});

async function connectDevice(libpeer: boolean): Promise<{ client: TestClient; packets: DataChunk[][] }> {
  const client = new TestClient({ interfaces: [hosts!.clientIp], media: [{ kind: "audio", direction: "sendrecv" }] });
  clients.push(client);
  let { sdp } = await client.offer();
  // libpeer offers a=setup:passive (it wants to be the DTLS server); that alone makes the server shape for ESP32.
  if (libpeer) sdp = sdp.replaceAll("a=setup:actpass", "a=setup:passive");
  const { status, body: answer } = await server!.post("/api/offer", { sdp, type: "offer" });
  expect(status).toBe(200);
  await client.accept(answer);
  const packets = recordSctp(client);
  await client.channelOpen();
  return { client, packets };
}

const received = (client: TestClient) => client.received.map((m) => (m as { size?: number }).size).filter(Boolean);

describe("messages to an ESP32 session at the SCTP level", () => {
  test("one unfragmented DATA chunk per packet; larger messages are dropped, not fragmented", async () => {
    hosts = createTwoHosts();
    server = startTestServer({ host: hosts.clientIp, esp32: true, ice: { interfaces: [hosts.clientIp] } }, sizedMessageBot);
    const { client, packets } = await connectDevice(true);

    const limit = SCTP_SINGLE_CHUNK_BYTES;
    const fitting = [40, 500, 1000, limit, ...Array.from({ length: 30 }, (_, i) => 50 + i)];
    client.send({ send: [...fitting, limit + 1, 4000] });
    // The last fitting message arrives after everything before it (one ordered stream).
    await eventually(() => received(client).length === fitting.length, 10_000, "every message that fits one chunk");
    expect(received(client)).toEqual(fitting);
    expect([sent.get(limit), sent.get(limit + 1), sent.get(4000)]).toEqual([true, false, false]);

    const withData = packets.filter((chunks) => chunks.length > 0);
    expect(withData.length).toBeGreaterThanOrEqual(fitting.length);
    for (const chunks of withData) {
      expect(chunks.length).toBe(1);
      expect(chunks[0].flags & (BEGINNING | END)).toBe(BEGINNING | END);
    }
    // The message exactly at the limit filled its chunk: the limit is the real one-chunk size, not a guess below it.
    expect(Math.max(...withData.map(([chunk]) => chunk.bytes))).toBe(limit);
  });

  test("a browser on the same server still gets large messages (fragmented, as SCTP allows)", async () => {
    hosts = createTwoHosts();
    server = startTestServer({ host: hosts.clientIp, esp32: true, ice: { interfaces: [hosts.clientIp] } }, sizedMessageBot);
    const { client, packets } = await connectDevice(false);
    client.send({ send: [4000] });
    await eventually(() => received(client).length === 1, 10_000, "the large message");
    expect(sent.get(4000)).toBe(true);
    expect(packets.some((chunks) => chunks.some((chunk) => (chunk.flags & (BEGINNING | END)) !== (BEGINNING | END)))).toBe(true);
  });
});
