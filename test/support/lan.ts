/**
 * A LAN on one machine: a bridge in the test's own network namespace, which is the first host (the test process and
 * Chromium live there), and one namespace per further host, each joined to the bridge by a veth pair, all on one
 * private /24. Every host can reach every other; tests cut the paths they need cut with packet filters inside a host.
 * Everything is removed by `close()`; nothing leaves the machine.
 */
import { randomInt } from "node:crypto";

export interface LanHost {
  /** Name of the host's namespace, for `ip netns exec`. */
  namespace: string;
  ip: string;
  /** Runs a command inside the host's namespace and returns its stdout. */
  run(command: string[]): string;
  /** The command prefix that runs a long-lived process inside the host's namespace. */
  command(command: string[]): string[];
}

export interface Lan<Name extends string> {
  /** The test's own address on the LAN. */
  ip: string;
  hosts: Record<Name, LanHost>;
  close(): void;
}

/** Runs a command and returns its stdout; a failure throws with the command's stderr. */
export function sh(command: string[]): string {
  const result = Bun.spawnSync(command, { stderr: "pipe" });
  if (!result.success) throw new Error(`${command.join(" ")} failed: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

export function createLan<const Name extends string>(names: readonly Name[]): Lan<Name> {
  const id = randomInt(1, 250);
  const tag = `${id}x${process.pid % 10000}`;
  const bridge = `br${tag}`;
  const subnet = `10.232.${id}`;
  const namespaces: string[] = [];
  const close = () => {
    for (const namespace of namespaces) Bun.spawnSync(["ip", "netns", "del", namespace]);
    Bun.spawnSync(["ip", "link", "del", bridge]);
  };
  try {
    sh(["ip", "link", "add", bridge, "type", "bridge"]);
    sh(["ip", "addr", "add", `${subnet}.1/24`, "dev", bridge]);
    sh(["ip", "link", "set", bridge, "up"]);
    const hosts = Object.fromEntries(names.map((name, index) => {
      const namespace = `swrtc-${tag}-${name}`;
      const ip = `${subnet}.${index + 2}`;
      const outside = `v${tag}h${index}`;
      sh(["ip", "netns", "add", namespace]);
      namespaces.push(namespace);
      sh(["ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
      sh(["ip", "link", "set", outside, "master", bridge, "up"]);
      const run = (args: string[]) => sh(["ip", "netns", "exec", namespace, ...args]);
      run(["ip", "link", "set", "lo", "up"]);
      run(["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
      run(["ip", "link", "set", "eth0", "up"]);
      const command = (args: string[]) => ["ip", "netns", "exec", namespace, ...args];
      return [name, { namespace, ip, run, command } satisfies LanHost];
    })) as Record<Name, LanHost>;
    return { ip: `${subnet}.1`, hosts, close };
  } catch (error) {
    close();
    throw error;
  }
}
