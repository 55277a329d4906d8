/**
 * Answers for pipecat-esp32 devices (libpeer), whose SDP reading is minimal (docs/protocol.md §6):
 * - it splits the answer on CRLF only and copies each line, with a NUL after it, into a 256-byte stack buffer without
 *   a length check;
 * - of all that, it reads only the m=audio and m=video lines and the a=ssrc, a=fingerprint, a=ice-ufrag, a=ice-pwd and
 *   a=candidate lines;
 * - it decodes only RTP whose SSRC is the last a=ssrc it saw after an m=audio (or m=video) line, and an m=application
 *   line does not end that section; with no a=ssrc it waits for SSRC 0, so it plays nothing;
 * - it reads the text after a fixed prefix of the last a=fingerprint line and compares it, case-sensitively, with an
 *   uppercase SHA-256 digest;
 * - it parses only UDP host, srflx and relay candidates, and nothing after the type (not raddr); it writes each one
 *   into the next free slot of a 10-slot array without a bounds check, and keeps it there only if its foundation
 *   (compared as a string) is new;
 * - it checks the pairs one at a time, in answer order, about a second each, sending each check straight to the
 *   candidate's address, which for a relay candidate is the server's allocation on its TURN server;
 * - pipecat-esp32 copies at most 4096 bytes of the HTTP reply.
 *
 * Which offers are from a device: libpeer offers `a=setup:passive` (it wants to be the DTLS server) and names its
 * sections `audio` and `datachannel`; browsers and the Pipecat apps offer `actpass` with numeric mids. An offer with
 * either libpeer trait gets an ESP32 answer; every other client gets a normal one, so browsers keep working on a
 * server in ESP32 mode (Pipecat's `--esp32` munges every answer).
 */
import { type AddressMapping, addAdvertisedCandidates } from "./advertisedAddresses.ts";
import { SignallingError } from "./errors.ts";

const LIBPEER_MIDS = /^a=mid:(audio|datachannel)$/m;
const PASSIVE_SETUP = /^a=setup:passive$/m;

/** The largest HTTP body libpeer reads (MAX_HTTP_OUTPUT_BUFFER). */
export const ESP32_MAX_REPLY_BYTES = 4096;
/** The longest answer line libpeer can copy, CRLF excluded: its buffer also holds the terminating NUL. */
export const LIBPEER_MAX_LINE_BYTES = 255;
/** Remote candidates libpeer stores (AGENT_MAX_CANDIDATES); one more candidate line is written past its array. */
export const LIBPEER_MAX_CANDIDATES = 10;
/**
 * SDP budget inside that body: the JSON around it (type, pc_id) and the escaping of CRLF as \r\n take about 10 %.
 * Larger answers lose the lines libpeer ignores anyway.
 */
const SDP_BUDGET_BYTES = 3600;
const IGNORED_BY_LIBPEER =
  /^a=(msid|msid-semantic|extmap|extmap-allow-mixed|ice-options|rtcp-fb|end-of-candidates|ssrc-group)(:|$)/;
const READ_BY_LIBPEER = /^(m=audio |m=video |a=(ssrc|fingerprint|ice-ufrag|ice-pwd|candidate):)/;
const utf8 = new TextEncoder();

export function isLibpeerOffer(sdp: string): boolean {
  return PASSIVE_SETUP.test(sdp) || LIBPEER_MIDS.test(sdp);
}

/**
 * Keeps only what libpeer can use: the SHA-256 fingerprint in uppercase, UDP host candidates on `hostIp` without
 * related addresses (each followed by a twin on every public address `advertised` maps `hostIp` to, for a server behind
 * a 1:1 NAT), then the server's UDP relay candidates (its allocations on a TURN server) while the answer holds at most
 * 10 candidate lines, one a=ssrc line per audio or video section, lines of at most 255 bytes, and CRLF line endings
 * with a final CRLF. Throws a SignallingError when a line libpeer needs would be too long for it.
 */
export function shapeAnswerForLibpeer(sdp: string, hostIp: string, advertised: readonly AddressMapping[] = []): string {
  const lines = sdp.split(/\r?\n/).filter((line) => line !== "");
  const usable = lines.flatMap((line) => {
    if (line.startsWith("a=fingerprint:")) {
      const [algorithm, value] = line.slice("a=fingerprint:".length).split(" ");
      return algorithm.toLowerCase() === "sha-256" ? [`a=fingerprint:sha-256 ${value.toUpperCase()}`] : [];
    }
    if (line.startsWith("a=candidate:")) {
      return isHostCandidateOn(line, hostIp) || isUdpRelayCandidate(line) ? [line] : [];
    }
    return [line];
  });
  // The twin follows its private candidate (docs/protocol.md §6.3): libpeer checks candidates one at a time in answer
  // order, so a device outside the server's network spends a second or more on the private one first.
  const withPublic = addAdvertisedCandidates(usable.join("\r\n"), advertised).split("\r\n");
  const candidatesFit = withinLibpeerCandidateSlots(relayCandidatesLast(withPublic));
  const kept = oneSsrcPerMediaSection(candidatesFit).filter(fitsLibpeerLineBuffer);
  const shaped = `${kept.join("\r\n")}\r\n`;
  if (utf8.encode(shaped).length <= SDP_BUDGET_BYTES) return shaped;
  return `${kept.filter((line) => !IGNORED_BY_LIBPEER.test(line)).join("\r\n")}\r\n`;
}

/**
 * The first a=ssrc line of an audio or video section names the SSRC the server sends with (werift lists an RTX SSRC
 * after it), and it is the one libpeer must keep. libpeer keeps the last one it reads instead, and files an a=ssrc
 * line of any other section under the audio or video section before it, so every other a=ssrc line goes.
 */
function oneSsrcPerMediaSection(lines: string[]): string[] {
  let inMediaSection = false;
  let ssrcKept = false;
  return lines.filter((line) => {
    if (line.startsWith("m=")) {
      inMediaSection = line.startsWith("m=audio ") || line.startsWith("m=video ");
      ssrcKept = false;
      return true;
    }
    if (!line.startsWith("a=ssrc:")) return true;
    if (!inMediaSection || ssrcKept) return false;
    ssrcKept = true;
    return true;
  });
}

/** A longer line would overrun libpeer's stack: one it ignores is dropped, one it needs fails the answer. */
function fitsLibpeerLineBuffer(line: string): boolean {
  const bytes = utf8.encode(line).length;
  if (bytes <= LIBPEER_MAX_LINE_BYTES) return true;
  if (!READ_BY_LIBPEER.test(line)) return false;
  throw new SignallingError(
    "invalid-offer",
    `the ESP32 answer would need a ${bytes}-byte line (${line.slice(0, 40)}...), and libpeer reads at most ` +
      `${LIBPEER_MAX_LINE_BYTES} bytes per line`,
  );
}

/**
 * A relay candidate is the last resort, so it goes after the host candidates of its section: libpeer gives each pair
 * about a second in answer order, and a device that reaches the server directly should never wait on the relay.
 */
function relayCandidatesLast(lines: string[]): string[] {
  const ordered: string[] = [];
  const held: string[] = [];
  for (const line of lines) {
    if (isUdpRelayCandidate(line)) {
      held.push(line);
      continue;
    }
    if (!line.startsWith("a=candidate:")) ordered.push(...held.splice(0));
    ordered.push(line);
  }
  return [...ordered, ...held];
}

/**
 * Relay candidates beyond 10 candidate lines go (host candidates are never dropped here). Lines, repeats included,
 * because libpeer writes each line it parses into the next free slot before it compares foundations: any candidate
 * line parsed once 10 are stored lands past its array.
 */
function withinLibpeerCandidateSlots(lines: string[]): string[] {
  const others = lines.filter((line) => line.startsWith("a=candidate:") && !isUdpRelayCandidate(line));
  let room = LIBPEER_MAX_CANDIDATES - others.length;
  return lines.filter((line) => !isUdpRelayCandidate(line) || room-- > 0);
}

function isHostCandidateOn(line: string, hostIp: string): boolean {
  const fields = line.split(" ");
  const typ = fields[fields.indexOf("typ") + 1];
  return fields[2]?.toLowerCase() === "udp" && fields[4] === hostIp && typ === "host" && !fields.includes("raddr");
}

/** A relayed address the server holds on a TURN server; it is UDP whichever transport reaches the TURN server. */
function isUdpRelayCandidate(line: string): boolean {
  const fields = line.split(" ");
  const typ = fields[fields.indexOf("typ") + 1];
  return line.startsWith("a=candidate:") && fields[2]?.toLowerCase() === "udp" && typ === "relay";
}
