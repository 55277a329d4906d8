/**
 * Which client candidates reach werift. A candidate whose address is not an IP literal would make werift resolve it:
 * `.local` names through multicast DNS (224.0.0.251) and anything else through the system resolver. The server must
 * only ever talk to addresses it was given, so such candidates are dropped; ICE still finds the client through
 * peer-reflexive discovery when the client checks our candidates.
 */
import { isIP } from "node:net";

/** The address field of an ICE candidate attribute (`candidate:<foundation> <component> <transport> <priority> <address> ...`). */
export function candidateAddress(candidate: string): string | undefined {
  const fields = candidate.replace(/^a=/, "").split(/\s+/);
  return fields[0]?.startsWith("candidate:") ? fields[4] : undefined;
}

export function isUsableRemoteCandidate(candidate: string): boolean {
  const address = candidateAddress(candidate);
  return address !== undefined && isIP(address) !== 0;
}

/** The offer without candidate lines that werift would have to resolve. */
export function dropUnusableCandidates(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp
    .split(eol)
    .filter((line) => !line.startsWith("a=candidate:") || isUsableRemoteCandidate(line))
    .join(eol);
}
