import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";

export interface HostAddressOptions {
  /** IP addresses or interface names (loopback too, when named); empty means every non-internal interface. */
  interfaces: string[];
  loopback: "auto" | "always" | "never";
  ipv6: boolean;
  /** The HTTP bind host; `loopback: "auto"` offers 127.0.0.1 when this is a loopback host. */
  bindHost: string;
}

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/i;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/**
 * The addresses to gather host candidates on. werift's own discovery skips loopback and cannot be narrowed to
 * interface names, so we choose the exact list here and hand it over as its "additional" host addresses.
 */
export function selectHostAddresses(
  options: HostAddressOptions,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string[] {
  const wanted = new Set(options.interfaces);
  const picked: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      const named = wanted.has(name) || wanted.has(info.address);
      if (wanted.size > 0 ? !named : info.internal) continue;
      if (info.family === "IPv6" && (!options.ipv6 || info.address.toLowerCase().startsWith("fe80:"))) continue;
      picked.push(info.address);
    }
  }
  const loopback = options.loopback === "always" ||
    (options.loopback === "auto" && (isLoopbackHost(options.bindHost) || picked.length === 0));
  if (loopback && !picked.includes("127.0.0.1")) picked.unshift("127.0.0.1");
  return picked;
}
