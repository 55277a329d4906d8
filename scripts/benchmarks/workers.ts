/**
 * Workers against one process, on the whole machine: the sessions sweep (sessionsPerCore.ts) against the binary with
 * each worker count in turn, the server free to use every core and the load client pinned to the last one, so the
 * client's own CPU is reported beside each result: on a 2-core machine it competes with the server for a core.
 */
import { ALL_CORES, type BenchServer, rssMb, startServer } from "./servers.ts";
import { sweepSessions, type SweepResult } from "./sessionsPerCore.ts";

export interface WorkersRow {
  workers: number;
  /** The largest step every window of which stayed under 1 % late or missing. */
  sessions: number;
  /** Server CPU (all its processes, in cores x 100 %) and the load client's, at that step. */
  serverCpuPct: number;
  clientCpuPct: number;
  idleRssMb: number;
  rssPerSessionMb: number;
  /** Sessions per machine against one process's. */
  ratio: number;
  sweep: SweepResult;
}

export interface WorkersOptions {
  counts: number[];
  steps: number[];
  log: (line: string) => void;
  /** Passed through to each sweep (its windows, settling time). */
  sweep?: Record<string, unknown>;
}

export async function benchWorkers({ counts, steps, log, sweep }: WorkersOptions): Promise<WorkersRow[]> {
  const rows: WorkersRow[] = [];
  for (const workers of counts) {
    let server: BenchServer | undefined;
    try {
      server = await startServer("smallwebrtc", "binary", [], { SMALLWEBRTC_WORKERS: String(workers) }, ALL_CORES);
      await Bun.sleep(3000); // every worker's codec warm-up
      const idleRssMb = rssMb(server.pid);
      log(`smallwebrtc with ${workers} worker(s), on cores ${ALL_CORES}: idle rss ${idleRssMb.toFixed(0)} MB`);
      const result = await sweepSessions({ ...server, name: "smallwebrtc" }, { steps, log, ...sweep });
      const best = result.steps.find((step) => step.sessions === result.maxSessions);
      rows.push({
        workers,
        sessions: result.maxSessions,
        serverCpuPct: best?.serverCpuPct ?? Number.NaN,
        clientCpuPct: best?.clientCpuPct ?? Number.NaN,
        idleRssMb,
        rssPerSessionMb: result.rssPerSessionMb,
        ratio: Number.NaN,
        sweep: result,
      });
    } finally {
      await server?.stop();
    }
  }
  const single = rows.find((row) => row.workers === 1)?.sessions;
  for (const row of rows) row.ratio = single ? row.sessions / single : Number.NaN;
  return rows;
}
