/**
 * Cheap structural checks on an offer before werift sees it. werift accepts surprisingly broken SDP (a bare "v=0"
 * parses), and a peer connection built from it would only sit there until its timeout. Rejecting early means junk
 * offers never create a session or start a bot.
 */
export function offerSdpProblem(sdp: string): string | undefined {
  if (!sdp.startsWith("v=0")) return 'SDP must start with "v=0"';
  const lines = sdp.split(/\r?\n/);
  if (!lines.some((line) => line.startsWith("m="))) return "SDP has no media (m=) section";
  for (const attribute of ["ice-ufrag", "ice-pwd", "fingerprint"]) {
    if (!lines.some((line) => line.startsWith(`a=${attribute}:`))) return `SDP has no a=${attribute} line`;
  }
  return undefined;
}
