/**
 * PipelineRunner: runs a task to completion and, like Pipecat's, cancels it on SIGINT/SIGTERM. One process-wide
 * signal listener serves every running task, so hundreds of sessions do not mean hundreds of listeners.
 */
import process from "node:process";
import type { PipelineTask } from "./pipelineTask.ts";

const running = new Set<PipelineTask>();
let listening = false;

function cancelAll(): void {
  for (const task of running) void task.cancel("signal");
}

function listenForSignals(): void {
  if (listening) return;
  listening = true;
  process.on("SIGINT", cancelAll);
  process.on("SIGTERM", cancelAll);
}

export class PipelineRunner {
  readonly #handleSignals: boolean;

  constructor(options: { handleSignals?: boolean } = {}) {
    this.#handleSignals = options.handleSignals ?? true;
  }

  async run(task: PipelineTask): Promise<"ended" | "cancelled"> {
    if (this.#handleSignals) listenForSignals();
    running.add(task);
    try {
      return await task.run();
    } finally {
      running.delete(task);
    }
  }
}
