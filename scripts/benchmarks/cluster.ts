/**
 * The cost of forwarding between instances (cluster.redisUrl): two instances of the binary on one real redis-server,
 * one call held by A, and the same request sent to A directly and to B, which forwards it to A, taking turns so that a
 * slow moment of the machine does not land on one side alone. Measured: a trickle PATCH (one candidate) and a
 * re-offer of the connected call (renegotiation, answered by A after B forwarded it), request to answer.
 */
import { startRedis } from "../../test/support/redis.ts";
import { TestClient } from "../support/weriftClient.ts";
import { percentile } from "./loadStream.ts";
import { startServer } from "./servers.ts";
import { freePort } from "../support/serverProcess.ts";

export interface ForwardCost {
  request: "patch" | "offer";
  directMs: { p50: number; p95: number };
  forwardedMs: { p50: number; p95: number };
  /** forwarded p50 - direct p50. */
  extraP50Ms: number;
  ratioP50: number;
  rounds: number;
}

export async function benchCluster(options: { rounds: number; offerRounds: number; log: (line: string) => void }): Promise<ForwardCost[]> {
  const redis = await startRedis();
  const ports = [await freePort(), await freePort()];
  const servers = [];
  try {
    for (const [i, port] of ports.entries()) {
      servers.push(await startServer("smallwebrtc", "binary", [
        "--port", String(port), "--redis-url", redis.url, "--advertise-url", `http://127.0.0.1:${port}`,
        "--instance-id", i === 0 ? "a" : "b",
      ]));
    }
    const [a, b] = servers;
    options.log("cluster: two instances up; connecting one call to A");
    const client = new TestClient();
    try {
      const answer = await post(a.url, "POST", await client.offer());
      await client.accept(answer.body as { sdp: string });
      await client.channelOpen();
      const pcId = (answer.body as { pc_id: string }).pc_id;
      const candidate = { candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", sdp_mid: "0", sdp_mline_index: 0 };
      const patch = (url: string) => post(url, "PATCH", { pc_id: pcId, candidates: [candidate] }).then((r) => r.ms);
      const reoffer = async (url: string) => {
        const { ms, body } = await post(url, "POST", { ...(await client.offer()), pc_id: pcId });
        await client.accept(body as { sdp: string });
        return ms;
      };
      // Warm both paths (connections, JIT) before the clock counts.
      for (let i = 0; i < 5; i++) await Promise.all([patch(a.url), patch(b.url)].map((p) => p.catch(() => 0)));
      return [
        await compare("patch", options.rounds, () => patch(a.url), () => patch(b.url)),
        await compare("offer", options.offerRounds, () => reoffer(a.url), () => reoffer(b.url)),
      ];
    } finally {
      await client.close();
    }
  } finally {
    for (const server of servers) await server.stop();
    await redis.kill();
  }
}

async function compare(
  request: ForwardCost["request"],
  rounds: number,
  direct: () => Promise<number>,
  forwarded: () => Promise<number>,
): Promise<ForwardCost> {
  const times = { direct: [] as number[], forwarded: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    // Taking turns, and swapping who goes first, so neither side always follows the other.
    if (round % 2 === 0) {
      times.direct.push(await direct());
      times.forwarded.push(await forwarded());
    } else {
      times.forwarded.push(await forwarded());
      times.direct.push(await direct());
    }
  }
  const directMs = { p50: percentile(times.direct, 50), p95: percentile(times.direct, 95) };
  const forwardedMs = { p50: percentile(times.forwarded, 50), p95: percentile(times.forwarded, 95) };
  return {
    request,
    directMs,
    forwardedMs,
    extraP50Ms: forwardedMs.p50 - directMs.p50,
    ratioP50: forwardedMs.p50 / directMs.p50,
    rounds,
  };
}

async function post(url: string, method: string, body: unknown): Promise<{ ms: number; body: unknown }> {
  const start = performance.now();
  const response = await fetch(`${url}/api/offer`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  const ms = performance.now() - start;
  if (!response.ok) throw new Error(`${method} /api/offer: ${response.status} ${JSON.stringify(answer)}`);
  return { ms, body: answer };
}
