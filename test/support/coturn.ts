/**
 * A real coturn (Debian's `turnserver`) on a host of the test's LAN, in TURN REST mode (`use-auth-secret`, the mode
 * whose credentials `turn.secret` mints), listening on UDP and TCP 3478 and TLS 5349 with a throwaway certificate.
 * Its log goes to stdout, which is kept: the sessions it reports (who allocated, and how many bytes the relay carried
 * to and from peers) are how tests prove that media went through it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { eventually } from "./eventually.ts";
import { type LanHost, sh } from "./lan.ts";

export const TURN_PORT = 3478;
export const TURNS_PORT = 5349;

export interface CoturnOptions {
  /** The host it runs on; it listens and relays on that host's address. */
  host: LanHost;
  /** coturn's `static-auth-secret`. */
  secret: string;
  realm?: string;
}

/** Packet and byte counts as coturn reports them: received from and sent to one side. */
export interface TurnUsage {
  receivedPackets: number;
  receivedBytes: number;
  sentPackets: number;
  sentBytes: number;
}

/** One allocation, from coturn's log. Addresses and usage are only logged when it ends. */
export interface TurnSession {
  id: string;
  username: string;
  /** Set when the client reached coturn over TLS. */
  cipher?: string;
  /** coturn's listening address:port the client used, and the client's address:port. */
  local?: string;
  remote?: string;
  /** Traffic between the client and coturn (TURN messages and ChannelData included). */
  clientUsage?: TurnUsage;
  /** Traffic between the relayed address and the peers: the relayed media. */
  peerUsage?: TurnUsage;
  /**
   * The peers (address:port) the client bound a channel to or created a permission for, in order: the only ones whose
   * packets the relay lets through to it (RFC 8656 §9).
   */
  peers: string[];
  closeReason?: string;
}

export interface Coturn {
  ip: string;
  realm: string;
  secret: string;
  urls: { udp: string; tcp: string; tls: string };
  /** Its TLS certificate (PEM), for clients that verify it. */
  certificate: string;
  /** Everything coturn printed so far. */
  log(): string;
  /** Every allocation coturn logged so far, in order of creation. */
  sessions(): TurnSession[];
  stop(): Promise<void>;
}

/** Starts coturn and resolves once its UDP, TCP and TLS listeners are open. */
export async function startCoturn(options: CoturnOptions): Promise<Coturn> {
  const { host, secret } = options;
  const realm = options.realm ?? "smallwebrtc.test";
  const dir = mkdtempSync(join(tmpdir(), "swrtc-coturn-"));
  const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
  sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
    "-out", cert, "-days", "1", "-subj", `/CN=${host.ip}`, "-addext", `subjectAltName=IP:${host.ip}`]);
  const child: Subprocess<"ignore", "pipe", "pipe"> = spawn(host.command([
    "turnserver", "-n",
    `--listening-ip=${host.ip}`, `--relay-ip=${host.ip}`,
    `--listening-port=${TURN_PORT}`, `--tls-listening-port=${TURNS_PORT}`, `--cert=${cert}`, `--pkey=${key}`,
    "--use-auth-secret", `--static-auth-secret=${secret}`, `--realm=${realm}`,
    // No admin console, no DTLS (no browser uses it), and nothing written outside our directory.
    "--no-cli", "--no-dtls", `--pidfile=${join(dir, "turnserver.pid")}`, `--userdb=${join(dir, "turndb")}`,
    // Verbose: the listeners and every session's start, usage and end are logged.
    "--log-file=stdout", "--simple-log", "--verbose",
  ]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  void collect(child.stdout);
  void collect(child.stderr);

  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await child.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // "IPv4. UDP listener opened on: 10.0.0.2:3478", "IPv4. TLS/TCP listener opened on : 10.0.0.2:5349"
    const listening = (kind: string, port: number) =>
      new RegExp(`${kind} listener opened on ?: ${host.ip}:${port}\n`).test(output);
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`turnserver exited with ${child.exitCode}:\n${output}`);
      return listening("UDP", TURN_PORT) && listening("TLS/TCP", TURN_PORT) && listening("TLS/TCP", TURNS_PORT);
    }, 10_000, "coturn's UDP, TCP and TLS listeners", { pollMs: 50 });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; coturn printed:\n${output}`);
  }
  return {
    ip: host.ip,
    realm,
    secret,
    urls: {
      udp: `turn:${host.ip}:${TURN_PORT}?transport=udp`,
      tcp: `turn:${host.ip}:${TURN_PORT}?transport=tcp`,
      tls: `turns:${host.ip}:${TURNS_PORT}?transport=tcp`,
    },
    certificate: readFileSync(cert, "utf8"),
    log: () => output,
    sessions: () => parseSessions(output),
    stop,
  };
}

/** coturn's session lines, e.g. `session 001000000000000001: peer usage: realm=<r>, username=<u>, rp=0, rb=0, ...`. */
export function parseSessions(log: string): TurnSession[] {
  const sessions = new Map<string, TurnSession>();
  for (const [, id, rest] of log.matchAll(/session (\d+): (.*)/g)) {
    let match: RegExpMatchArray | null;
    if ((match = rest.match(/^new, realm=<[^>]*>, username=<([^>]*)>(?:.*, cipher=([^,\s]+))?/))) {
      sessions.set(id, { id, username: match[1], ...(match[2] ? { cipher: match[2] } : {}), peers: [] });
      continue;
    }
    const session = sessions.get(id);
    if (!session) continue;
    if ((match = rest.match(/^(peer )?usage: .*rp=(\d+), rb=(\d+), sp=(\d+), sb=(\d+)/))) {
      const [receivedPackets, receivedBytes, sentPackets, sentBytes] = match.slice(2).map(Number);
      session[match[1] ? "peerUsage" : "clientUsage"] = { receivedPackets, receivedBytes, sentPackets, sentBytes };
    } else if ((match = rest.match(/^peer (\S+) lifetime updated/))) {
      if (!session.peers.includes(match[1])) session.peers.push(match[1]);
    } else if ((match = rest.match(/^closed \(2nd stage\), .*local (\S+), remote (\S+), reason: (.*)$/))) {
      [session.local, session.remote, session.closeReason] = [match[1], match[2], match[3]];
    }
  }
  return [...sessions.values()];
}
