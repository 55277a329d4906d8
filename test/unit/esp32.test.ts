/** Golden tests of the ESP32 (libpeer) answer rules (docs/protocol.md §6). */
import { describe, expect, test } from "bun:test";
import { ESP32_MAX_REPLY_BYTES, isLibpeerOffer, shapeAnswerForLibpeer } from "../../lib/webrtc/esp32.ts";

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

  test("only UDP host candidates on the configured IP, none with raddr (not even a regex-like match of .100)", () => {
    expect(lines.filter((l) => l.startsWith("a=candidate:"))).toEqual(["a=candidate:1 1 udp 2130706431 192.168.1.10 50000 typ host"]);
  });

  test("CRLF everywhere, ending with CRLF, and every other line kept verbatim (string mids included)", () => {
    expect(shaped.endsWith("\r\n")).toBe(true);
    expect(shaped.replaceAll("\r\n", "")).not.toContain("\n");
    for (const kept of ["a=mid:audio", "a=mid:datachannel", "a=setup:active", "a=group:BUNDLE audio datachannel", "a=rtpmap:111 opus/48000/2"]) {
      expect(lines).toContain(kept);
    }
  });

  test("a huge answer is trimmed of lines libpeer ignores to fit its 4096-byte reply buffer", () => {
    const bloated = ANSWER + "\n" + Array.from({ length: 80 }, (_, i) => `a=ssrc:${1000 + i} cname:${"x".repeat(40)}`).join("\n");
    const trimmed = shapeAnswerForLibpeer(bloated, "192.168.1.10");
    const reply = JSON.stringify({ sdp: trimmed, type: "answer", pc_id: `SmallWebRTCConnection#123-${"f".repeat(32)}` });
    expect(new TextEncoder().encode(reply).length).toBeLessThanOrEqual(ESP32_MAX_REPLY_BYTES);
    expect(trimmed).toContain("a=fingerprint:sha-256");
    expect(trimmed).toContain("a=candidate:1 ");
  });

  test("libpeer offers are told apart from browser offers", () => {
    expect(isLibpeerOffer("v=0\r\na=setup:passive\r\nm=audio 9 UDP/TLS/RTP/SAVP 111\r\na=mid:audio\r\n")).toBe(true);
    expect(isLibpeerOffer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVP 111\r\na=setup:actpass\r\na=mid:audio\r\n")).toBe(true);
    expect(isLibpeerOffer("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\na=mid:0\r\n")).toBe(false);
  });
});
