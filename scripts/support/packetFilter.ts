/**
 * Packet filters in the caller's network namespace (tests and benchmarks run in one of their own: scripts/netns).
 */

/** Drops every UDP packet arriving in this namespace while `work` runs, as networks that block UDP do. */
export async function withoutUdp<T>(work: () => Promise<T>): Promise<T> {
  iptables("-A", ["INPUT", "-p", "udp", "-j", "DROP"]);
  try {
    return await work();
  } finally {
    iptables("-D", ["INPUT", "-p", "udp", "-j", "DROP"]);
  }
}

function iptables(action: "-A" | "-D", rule: string[]): void {
  const result = Bun.spawnSync(["iptables", action, ...rule]);
  if (!result.success) throw new Error(`iptables ${action} ${rule.join(" ")} failed: ${result.stderr.toString().trim()}`);
}
