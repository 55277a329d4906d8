/**
 * Which worker takes a new session: the least loaded by recent CPU, as LiveKit's agent workers are chosen by their
 * load function. A heartbeat is up to half a second old, so the sessions placed since a worker's last one count at
 * its average cost per session: a burst of offers spreads instead of piling onto the worker that looked idlest.
 * Between workers whose loads are within SAME_LOAD, the one with fewer sessions wins.
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

/** What a session is assumed to cost before a worker has any to average over (an echo session costs about this). */
const FIRST_SESSION_LOAD = 0.02;
/**
 * Loads closer than this are the same: one half-second reading of an idle worker varies by a few percent, so between
 * near-equal workers the one with fewer sessions wins, and a burst of offers spreads evenly.
 */
const SAME_LOAD = 0.05;

export function expectedLoad(worker: Pick<WorkerLoad, "load" | "sessions" | "placedSince">): number {
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
  const candidates = workers.filter((worker) => expectedLoad(worker) <= maxLoad);
  if (candidates.length === 0) return undefined;
  const lowest = Math.min(...candidates.map(expectedLoad));
  const sessions = (worker: WorkerLoad) => worker.sessions + worker.placedSince;
  return candidates
    .filter((worker) => expectedLoad(worker) <= lowest + SAME_LOAD)
    .reduce((best, worker) => (sessions(worker) < sessions(best) ? worker : best));
}
