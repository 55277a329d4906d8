/** The cluster's /metrics lines: requests forwarded to other instances, and whether Redis is reachable. */
import type { ForwardResult } from "./forwardRequest.ts";

/**
 * What was forwarded: a new offer placed on a less loaded instance, a request for a session held elsewhere, or
 * (search) one whose holder was found by asking every known instance while Redis was unreachable.
 */
export type ForwardKind = "offer" | "reoffer" | "patch" | "session" | "search";

export class ClusterMetrics {
  readonly #forwarded = new Map<string, number>();

  countForward(kind: ForwardKind, result: ForwardResult): void {
    const key = `kind="${kind}",result="${result}"`;
    this.#forwarded.set(key, (this.#forwarded.get(key) ?? 0) + 1);
  }

  render(redisConnected: boolean): string {
    return [
      "# HELP smallwebrtc_cluster_forwarded_total Requests forwarded to another instance, by kind and result.",
      "# TYPE smallwebrtc_cluster_forwarded_total counter",
      ...[...this.#forwarded].map(([labels, count]) => `smallwebrtc_cluster_forwarded_total{${labels}} ${count}`),
      "# HELP smallwebrtc_cluster_redis_connected 1 while the shared Redis is reachable, 0 while serving alone.",
      "# TYPE smallwebrtc_cluster_redis_connected gauge",
      `smallwebrtc_cluster_redis_connected ${redisConnected ? 1 : 0}`,
      "",
    ].join("\n");
  }
}
