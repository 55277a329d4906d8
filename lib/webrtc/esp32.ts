/**
 * Answers for pipecat-esp32 devices (libpeer), whose SDP handling is minimal (PROTOCOL.md 1.7 and 5): it reads the
 * text after a fixed prefix of every a=fingerprint line and compares it, case-sensitively, with an uppercase SHA-256
 * digest; it keeps at most 10 remote candidates without a bounds check and parses only UDP host/srflx/relay ones;
 * it needs CRLF line endings; and it copies at most 4096 bytes of the HTTP reply.
 *
 * Which offers are from a device: libpeer offers `a=setup:passive` (it wants to be the DTLS server) and names its
 * sections `audio` and `datachannel`; browsers and the Pipecat apps offer `actpass` with numeric mids. An offer with
 * either libpeer trait gets an ESP32 answer; every other client gets a normal one, so browsers keep working on a
 * server in ESP32 mode (Pipecat's `--esp32` munges every answer).
 */

const LIBPEER_MIDS = /^a=mid:(audio|datachannel)$/m;
const PASSIVE_SETUP = /^a=setup:passive$/m;

/** The largest HTTP body libpeer reads (MAX_HTTP_OUTPUT_BUFFER). */
export const ESP32_MAX_REPLY_BYTES = 4096;
/**
 * SDP budget inside that body: the JSON around it (type, pc_id) and the escaping of CRLF as \r\n take about 10 %.
 * Larger answers lose the lines libpeer ignores anyway.
 */
const SDP_BUDGET_BYTES = 3600;
const IGNORED_BY_LIBPEER = /^a=(ssrc|msid|msid-semantic|extmap|extmap-allow-mixed|ice-options|rtcp-fb|end-of-candidates):?/;

export function isLibpeerOffer(sdp: string): boolean {
  return PASSIVE_SETUP.test(sdp) || LIBPEER_MIDS.test(sdp);
}

/**
 * Keeps only what libpeer can use: the SHA-256 fingerprint in uppercase, UDP host candidates on `hostIp` without
 * related addresses, and CRLF line endings with a final CRLF.
 */
export function shapeAnswerForLibpeer(sdp: string, hostIp: string): string {
  const lines = sdp.split(/\r?\n/).filter((line) => line !== "");
  const kept = lines.flatMap((line) => {
    if (line.startsWith("a=fingerprint:")) {
      const [algorithm, value] = line.slice("a=fingerprint:".length).split(" ");
      return algorithm.toLowerCase() === "sha-256" ? [`a=fingerprint:sha-256 ${value.toUpperCase()}`] : [];
    }
    if (line.startsWith("a=candidate:")) return isHostCandidateOn(line, hostIp) ? [line] : [];
    return [line];
  });
  const shaped = `${kept.join("\r\n")}\r\n`;
  if (shaped.length <= SDP_BUDGET_BYTES) return shaped;
  return `${kept.filter((line) => !IGNORED_BY_LIBPEER.test(line)).join("\r\n")}\r\n`;
}

function isHostCandidateOn(line: string, hostIp: string): boolean {
  const fields = line.split(" ");
  const typ = fields[fields.indexOf("typ") + 1];
  return fields[2]?.toLowerCase() === "udp" && fields[4] === hostIp && typ === "host" && !fields.includes("raddr");
}
