/** Which instance a new offer is placed on when the one it landed on is above limits.workerLoad. */
import { describe, expect, test } from "bun:test";
import { choosePeer } from "../../lib/cluster/placement.ts";
import type { InstanceEntry } from "../../lib/cluster/registry.ts";

const entry = (id: string, load: number, sessions: number): InstanceEntry =>
  ({ id, url: `http://${id}`, load, sessions, version: "0", peerKey: id });

describe("choosePeer", () => {
  test("the least loaded instance below the limit, none when every one is above it", () => {
    const peers = [entry("b", 0.5, 10), entry("c", 0.2, 4), entry("d", 0.9, 20)];
    expect(choosePeer(peers, 0.75, () => 0)?.id).toBe("c");
    expect(choosePeer([entry("d", 0.9, 20)], 0.75, () => 0)).toBeUndefined();
  });

  test("a burst between two heartbeats spreads: offers placed since count at the instance's cost per session", () => {
    // c looks idlest, but each session costs 0.05 there: after two offers it is expected at 0.3, as loaded as b.
    const peers = [entry("b", 0.3, 10), entry("c", 0.2, 4)];
    const placed = new Map<string, number>();
    const chosen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const peer = choosePeer(peers, 0.75, (p) => placed.get(p.id) ?? 0)!;
      placed.set(peer.id, (placed.get(peer.id) ?? 0) + 1);
      chosen.push(peer.id);
    }
    expect(chosen.slice(0, 2)).toEqual(["c", "c"]);
    expect(chosen.filter((id) => id === "b").length).toBeGreaterThanOrEqual(2);
    // Placed offers also count against the limit: a peer expected above it takes no more.
    expect(choosePeer([entry("c", 0.7, 7)], 0.75, () => 1)).toBeUndefined();
  });
});
