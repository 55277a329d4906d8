/**
 * smallwebrtc under each way of running it (the binary, Bun from source, Deno through its task), started afresh
 * several times: start time (the command spawned to the "ready" banner), then, after the codecs' warm-up, connect time
 * (measureConnect's p50 per start). Each figure is given as its range over the starts, so the table says what held in
 * every run, not what the best one did.
 */
import { relative } from "node:path";
import { repoRoot } from "../support/paths.ts";
import { measureConnect } from "./connectTime.ts";
import { SMALLWEBRTC_RUNS, type SmallWebRTCRun, startServer } from "./servers.ts";

export interface Range {
  min: number;
  max: number;
}

export interface RuntimeResult {
  command: string;
  startMs: Range;
  answerP50Ms: Range;
  connectedP50Ms: Range;
}

/** Time the codecs take to warm up after the banner, as a deployed server has had. */
const WARM_UP_MS = 2000;

export async function measureRuntimes(
  options: { starts: number; rounds: number; log: (line: string) => void },
): Promise<Record<SmallWebRTCRun, RuntimeResult>> {
  const results = {} as Record<SmallWebRTCRun, RuntimeResult>;
  for (const run of Object.keys(SMALLWEBRTC_RUNS) as SmallWebRTCRun[]) {
    const starts: number[] = [];
    const answers: number[] = [];
    const connects: number[] = [];
    for (let i = 0; i < options.starts; i++) {
      const spawned = performance.now();
      const server = await startServer("smallwebrtc", run);
      starts.push(performance.now() - spawned);
      try {
        await Bun.sleep(WARM_UP_MS);
        const connect = await measureConnect(server, options.rounds);
        answers.push(connect.answerMs.p50);
        connects.push(connect.connectedMs.p50);
      } finally {
        await server.stop();
      }
      options.log(`${run} start ${i + 1}: ${Math.round(starts.at(-1)!)} ms to listening`);
    }
    results[run] = {
      command: SMALLWEBRTC_RUNS[run].map((word) => (word.startsWith(repoRoot) ? relative(repoRoot, word) : word)).join(" "),
      startMs: range(starts),
      answerP50Ms: range(answers),
      connectedP50Ms: range(connects),
    };
  }
  return results;
}

function range(values: number[]): Range {
  return { min: Math.min(...values), max: Math.max(...values) };
}
