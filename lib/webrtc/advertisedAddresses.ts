/**
 * NAT 1:1 (a cloud VM, a Docker host, a router forwarding UDP): the machine only knows its private address, but
 * clients must be told the public one. Each host candidate on a mapped private address gets a twin on the public
 * address, same port, slightly lower priority, so clients inside the private network keep the direct path.
 */

export interface AddressMapping {
  public: string;
  /** The private address this public one stands for; undefined maps every host candidate. */
  private?: string;
}

export function parseAdvertisedIps(entries: readonly string[]): AddressMapping[] {
  return entries.map((entry) => {
    const [publicIp, privateIp] = entry.split("/");
    return privateIp ? { public: publicIp, private: privateIp } : { public: publicIp };
  });
}

export function addAdvertisedCandidates(sdp: string, mappings: readonly AddressMapping[]): string {
  if (mappings.length === 0) return sdp;
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  return sdp
    .split(eol)
    .flatMap((line) => {
      if (!line.startsWith("a=candidate:") || !line.includes(" typ host")) return [line];
      const fields = line.split(" ");
      const twins = mappings
        .filter((m) => m.public !== fields[4] && (m.private === undefined || m.private === fields[4]))
        .map((m, i) => {
          const twin = [...fields];
          twin[0] = `${fields[0]}n${i}`;
          twin[3] = String(Math.max(0, Number(fields[3]) - 1 - i));
          twin[4] = m.public;
          return twin.join(" ");
        });
      return [line, ...twins];
    })
    .join(eol);
}
