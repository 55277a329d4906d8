/**
 * Runs the server as users do, in its own process, and waits until it listens. The port comes from the server
 * itself (`--port 0`), read off its banner, so parallel runs never collide.
 */
import { createServer } from "node:net";
import { type Subprocess, spawn } from "bun";
import { repoRoot } from "./paths.ts";

export interface ServerProcess extends AsyncDisposable {
  url: string;
  process: Subprocess;
  /** Everything the server printed so far, stdout and stderr. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * The commands the README gives for running the server from source, by runtime. Deno's goes through its task, so the
 * task's permission flags are the ones tested; the `--` is how users pass flags through it, and the server's flags
 * follow.
 */
export const SOURCE_COMMANDS = {
  bun: [`${repoRoot}scripts/start`],
  deno: [`${repoRoot}node_modules/.bin/deno`, "task", "start", "--"],
} as const;

export interface ServerProcessOptions {
  /** The command to run; default `SOURCE_COMMANDS.bun`. */
  command?: readonly string[];
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const command = options.command ?? SOURCE_COMMANDS.bun;
  const child = spawn([...command, "--host", "127.0.0.1", "--port", "0", ...(options.args ?? [])], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const ready = Promise.withResolvers<string>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      const match = output.match(/open (http:\/\/[^\s]+?)\/client\//);
      if (match) ready.resolve(match[1]);
    }
  };
  void collect(child.stdout);
  void collect(child.stderr);
  void child.exited.then((code) => ready.reject(new Error(`server exited with ${code} before listening:\n${output}`)));

  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(() => ready.reject(new Error(`server did not listen within ${timeoutMs} ms:\n${output}`)), timeoutMs);
  let url: string;
  try {
    url = await ready.promise;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    clearTimeout(timer);
  }

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null) child.kill(signal);
    return await child.exited;
  };
  return { url, process: child, output: () => output, stop, [Symbol.asyncDispose]: async () => void (await stop()) };
}

/**
 * A TCP port nobody listens on right now, on 127.0.0.1: for a server that must know its port before it starts (one
 * whose URL another process is given, such as a cluster instance's advertiseUrl), where `--port 0` cannot serve.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
