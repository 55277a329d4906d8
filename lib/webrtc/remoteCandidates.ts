/**
 * Which client candidates reach werift. A candidate whose address is a name rather than an IP literal would make
 * werift resolve it: `.local` names through multicast DNS (224.0.0.251) and anything else through the system resolver.
 * The server must only ever talk to addresses it was given, so such candidates are dropped; ICE still finds the
 * client through peer-reflexive discovery when the client checks our candidates. Malformed candidates are left to
 * werift, which rejects them.
 */
import { isIP } from "node:net";

/** The address field of an ICE candidate (`candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...`). */
export function candidateAddress(candidate: string): string | undefined {
  const fields = candidate.replace(/^a=/, "").split(/\s+/);
  return fields[0]?.startsWith("candidate:") && fields.length >= 8 ? fields[4] : undefined;
}

/** True for a well-formed candidate whose address would have to be resolved. */
export function needsNameResolution(candidate: string): boolean {
  const address = candidateAddress(candidate);
  return address !== undefined && isIP(address) === 0;
}

/** The offer without the candidate lines that werift would have to resolve. */
export function dropNamedCandidates(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp
    .split(eol)
    .filter((line) => !line.startsWith("a=candidate:") || !needsNameResolution(line))
    .join(eol);
}
