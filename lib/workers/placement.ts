/**
 * Which worker takes a new session: the least loaded by recent CPU, as LiveKit's agent workers are chosen by their
 * load function. A heartbeat is up to half a second old, so the sessions placed since a worker's last one count at
 * its average cost per session: a burst of offers spreads instead of piling onto the worker that looked idlest.
 */

export interface WorkerLoad {
  index: number;
  /** Share of one core used, from the last heartbeat. */
  load: number;
  sessions: number;
  /** Sessions placed on it since that heartbeat. */
  placedSince: number;
  /** Started and answering heartbeats. */
  available: boolean;
  /** Warmed up; a cold worker's load is its warm-up's, which says nothing about its sessions. */
  warm: boolean;
}

/** What a session is assumed to cost before a worker has any to average over. */
const FIRST_SESSION_LOAD = 0.01;

export function expectedLoad(worker: WorkerLoad): number {
  const perSession = worker.sessions > 0 ? worker.load / worker.sessions : FIRST_SESSION_LOAD;
  return worker.load + worker.placedSince * Math.max(perSession, FIRST_SESSION_LOAD);
}

/**
 * The worker for the next session, or undefined when every available one is above `maxLoad` (or none is). Cold
 * workers (just started, or just replaced) count by their sessions alone, and only when no warm one can take it.
 */
export function chooseWorker(workers: readonly WorkerLoad[], maxLoad: number): WorkerLoad | undefined {
  const available = workers.filter((worker) => worker.available);
  const warm = available.filter((worker) => worker.warm);
  return leastLoaded(warm, maxLoad) ??
    leastLoaded(available.filter((worker) => !worker.warm).map((worker) => ({ ...worker, load: 0 })), maxLoad);
}

function leastLoaded(workers: readonly WorkerLoad[], maxLoad: number): WorkerLoad | undefined {
  let best: WorkerLoad | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  for (const worker of workers) {
    const load = expectedLoad(worker);
    if (load > maxLoad) continue;
    if (load < bestLoad || (load === bestLoad && best && worker.sessions < best.sessions)) {
      best = worker;
      bestLoad = load;
    }
  }
  return best;
}
