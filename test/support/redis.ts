/**
 * A real redis-server (Debian's) on a free 127.0.0.1 port, without persistence, for the cluster tests. `restart`
 * brings it back on the same port with an empty data set, as a Redis that was down comes back.
 */
import { freePort } from "../../scripts/support/serverProcess.ts";
import { type Subprocess, spawn } from "bun";
import { eventually } from "./eventually.ts";

export interface TestRedis {
  url: string;
  port: number;
  /** Everything redis-server printed so far. */
  log(): string;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after stop or kill). */
  restart(): Promise<void>;
}

export interface TestRedisOptions {
  /** Sets `requirepass`: clients must AUTH with it. */
  password?: string;
}

export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const port = await freePort();
  let child: Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let output = "";
  const launch = async () => {
    const args = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    if (options.password) args.push("--requirepass", options.password);
    const started = spawn(args, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    child = started;
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
    };
    void collect(started.stdout);
    void collect(started.stderr);
    const mark = output.length;
    await eventually(() => {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}:\n${output}`);
      return output.slice(mark).includes("Ready to accept connections");
    }, 10_000, "redis-server ready");
  };
  const end = async (signal: "SIGTERM" | "SIGKILL") => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await child?.exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    log: () => output,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    restart: async () => {
      await end("SIGKILL");
      await launch();
    },
  };
}
