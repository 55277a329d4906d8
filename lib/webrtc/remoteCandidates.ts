/**
 * Which client candidates reach werift. werift sends connectivity checks to every candidate it is given, so a
 * candidate is an instruction to send UDP somewhere; the server must only talk to plausible peers:
 * - a name instead of an IP (mDNS `.local`, or any host name) would make werift resolve it, by multicast DNS or the
 *   system resolver: dropped; ICE still finds the client as a peer-reflexive candidate when it checks ours;
 * - special and unroutable addresses (unspecified, multicast, broadcast, reserved, link-local, and loopback unless
 *   we offer loopback ourselves) would point the server's checks at itself or at nothing: dropped unless allowed.
 * Malformed candidates are left to werift, which rejects them.
 */
import { isIP } from "node:net";

export interface CandidatePolicy {
  /** Accept 127.0.0.0/8 and ::1 (when the server itself offers a loopback candidate). */
  allowLoopback: boolean;
  /** Accept every address, special ranges included. */
  allowSpecial: boolean;
}

/** The address field of an ICE candidate (`candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...`). */
export function candidateAddress(candidate: string): string | undefined {
  const fields = candidate.replace(/^a=/, "").split(/\s+/);
  return fields[0]?.startsWith("candidate:") && fields.length >= 8 ? fields[4] : undefined;
}

/** Why a well-formed candidate is refused, or undefined when it may be used (or is malformed: werift decides). */
export function candidateRefusal(candidate: string, policy: CandidatePolicy): string | undefined {
  const address = candidateAddress(candidate);
  if (address === undefined) return undefined;
  const family = isIP(address);
  if (family === 0) return "a host name, not an IP address";
  if (policy.allowSpecial) return undefined;
  if (isLoopback(address)) return policy.allowLoopback ? undefined : "a loopback address";
  return family === 4 ? specialIPv4(address) : specialIPv6(address);
}

/** The offer without the candidate lines the policy refuses. */
export function filterOfferCandidates(sdp: string, policy: CandidatePolicy): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp
    .split(eol)
    .filter((line) => !line.startsWith("a=candidate:") || candidateRefusal(line, policy) === undefined)
    .join(eol);
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1";
}

function specialIPv4(address: string): string | undefined {
  const [a, b] = address.split(".").map(Number);
  if (a === 0) return "an unspecified address";
  if (a >= 224 && a <= 239) return "a multicast address";
  if (a >= 240) return "a reserved or broadcast address";
  if (a === 169 && b === 254) return "a link-local address";
  return undefined;
}

function specialIPv6(address: string): string | undefined {
  const lower = address.toLowerCase();
  if (lower === "::") return "an unspecified address";
  if (lower.startsWith("ff")) return "a multicast address";
  if (/^fe[89ab]/.test(lower)) return "a link-local address";
  return undefined;
}
