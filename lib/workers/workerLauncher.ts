/**
 * Starts a worker: this same program again (the binary, `bun main.ts`, `deno run main.ts` or a bot file that calls
 * runMain) with the same arguments and environment, plus the worker's place, and an IPC channel to it. Re-running
 * the entry point is what lets a worker run a bot given to runMain as a function: the function cannot be sent.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { formatWorkerPlace, WORKER_ENV, type WorkerPlace } from "./messages.ts";

/** A Bun binary's entry module lives in its embedded file system; there is no script to name. */
const COMPILED = import.meta.url.startsWith("file:///$bunfs/");

export function launchWorker(place: WorkerPlace, env = process.env): ChildProcess {
  const script = COMPILED ? [] : [process.argv[1]];
  return spawn(process.execPath, [...process.execArgv, ...script, ...process.argv.slice(2)], {
    // stdout and stderr are shared, so a worker's log lines read like the main process's.
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...env, [WORKER_ENV]: formatWorkerPlace(place) },
  });
}

/** Whether this runtime lets the process start others (Deno needs --allow-run). */
export function canLaunchWorkers(): boolean {
  const deno = (globalThis as { Deno?: { permissions: { querySync(d: { name: string }): { state: string } } } }).Deno;
  return !deno || deno.permissions.querySync({ name: "run" }).state === "granted";
}
