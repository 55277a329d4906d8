/**
 * Two hosts on one machine: the test's own network namespace and a second one for the server, joined by a veth
 * pair on a private /24. Used where a test needs real (non-loopback) addresses: port ranges, many interfaces,
 * ESP32 mode, lossy links. Everything is torn down by `close()`; nothing leaves the machine.
 */
import { randomInt } from "node:crypto";

export interface TwoHosts {
  /** Name of the server's namespace, for `ip netns exec`. */
  namespace: string;
  clientIp: string;
  serverIp: string;
  /** The client-side veth device (for tc/netem). */
  clientDevice: string;
  /** The server-side veth device (more addresses can be added to it). */
  serverDevice: string;
  /** Runs a command inside the server namespace and returns its stdout. */
  inServer(command: string[]): string;
  /** The command prefix that runs a long-lived process inside the server namespace. */
  serverCommand(command: string[]): string[];
  close(): void;
}

function sh(command: string[]): string {
  const result = Bun.spawnSync(command, { stderr: "pipe" });
  if (!result.success) throw new Error(`${command.join(" ")} failed: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

export function createTwoHosts(): TwoHosts {
  const id = randomInt(1, 250);
  const namespace = `swrtc-${process.pid}-${id}`;
  const clientDevice = `vc${id}x${process.pid % 1000}`;
  const serverDevice = `vs${id}x${process.pid % 1000}`;
  const clientIp = `10.231.${id}.1`;
  const serverIp = `10.231.${id}.2`;
  sh(["ip", "netns", "add", namespace]);
  try {
    sh(["ip", "link", "add", clientDevice, "type", "veth", "peer", "name", serverDevice]);
    sh(["ip", "link", "set", serverDevice, "netns", namespace]);
    sh(["ip", "addr", "add", `${clientIp}/24`, "dev", clientDevice]);
    sh(["ip", "link", "set", clientDevice, "up"]);
    const inNs = (args: string[]) => sh(["ip", "netns", "exec", namespace, ...args]);
    inNs(["ip", "link", "set", "lo", "up"]);
    inNs(["ip", "addr", "add", `${serverIp}/24`, "dev", serverDevice]);
    inNs(["ip", "link", "set", serverDevice, "up"]);
  } catch (error) {
    Bun.spawnSync(["ip", "netns", "del", namespace]);
    throw error;
  }
  return {
    namespace,
    clientIp,
    serverIp,
    clientDevice,
    serverDevice,
    inServer: (command) => sh(["ip", "netns", "exec", namespace, ...command]),
    serverCommand: (command) => ["ip", "netns", "exec", namespace, ...command],
    close: () => {
      Bun.spawnSync(["ip", "link", "del", clientDevice]);
      Bun.spawnSync(["ip", "netns", "del", namespace]);
    },
  };
}
