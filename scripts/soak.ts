/**
 * Soak: N full-duplex echo sessions against the server (with its default workers) for a while, then all closed. Reports the server's
 * memory (idle, steady, end, after close) and its open UDP sockets and file descriptors before and after, which is
 * where leaks show. Used by scripts/soak (10 minutes by default) and by the 60 s CI test.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { loadPackets } from "./benchmarks/loadStream.ts";
import { connectClient, drained, openSessions, processTree, rssMb } from "./benchmarks/servers.ts";
import { startServerProcess } from "./support/serverProcess.ts";
import { repoRoot } from "./support/paths.ts";
import { TestClient } from "./support/weriftClient.ts";

export interface SoakOptions {
  sessions: number;
  seconds: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  sessions: number;
  seconds: number;
  rssMb: { idle: number; steady: number; end: number; afterClose: number };
  /** (end - steady) / steady: growth while the sessions ran. */
  rssGrowth: number;
  udpSockets: { idle: number; during: number; afterClose: number };
  fds: { idle: number; afterClose: number };
  echoPacketsPerSession: number;
}

/** File descriptors of the server (its main process and workers), and how many of them are UDP sockets. */
function descriptors(pid: number): { fds: number; udp: number } {
  const each = processTree(pid).map(processDescriptors);
  return { fds: each.reduce((sum, d) => sum + d.fds, 0), udp: each.reduce((sum, d) => sum + d.udp, 0) };
}

/** File descriptors of one process, and how many of them are UDP sockets (matched against /proc/net/udp). */
function processDescriptors(pid: number): { fds: number; udp: number } {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const row of readFileSync(join(`/proc/${pid}`, table.slice("/proc/".length)), "utf8").split("\n").slice(1)) {
      const inode = row.trim().split(/\s+/)[9];
      if (inode) inodes.add(inode);
    }
  }
  const fds = readdirSync(`/proc/${pid}/fd`);
  let udp = 0;
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith("socket:[") && inodes.has(target.slice(8, -1))) udp++;
    } catch {
      // closed while we looked
    }
  }
  return { fds: fds.length, udp };
}

export async function runSoak({ sessions, seconds, log = () => {} }: SoakOptions): Promise<SoakReport> {
  const server = await startServerProcess({ command: [join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")] });
  const pid = server.process.pid;
  const clients: TestClient[] = [];
  try {
    await Bun.sleep(1500); // codec warm-up
    const idle = { rss: rssMb(pid), ...descriptors(pid) };
    log(`idle: ${idle.rss.toFixed(1)} MB, ${idle.udp} UDP sockets, ${idle.fds} fds`);

    const packets = await loadPackets();
    let running = true;
    const streams: Promise<void>[] = [];
    for (let i = 0; i < sessions; i++) {
      const client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
      clients.push(client);
      await connectClient(server, client);
      streams.push(client.streamPackets(packets, () => !running));
    }
    log(`${sessions} sessions up`);

    const steadyAfter = Math.min(60, seconds / 2) * 1000;
    await Bun.sleep(steadyAfter);
    const steady = rssMb(pid);
    const during = descriptors(pid).udp;
    log(`steady after ${steadyAfter / 1000} s: ${steady.toFixed(1)} MB, ${during} UDP sockets`);
    for (let left = seconds * 1000 - steadyAfter; left > 0; left -= 30_000) {
      await Bun.sleep(Math.min(30_000, left));
      log(`running: ${rssMb(pid).toFixed(1)} MB, ${await openSessions(server)} sessions`);
    }
    const end = rssMb(pid);
    running = false;
    await Promise.all(streams);
    const echoPackets = clients.reduce((sum, client) => sum + client.audioIn.length, 0) / sessions;

    // Closing the clients' peer connections tells the server nothing (werift sends no close_notify): the sessions
    // end through liveness, as for clients that vanish.
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await drained(server, 30_000);
    await Bun.sleep(2000);
    const after = { rss: rssMb(pid), ...descriptors(pid) };
    log(`after close: ${after.rss.toFixed(1)} MB, ${after.udp} UDP sockets, ${after.fds} fds`);
    return {
      sessions,
      seconds,
      rssMb: { idle: idle.rss, steady, end, afterClose: after.rss },
      rssGrowth: (end - steady) / steady,
      udpSockets: { idle: idle.udp, during, afterClose: after.udp },
      fds: { idle: idle.fds, afterClose: after.fds },
      echoPacketsPerSession: echoPackets,
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.stop();
  }
}

if (import.meta.main) {
  const { values } = await import("node:util").then(({ parseArgs }) =>
    parseArgs({ options: { sessions: { type: "string", default: "20" }, seconds: { type: "string", default: "600" } } })
  );
  const report = await runSoak({ sessions: Number(values.sessions), seconds: Number(values.seconds), log: console.log });
  console.log(JSON.stringify(report));
}
