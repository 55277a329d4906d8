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
}

/** What a session is assumed to cost before a worker has any to average over. */
const FIRST_SESSION_LOAD = 0.01;

export function expectedLoad(worker: WorkerLoad): number {
  const perSession = worker.sessions > 0 ? worker.load / worker.sessions : FIRST_SESSION_LOAD;
  return worker.load + worker.placedSince * Math.max(perSession, FIRST_SESSION_LOAD);
}

/** The worker for the next session, or undefined when every available one is above `maxLoad` (or none is). */
export function chooseWorker(workers: readonly WorkerLoad[], maxLoad: number): WorkerLoad | undefined {
  let best: WorkerLoad | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  for (const worker of workers) {
    if (!worker.available) continue;
    const load = expectedLoad(worker);
    if (load > maxLoad) continue;
    if (load < bestLoad || (load === bestLoad && best && worker.sessions < best.sessions)) {
      best = worker;
      bestLoad = load;
    }
  }
  return best;
}
