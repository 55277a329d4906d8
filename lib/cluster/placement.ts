/**
 * Which instance takes a new session when this one is above limits.workerLoad: the least loaded of the others that
 * are below it, as of their last heartbeat; none, and the session stays here.
 */
import type { InstanceEntry } from "./registry.ts";

export function choosePeer(peers: readonly InstanceEntry[], maxLoad: number): InstanceEntry | undefined {
  const below = peers.filter((peer) => peer.load <= maxLoad);
  if (below.length === 0) return undefined;
  return below.reduce((best, peer) => (peer.load < best.load ? peer : best));
}
