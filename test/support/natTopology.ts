/**
 * A client behind a home router and a server on the internet, on one machine: network namespaces joined by veth
 * pairs, routed and NATed by the kernel as real routers do.
 *
 *   client 192.168.7.10 ─ 192.168.7.1 [home router, MASQUERADE] 198.51.100.2 ─┐
 *                                                                             internet
 *   server 10.0.0.10 ─ 10.0.0.1 [cloud router, 1:1 NAT] 203.0.113.10 ─────────┘
 *
 * The home router masquerades the LAN behind its one public address, as every home router does: a reply gets back in,
 * a packet from anyone the client never sent to does not. With `server: "oneToOne"` the server sits behind a cloud
 * router that maps one public address to its private one, port for port, like a cloud VM's elastic IP; with
 * `server: "public"` it holds 203.0.113.10 itself; with `server: "home"` it sits at 192.168.8.10 behind a home router
 * of its own, masquerading like the client's, with nothing forwarded (a Pi at home) until `forwardTcpToServer` opens
 * one TCP port. The internet namespace routes between its links and knows no private network, so a packet to a
 * private address ends there. More hosts (a TURN relay) can join the internet with `addInternetHost`. Every namespace
 * is this process's own (names carry its pid); `close()` deletes them all, and their links and rules with them. The
 * test's own namespace is not touched.
 */
import { randomInt } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One machine of the topology: a network namespace with one address that matters. */
export interface NetHost {
  /** Name of its namespace, for `ip netns exec`. */
  namespace: string;
  /** Its address: on the LAN for the client, the public one for routers and internet hosts. */
  ip: string;
  /** Runs a command inside the namespace and returns its stdout; throws with its stderr when it fails. */
  run(command: string[]): string;
  /** The command prefix that runs a long-lived process inside the namespace. */
  command(command: string[]): string[];
  /**
   * An executable file that runs `program` inside the namespace with the arguments it is given, for tools that take
   * a program path rather than a command (Playwright's `executablePath`). It is deleted by `close()`.
   */
  wrap(program: string): string;
}

export interface NatTopologyOptions {
  /**
   * "oneToOne": the server has a private address behind a 1:1 NAT; "public": it holds the public one itself; "home":
   * it has a private address behind a masquerading router that lets nothing in.
   */
  server: "public" | "oneToOne" | "home";
}

export interface NatTopology {
  /** The client, on the home LAN. */
  client: NetHost;
  /** The home router; `ip` is its public address, the one the client's packets carry on the internet. */
  homeRouter: NetHost;
  /** The server's host; `ip` is the address it listens on (private behind the 1:1 NAT). */
  server: NetHost;
  /** The address the internet reaches the server at, or (at "home") its router's, which its packets leave from. */
  serverPublicIp: string;
  /**
   * Forwards one TCP port of the server's public address to the server (the way in for signalling, as a port forward
   * or a tunnel would be). Only a "home" server needs it: on the other sites every port reaches the server already.
   */
  forwardTcpToServer(port: number): void;
  /** A new host straight on the internet, in a public /24 of its own (a TURN relay, say). */
  addInternetHost(label: string): NetHost;
  close(): void;
}

/** A private /24 behind a router: the one host on it, and the router's address there. */
interface PrivateNetwork {
  host: string;
  router: string;
}
/** A public /24: the address of whoever holds it (host or router), and the internet's own address on that link. */
interface Site {
  public: string;
  internet: string;
}

const CLIENT_LAN: PrivateNetwork = { host: "192.168.7.10", router: "192.168.7.1" };
const CLIENT_SITE: Site = { public: "198.51.100.2", internet: "198.51.100.1" };
const SERVER_SITE: Site = { public: "203.0.113.10", internet: "203.0.113.1" };
const CLOUD_LAN: PrivateNetwork = { host: "10.0.0.10", router: "10.0.0.1" };
const SERVER_HOME_LAN: PrivateNetwork = { host: "192.168.8.10", router: "192.168.8.1" };
/** Public /24s for hosts added later: 192.0.2.0/24 (TEST-NET-1), then unused benchmarking addresses. */
const EXTRA_SITES = ["192.0.2", "198.18.0", "198.18.1", "198.18.2"];

function sh(command: string[]): string {
  const result = Bun.spawnSync(command, { stderr: "pipe" });
  if (!result.success) throw new Error(`${command.join(" ")} failed: ${result.stderr.toString().trim()}`);
  return result.stdout.toString();
}

export function createNatTopology(options: NatTopologyOptions): NatTopology {
  const prefix = `swrtc-nat-${process.pid}-${randomInt(1, 1_000_000)}`;
  const namespaces: string[] = [];
  const wrappers = mkdtempSync(join(tmpdir(), "smallwebrtc-nat-"));
  const close = () => {
    for (const namespace of namespaces.splice(0).reverse()) Bun.spawnSync(["ip", "netns", "del", namespace]);
    rmSync(wrappers, { recursive: true, force: true });
  };

  const host = (label: string, ip: string): NetHost => {
    const namespace = `${prefix}-${label}`;
    sh(["ip", "netns", "add", namespace]);
    namespaces.push(namespace);
    sh(["ip", "-n", namespace, "link", "set", "lo", "up"]);
    const command = (args: string[]) => ["ip", "netns", "exec", namespace, ...args];
    return {
      namespace,
      ip,
      run: (args) => sh(command(args)),
      command,
      wrap(program) {
        const file = join(wrappers, `${label}-${program.split("/").at(-1)}`);
        writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${namespace} ${program} "$@"\n`);
        chmodSync(file, 0o755);
        return file;
      },
    };
  };
  /** A veth pair between two hosts, each end with its /24 address, both up. */
  const link = (a: NetHost, aDevice: string, aIp: string, b: NetHost, bDevice: string, bIp: string) => {
    const peer = ["peer", "name", bDevice, "netns", b.namespace];
    sh(["ip", "-n", a.namespace, "link", "add", aDevice, "type", "veth", ...peer]);
    for (const [end, device, ip] of [[a, aDevice, aIp], [b, bDevice, bIp]] as const) {
      sh(["ip", "-n", end.namespace, "addr", "add", `${ip}/24`, "dev", device]);
      sh(["ip", "-n", end.namespace, "link", "set", device, "up"]);
    }
  };
  const defaultRoute = (on: NetHost, via: string) => on.run(["ip", "route", "add", "default", "via", via]);
  // A new namespace starts with forwarding off; /proc/sys/net shows the writer's own namespace.
  const forwarding = (router: NetHost) => router.run(["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);

  try {
    const internet = host("internet", CLIENT_SITE.internet);
    forwarding(internet);

    /**
     * A router on `site` (its `wan` facing the internet's `internetDevice`) with `inside` behind it on `lan`,
     * forwarding between them; what it translates is up to the caller.
     */
    const router = (label: string, inside: NetHost, lan: PrivateNetwork, site: Site, internetDevice: string) => {
      const added = host(label, site.public);
      link(inside, "eth0", lan.host, added, "lan", lan.router);
      link(added, "wan", site.public, internet, internetDevice, site.internet);
      defaultRoute(inside, lan.router);
      defaultRoute(added, site.internet);
      forwarding(added);
      return added;
    };
    const nat = (on: NetHost, ...rule: string[]) => on.run(["iptables", "-t", "nat", "-A", ...rule]);
    /** A home router: everything from inside leaves as the router's own address; only replies get back in. */
    const homeRouter = (label: string, inside: NetHost, lan: PrivateNetwork, site: Site, internetDevice: string) => {
      const added = router(label, inside, lan, site, internetDevice);
      nat(added, "POSTROUTING", "-o", "wan", "-j", "MASQUERADE");
      return added;
    };

    const client = host("client", CLIENT_LAN.host);
    const clientRouter = homeRouter("home", client, CLIENT_LAN, CLIENT_SITE, "home");

    let server: NetHost;
    let forwardTcpToServer = (_port: number) => {};
    if (options.server === "public") {
      server = host("server", SERVER_SITE.public);
      link(server, "eth0", SERVER_SITE.public, internet, "server", SERVER_SITE.internet);
      defaultRoute(server, SERVER_SITE.internet);
    } else if (options.server === "oneToOne") {
      server = host("server", CLOUD_LAN.host);
      const cloudRouter = router("cloud", server, CLOUD_LAN, SERVER_SITE, "cloud");
      const toServer = ["-j", "DNAT", "--to-destination", server.ip];
      nat(cloudRouter, "PREROUTING", "-i", "wan", "-d", SERVER_SITE.public, ...toServer);
      nat(cloudRouter, "POSTROUTING", "-o", "wan", "-s", server.ip, "-j", "SNAT", "--to-source", SERVER_SITE.public);
    } else {
      server = host("server", SERVER_HOME_LAN.host);
      const serverRouter = homeRouter("serverhome", server, SERVER_HOME_LAN, SERVER_SITE, "serverhome");
      forwardTcpToServer = (port) =>
        nat(serverRouter, "PREROUTING", "-i", "wan", "-p", "tcp", "--dport", String(port), "-j", "DNAT",
          "--to-destination", server.ip);
    }

    const sites = [...EXTRA_SITES];
    const addInternetHost = (label: string): NetHost => {
      const index = EXTRA_SITES.length - sites.length;
      const site = sites.shift();
      if (!site) throw new Error(`no public network left for internet host ${label}`);
      const added = host(label, `${site}.10`);
      link(added, "eth0", added.ip, internet, `site${index}`, `${site}.1`);
      defaultRoute(added, `${site}.1`);
      return added;
    };
    return {
      client,
      homeRouter: clientRouter,
      server,
      serverPublicIp: SERVER_SITE.public,
      forwardTcpToServer,
      addInternetHost,
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}
