/**
 * Which instance takes a new session when this one is above limits.workerLoad: the least loaded of the others that
 * are below it; none, and the session stays here. A peer's load is from its last heartbeat (up to heartbeatSecs
 * old), so the sessions placed on it since count at its cost per session, as workers are chosen: a burst of offers
 * spreads over the peers instead of piling onto the one that looked idlest.
 */
import { expectedLoad } from "../workers/placement.ts";
import type { InstanceEntry } from "./registry.ts";

export function choosePeer(
  peers: readonly InstanceEntry[],
  maxLoad: number,
  placedSince: (peer: InstanceEntry) => number,
): InstanceEntry | undefined {
  const expected = (peer: InstanceEntry) => expectedLoad({ ...peer, placedSince: placedSince(peer) });
  const below = peers.filter((peer) => expected(peer) <= maxLoad);
  if (below.length === 0) return undefined;
  return below.reduce((best, peer) => (expected(peer) < expected(best) ? peer : best));
}
