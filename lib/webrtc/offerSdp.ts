/**
 * Checks on an offer before werift sees it. werift accepts surprisingly broken SDP (a bare "v=0" parses), and a peer
 * connection built from it would only sit there until its timeout; a huge one costs parsing time and memory. Junk
 * offers are refused here, so they never create a session or start a bot.
 */

export interface SdpLimits {
  maxBytes: number;
  maxLines: number;
  maxMediaSections: number;
  maxCandidates: number;
}

/** RFC 8839 section 5.4: ice-char is ALPHA / DIGIT / "+" / "/"; ufrag 4-256 of them, pwd 22-256. */
const ICE_UFRAG = /^[A-Za-z0-9+/]{4,256}$/;
const ICE_PWD = /^[A-Za-z0-9+/]{22,256}$/;

export function offerSdpProblem(sdp: string, limits: SdpLimits): string | undefined {
  if (sdp.length > limits.maxBytes) return `SDP is larger than ${limits.maxBytes} bytes`;
  if (!sdp.startsWith("v=0")) return 'SDP must start with "v=0"';
  const lines = sdp.split(/\r?\n/);
  if (lines.length > limits.maxLines) return `SDP has more than ${limits.maxLines} lines`;
  const media = lines.filter((line) => line.startsWith("m=")).length;
  if (media === 0) return "SDP has no media (m=) section";
  if (media > limits.maxMediaSections) return `SDP has more than ${limits.maxMediaSections} media sections`;
  const candidates = lines.filter((line) => line.startsWith("a=candidate:")).length;
  if (candidates > limits.maxCandidates) return `SDP has more than ${limits.maxCandidates} candidates`;
  if (!lines.some((line) => line.startsWith("a=fingerprint:"))) return "SDP has no a=fingerprint line";
  // Sections are matched to transceivers by mid (RFC 8843): every one needs its own.
  const sections = sdp.split(/\r?\nm=/).slice(1);
  if (!sections.every((section) => /\r?\na=mid:\S+/.test(section))) return "every media section needs an a=mid line";
  for (const [attribute, pattern] of [["ice-ufrag", ICE_UFRAG], ["ice-pwd", ICE_PWD]] as const) {
    const values = lines.filter((line) => line.startsWith(`a=${attribute}:`)).map((line) => line.slice(attribute.length + 3));
    if (values.length === 0) return `SDP has no a=${attribute} line`;
    if (!values.every((value) => pattern.test(value.trim()))) return `SDP has an invalid a=${attribute} (RFC 8839)`;
  }
  return undefined;
}
