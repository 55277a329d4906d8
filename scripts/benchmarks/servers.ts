/**
 * The two servers a benchmark compares, each started pinned to core 0 (`taskset -c 0`) while the load client runs
 * on core 1: smallwebrtc as users run it, the single binary (dist/smallwebrtc-linux-x64, which scripts/bench builds
 * first; echo bot), and the aiortc reference (aiortc_echo_server.py). Both speak the same POST /api/offer and
 * GET /status, so the same load client drives either.
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { spawn, type Subprocess } from "bun";
import { freePort, SOURCE_COMMANDS, startServerProcess } from "../support/serverProcess.ts";
import { repoRoot } from "../support/paths.ts";
import type { TestClient } from "../support/weriftClient.ts";

export type ServerName = "smallwebrtc" | "aiortc";

/** The ways smallwebrtc is run: the single binary (what every benchmark but runtimes measures), or from source. */
export const SMALLWEBRTC_RUNS = {
  binary: [join(repoRoot, "dist/smallwebrtc-linux-x64")],
  ...SOURCE_COMMANDS,
} as const;

export type SmallWebRTCRun = keyof typeof SMALLWEBRTC_RUNS;

export interface BenchServer {
  name: ServerName;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const SERVER_CORE = "0";
/** Kernel clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = 100;

/**
 * Limits opened up so the load, all from 127.0.0.1, is never refused; one process, as the per-core figures need
 * (the workers benchmark sets its own count).
 */
const OPEN_LIMITS = {
  SMALLWEBRTC_LIMITS_OFFERS_PER_MINUTE: "100000",
  SMALLWEBRTC_LIMITS_MAX_SESSIONS: "1000",
  SMALLWEBRTC_LOG_LEVEL: "warn",
  SMALLWEBRTC_WORKERS: "1",
};

/** `args` and `env` go to smallwebrtc (`--bot ...`, SMALLWEBRTC_*); the aiortc reference takes neither. */
export async function startServer(
  name: ServerName,
  run: SmallWebRTCRun = "binary",
  args: string[] = [],
  env: Record<string, string> = {},
  cores = SERVER_CORE,
): Promise<BenchServer> {
  return name === "smallwebrtc" ? await startOurs(run, args, env, cores) : await startAiortc();
}

/**
 * Every core of the machine, for a server with workers (the load client shares one of them). Counted with os.cpus():
 * availableParallelism() counts only the cores this pinned process may use.
 */
export const ALL_CORES = `0-${cpus().length - 1}`;

/** `pid` is the command's process (the task runner under `deno task`): CPU and RSS are read over its whole tree. */
async function startOurs(run: SmallWebRTCRun, args: string[], env: Record<string, string>, cores: string): Promise<BenchServer> {
  const command = ["taskset", "-c", cores, ...SMALLWEBRTC_RUNS[run]];
  const server = await startServerProcess({ command, args, env: { ...OPEN_LIMITS, ...env } });
  return { name: "smallwebrtc", url: server.url, pid: server.process.pid, stop: async () => void (await server.stop()) };
}

async function startAiortc(): Promise<BenchServer> {
  const port = await freePort();
  const script = join(import.meta.dirname, "aiortc_echo_server.py");
  const child = spawn(["taskset", "-c", SERVER_CORE, "/usr/bin/python3", script, String(port)], { stdout: "pipe", stderr: "inherit" });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await waitForLine(child, `listening on ${port}`).finally(() => clearTimeout(timeout));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}/status`).then((r) => r.ok, () => false)) break;
    await Bun.sleep(50);
  }
  return {
    name: "aiortc",
    url,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}

async function waitForLine(child: Subprocess<"ignore", "pipe", "inherit">, line: string): Promise<void> {
  const decoder = new TextDecoder();
  let output = "";
  for await (const chunk of child.stdout) {
    output += decoder.decode(chunk, { stream: true });
    if (output.includes(line)) return;
  }
  throw new Error(`the aiortc reference exited before listening: ${output}`);
}

/** The process and all its descendants (a server's workers; the server under `deno task`), while they live. */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    children = tasks.flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  } catch {
    return [];
  }
  return [pid, ...children.flatMap(processTree)];
}

/** CPU seconds (user + system, every thread) the process and its descendants have used so far. */
export function cpuSeconds(pid: number): number {
  return sum(processTree(pid).map((each) => {
    try {
      const stat = readFileSync(`/proc/${each}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return 0; // it exited between the listing and the read
    }
  }));
}

/** Resident memory of the process and its descendants. */
export function rssMb(pid: number): number {
  return sum(processTree(pid).map((each) => {
    try {
      const line = readFileSync(`/proc/${each}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
      return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  }));
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** How long a client keeps retrying a 503 with Retry-After (every worker busy) before it gives up. */
const BUSY_RETRY_MS = 60_000;

/**
 * Connects `client` through POST /api/offer, as the official client does, and waits for its data channel. A 503 with
 * Retry-After (every worker above limits.workerLoad, as a burst of DTLS handshakes makes them) is retried after it.
 */
export async function connectClient(server: { url: string }, client: TestClient): Promise<void> {
  const body = JSON.stringify(await client.offer());
  const deadline = performance.now() + BUSY_RETRY_MS;
  let response: Response;
  for (;;) {
    response = await fetch(`${server.url}/api/offer`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const retryAfter = Number(response.headers.get("retry-after"));
    if (response.status !== 503 || !retryAfter || performance.now() > deadline) break;
    await response.body?.cancel();
    await Bun.sleep(retryAfter * 1000);
  }
  if (!response.ok) throw new Error(`offer refused: ${response.status} ${await response.text()}`);
  await client.accept(await response.json());
  await client.channelOpen();
}

/** The server's /metrics text, read once for every sample a measurement needs (metricSample). */
export async function scrapeMetrics(server: { url: string }): Promise<string> {
  return await (await fetch(`${server.url}/metrics`)).text();
}

/** A sample of scraped /metrics, summed over its workers (see metricSamples); undefined when it is not there. */
export function metricSample(metrics: string, name: string, labels?: string): number | undefined {
  const samples = metricSamples(metrics, name, labels);
  return samples.length === 0 ? undefined : samples.reduce((sum, value) => sum + value, 0);
}

/**
 * Every sample of `name` whose labels include `labels` (e.g. `direction="in"`), whatever else they carry: a server
 * with workers has one per worker (`worker="0"`, ...). metricSample sums them.
 */
export function metricSamples(metrics: string, name: string, labels?: string): number[] {
  const values: number[] = [];
  for (const line of metrics.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? "").split(",");
    if (labels !== undefined && !labels.split(",").every((label) => present.includes(label))) continue;
    values.push(Number(match[3]));
  }
  return values;
}

export async function openSessions(server: { url: string }): Promise<number> {
  return (await (await fetch(`${server.url}/status`)).json()).sessions;
}

/** Waits until the server reports no sessions (closed clients are noticed through liveness); false on timeout. */
export async function drained(server: { url: string }, timeoutMs: number): Promise<boolean> {
  for (const end = performance.now() + timeoutMs; performance.now() < end; await Bun.sleep(250)) {
    if ((await openSessions(server)) === 0) return true;
  }
  return false;
}

/**
 * A helper the load needs (a bot, stand-in services) in a process of its own, pinned to the load client's core:
 * `file` in this directory, run with Bun, which prints "listening on <url>" once it serves.
 */
export async function startSideProcess(
  file: string,
  args: string[] = [],
): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(["taskset", "-c", "1", process.execPath, join(import.meta.dirname, file), ...args], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const decoder = new TextDecoder();
  let output = "";
  for await (const chunk of child.stdout) {
    output += decoder.decode(chunk, { stream: true });
    const url = /listening on (\S+)/.exec(output)?.[1];
    if (url) {
      return {
        url,
        stop: async () => {
          child.kill();
          await child.exited;
        },
      };
    }
  }
  throw new Error(`${file} exited before listening: ${output}`);
}
