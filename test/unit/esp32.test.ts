/** Golden tests of the ESP32 (libpeer) answer rules (docs/protocol.md §6). */
import { afterEach, describe, expect, test } from "bun:test";
import { silentLogger } from "../../lib/log/logger.ts";
import { connectionOptions } from "../../lib/server/connectionOptions.ts";
import { SignallingError } from "../../lib/webrtc/errors.ts";
import {
  ESP32_MAX_REPLY_BYTES,
  isLibpeerOffer,
  LIBPEER_MAX_CANDIDATES,
  LIBPEER_MAX_LINE_BYTES,
  shapeAnswerForLibpeer,
} from "../../lib/webrtc/esp32.ts";
import { startTestServer, testConfig, type TestServer } from "../support/testServer.ts";
import { TestClient, withTimeout } from "../../scripts/support/weriftClient.ts";

let server: TestServer | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

/** libpeer copies each line, CRLF excluded, into a 256-byte buffer and puts a NUL after it. */
function expectLinesFitLibpeer(sdp: string): void {
  const longest = Math.max(...sdp.split("\r\n").map((line) => new TextEncoder().encode(line).length));
  expect(longest).toBeLessThanOrEqual(LIBPEER_MAX_LINE_BYTES);
}

/** Shapes like the server does, and checks every line of the result. */
function shape(sdp: string, hostIp = "192.168.1.10"): string {
  const shaped = shapeAnswerForLibpeer(sdp, hostIp);
  expectLinesFitLibpeer(shaped);
  return shaped;
}

/**
 * The SSRCs libpeer decodes, read the way it reads an answer: each a=ssrc line overwrites the SSRC of the last
 * m=audio or m=video line before it, whatever section it is in.
 */
function ssrcsLibpeerDecodes(sdp: string): { audio?: number; video?: number } {
  const ssrcs: { audio?: number; video?: number } = {};
  let kind: "audio" | "video" | undefined;
  for (const line of sdp.split("\r\n")) {
    if (line.includes("m=video")) kind = "video";
    else if (line.includes("m=audio")) kind = "audio";
    const at = line.indexOf("a=ssrc:");
    if (at >= 0 && kind) ssrcs[kind] = Number.parseInt(line.slice(at + "a=ssrc:".length), 10);
  }
  return ssrcs;
}

// An answer with everything libpeer chokes on: three fingerprints (aiortc emits sha-256/384/512), candidates on
// other interfaces, a srflx with raddr, a TCP candidate, and LF line endings.
const ANSWER = [
  "v=0",
  "o=- 1 0 IN IP4 0.0.0.0",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE audio datachannel",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host",
  "a=candidate:2 1 udp 2130706431 10.8.0.3 50001 typ host",
  "a=candidate:3 1 udp 1694498815 203.0.113.7 50002 typ srflx raddr 192.168.1.10 rport 50000",
  "a=candidate:4 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active",
  "a=candidate:5 1 udp 2130706431 192.168.1.100 50003 typ host",
  "a=end-of-candidates",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdef012345",
  "a=fingerprint:sha-256 ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89",
  "a=fingerprint:sha-384 11:22:33",
  "a=fingerprint:sha-512 44:55:66",
  "a=setup:active",
  "a=mid:audio",
  "a=sendrecv",
  "a=rtpmap:111 opus/48000/2",
  "a=ssrc:1111 cname:server",
  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
  "a=mid:datachannel",
  "a=sctp-port:5000",
].join("\n");

describe("ESP32 answers", () => {
  const shaped = shapeAnswerForLibpeer(ANSWER, "192.168.1.10");
  const lines = shaped.split("\r\n");

  test("only the sha-256 fingerprint, in uppercase", () => {
    expect(lines.filter((l) => l.startsWith("a=fingerprint:"))).toEqual([
      "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
    ]);
  });

  test("of the host candidates, only UDP ones on the configured IP, none with raddr (not .100 either)", () => {
    expect(lines.filter((l) => l.startsWith("a=candidate:"))).toEqual(["a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host"]);
  });

  test("CRLF everywhere, ending with CRLF, and every other line kept verbatim (string mids included)", () => {
    expect(shaped.endsWith("\r\n")).toBe(true);
    expectLinesFitLibpeer(shaped);
    expect(shaped.replaceAll("\r\n", "")).not.toContain("\n");
    const verbatim = ["a=mid:audio", "a=mid:datachannel", "a=setup:active", "a=group:BUNDLE audio datachannel"];
    for (const kept of [...verbatim, "a=rtpmap:111 opus/48000/2", "a=ssrc:1111 cname:server"]) {
      expect(lines).toContain(kept);
    }
  });

  test("a huge answer is trimmed of lines libpeer ignores to fit its 4096-byte reply buffer, a=ssrc kept", () => {
    const extmaps = Array.from({ length: 60 }, (_, i) => `a=extmap:${i + 1} urn:example:${"x".repeat(40)}`);
    const bloated = ANSWER.replace("a=rtpmap:111 opus/48000/2", ["a=rtpmap:111 opus/48000/2", ...extmaps].join("\n"));
    expect(bloated.length).toBeGreaterThan(ESP32_MAX_REPLY_BYTES);
    const trimmed = shape(bloated);
    const reply = JSON.stringify({ sdp: trimmed, type: "answer", pc_id: `SmallWebRTCConnection#123-${"f".repeat(32)}` });
    expect(new TextEncoder().encode(reply).length).toBeLessThanOrEqual(ESP32_MAX_REPLY_BYTES);
    expect(trimmed).not.toContain("a=extmap:");
    expect(trimmed).toContain("a=fingerprint:sha-256");
    expect(trimmed).toContain("a=candidate:1 ");
    expect(ssrcsLibpeerDecodes(trimmed)).toEqual({ audio: 1111 });
  });

  test("one a=ssrc per audio or video section, the sending one, so libpeer's last-one-wins reading picks it", () => {
    const answer = [
      "v=0",
      "a=ssrc:9 cname:session-level",
      "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
      "a=ssrc-group:FID 2222 3333",
      "a=ssrc:2222 cname:server",
      "a=ssrc:3333 cname:server",
      "m=audio 9 UDP/TLS/RTP/SAVPF 111",
      "a=ssrc:1111 cname:server",
      "a=ssrc:1111 msid:stream track",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      "a=ssrc:4444 cname:stray",
    ].join("\r\n");
    // Unshaped, libpeer would decode the RTX stream as video and a stray SSRC as audio.
    expect(ssrcsLibpeerDecodes(answer)).toEqual({ video: 3333, audio: 4444 });
    const shaped = shape(answer);
    expect(ssrcsLibpeerDecodes(shaped)).toEqual({ video: 2222, audio: 1111 });
    const ssrcLines = shaped.split("\r\n").filter((l) => l.startsWith("a=ssrc:"));
    expect(ssrcLines).toEqual(["a=ssrc:2222 cname:server", "a=ssrc:1111 cname:server"]);
  });

  test("no line reaches libpeer's 256-byte buffer: long lines it ignores go, 255 bytes is the most that stays", () => {
    const line = (prefix: string, bytes: number) => prefix + "x".repeat(bytes - prefix.length);
    const longest = line("a=fmtp:111 ", LIBPEER_MAX_LINE_BYTES);
    const answer = ANSWER
      .replace("a=group:BUNDLE audio datachannel", line("a=group:BUNDLE audio datachannel ", 300))
      .replace("a=rtpmap:111 opus/48000/2", `a=rtpmap:111 opus/48000/2\n${longest}\n${line("a=fmtp:111 ", 256)}`);
    const shaped = shape(answer).split("\r\n");
    expect(shaped).toContain(longest);
    expect(shaped.filter((l) => l.startsWith("a=fmtp:") || l.startsWith("a=group:"))).toEqual([longest]);
    expect(shaped).toContain("a=ssrc:1111 cname:server");
  });

  test("a line libpeer needs that would be too long fails the answer with a clear signalling error", () => {
    const formats = Array.from({ length: 80 }, (_, i) => 96 + i).join(" ");
    const answer = ANSWER.replace("m=audio 9 UDP/TLS/RTP/SAVPF 111", `m=audio 9 UDP/TLS/RTP/SAVPF ${formats}`);
    let error: unknown;
    try {
      shapeAnswerForLibpeer(answer, "192.168.1.10");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SignallingError);
    expect((error as SignallingError).reason).toBe("invalid-offer");
    expect((error as Error).message).toMatch(/^the ESP32 answer would need a 3\d\d-byte line \(m=audio .*at most 255/);
  });

  test("a real answer trimmed to fit still names the SSRC the server sends audio with", async () => {
    // Four media sections and a data channel make werift's answer pass the SDP budget. ESP32 mode needs a LAN host,
    // so the answer is shaped here, for 127.0.0.1, as the server would shape it for its host.
    server = startTestServer();
    client = new TestClient({
      media: [
        { kind: "audio", direction: "sendrecv" },
        { kind: "video", direction: "sendrecv" },
        { kind: "video", direction: "sendonly" },
        { kind: "video", direction: "sendonly" },
      ],
    });
    const offer = (await client.offer()).sdp.replaceAll("a=setup:actpass", "a=setup:passive");
    expect(isLibpeerOffer(offer)).toBe(true);
    const { status, body } = await server.post("/api/offer", { sdp: offer, type: "offer" });
    expect(status).toBe(200);
    const shaped = shape(body.sdp, "127.0.0.1");
    expect(body.sdp).toContain("a=extmap:");
    expect(shaped).not.toContain("a=extmap:");
    expect(ssrcsLibpeerDecodes(shaped).audio).toBeNumber();

    const audio = client.pc.getTransceivers()[0];
    const firstBotPacket = withTimeout(
      new Promise<number>((resolve) => {
        audio.onTrack.subscribe((track) => track.onReceiveRtp.once((rtp) => resolve(rtp.header.ssrc)));
      }),
      10_000,
      "the echo bot's first audio packet",
    );
    await client.accept({ sdp: shaped });
    const tone = new Int16Array(24_000).map((_, i) => 8000 * Math.sin((2 * Math.PI * 440 * i) / 48_000));
    const sending = client.sendAudio(tone);
    const sentWith = await firstBotPacket;
    await sending;
    expect(ssrcsLibpeerDecodes(shaped).audio).toBe(sentWith);
  }, 20_000);

  test("behind a 1:1 NAT, the public address mapped to the configured IP is offered too, by the same rules", () => {
    const config = testConfig({
      host: "192.168.1.10",
      esp32: true,
      ice: { advertisedIps: ["203.0.113.9/192.168.1.10", "198.51.100.7/10.8.0.3", "192.0.2.4"] },
    });
    const { shapeAnswer } = connectionOptions(config, silentLogger, "v=0\r\na=setup:passive\r\n");
    const shaped = shapeAnswer!(ANSWER);
    expectLinesFitLibpeer(shaped);
    // Each twin follows its private candidate with a priority just below it; 10.8.0.3's twin goes with 10.8.0.3.
    expect(shaped.split("\r\n").filter((l) => l.startsWith("a=candidate:"))).toEqual([
      "a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host",
      "a=candidate:1n0 1 udp 2130706430 203.0.113.9 50000 typ host",
      "a=candidate:1n1 1 udp 2130706429 192.0.2.4 50000 typ host",
    ]);
  });

  test("the server's UDP relay candidates are kept as werift writes them, after their section's host ones", () => {
    // werift repeats its candidates in every section and lists a relay candidate after the host ones; here the first
    // section has it first, and a TCP relay candidate, which libpeer would not parse.
    const relay = "a=candidate:2f0e1d4a9b8c7d6e5f4a3b2c1 1 udp 16777215 192.0.2.10 51282 typ relay " +
      "raddr 203.0.113.10 rport 40000 generation 0";
    const host = "a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host";
    const answer = ANSWER
      .replace(host, [relay, host, "a=candidate:7 1 tcp 16777215 192.0.2.10 443 typ relay"].join("\n"))
      .replace("a=sctp-port:5000", ["a=sctp-port:5000", host, relay, "a=end-of-candidates"].join("\n"));
    const candidates = shape(answer).split("\r\n").filter((l) => l.startsWith("a=candidate:"));
    expect(candidates).toEqual([host, relay, host, relay]);
    // libpeer reads "relay" and stops there; its foundation field holds 32 characters.
    expect(relay.split(" ")[0].length - "a=candidate:".length).toBeLessThanOrEqual(32);
  });

  test("relay candidates are dropped beyond libpeer's 10 candidate lines, host candidates never", () => {
    const relay = "a=candidate:9 1 udp 16777215 192.0.2.10 51282 typ relay raddr 203.0.113.10 rport 40000";
    const answer = ANSWER.replace("a=end-of-candidates", `${relay}\na=end-of-candidates`);
    const mappings = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ public: `198.51.100.${i + 1}`, private: "192.168.1.10" }));
    const candidates = (count: number) => shapeAnswerForLibpeer(answer, "192.168.1.10", mappings(count))
      .split("\r\n").filter((l) => l.startsWith("a=candidate:"));
    // The host candidate and 8 twins leave room for the relay; one twin more fills libpeer's array without it.
    expect(candidates(LIBPEER_MAX_CANDIDATES - 2)).toHaveLength(LIBPEER_MAX_CANDIDATES);
    expect(candidates(LIBPEER_MAX_CANDIDATES - 2).at(-1)).toBe(relay);
    expect(candidates(LIBPEER_MAX_CANDIDATES - 1)).toHaveLength(LIBPEER_MAX_CANDIDATES);
    expect(candidates(LIBPEER_MAX_CANDIDATES - 1)).not.toContain(relay);
  });

  test("libpeer offers are told apart from browser offers", () => {
    expect(isLibpeerOffer("v=0\r\na=setup:passive\r\nm=audio 9 UDP/TLS/RTP/SAVP 111\r\na=mid:audio\r\n")).toBe(true);
    expect(isLibpeerOffer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVP 111\r\na=setup:actpass\r\na=mid:audio\r\n")).toBe(true);
    expect(isLibpeerOffer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\na=mid:0\r\n")).toBe(false);
  });
});
