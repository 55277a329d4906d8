/**
 * Three instances behind one URL, coordinated through a real redis-server (cluster.redisUrl), each in its own
 * process on 127.0.0.1: a `/start` on one and its offer on another, trickle, re-offers and restarts that land on an
 * instance that does not hold the session and are forwarded to the one that does (one hop at most), new offers
 * placed away from a busy instance, a killed instance whose sessions leave the registry, and a Redis that goes away
 * and comes back.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { loadPackets } from "../../scripts/benchmarks/loadStream.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { freePort, type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient, withoutCandidates } from "../../scripts/support/weriftClient.ts";
import { RedisClient } from "../../lib/cluster/redisClient.ts";
import { parseRedisUrl } from "../../lib/cluster/redisUrl.ts";
import { eventually } from "../support/eventually.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

const BUN = join(repoRoot, "node_modules/.bin/bun");
const MAIN = join(repoRoot, "main.ts");
const HEARTBEAT_SECS = 1;
const FORWARDED_BY = "X-SmallWebRTC-Forwarded-By";
/** A trickled candidate for PATCH requests: its content does not matter to routing. */
const CANDIDATE = { candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", sdp_mid: "0", sdp_mline_index: 0 };

interface Instance {
  id: string;
  url: string;
  process: ServerProcess;
}

const cleanups: (() => unknown)[] = [];
let streaming = false;
afterEach(async () => {
  streaming = false;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisServer(): Promise<TestRedis> {
  const redis = await startRedis();
  cleanups.push(() => redis.kill());
  return redis;
}

/** A client of the test's own on the registry, to read what the instances wrote. */
async function registryReader(redis: TestRedis): Promise<RedisClient> {
  const client = new RedisClient({ address: parseRedisUrl(redis.url), minBackoffMs: 20, maxBackoffMs: 200 });
  cleanups.push(() => client.close());
  expect(await client.start()).toBe(true);
  return client;
}

type Runtime = keyof typeof SOURCE_COMMANDS;

async function instance(
  redis: TestRedis,
  id: string,
  args: string[] = [],
  env: Record<string, string> = {},
  runtime: Runtime = "bun",
): Promise<Instance> {
  const port = await freePort();
  const process = await startServerProcess({
    command: runtime === "bun" ? [BUN, MAIN] : SOURCE_COMMANDS.deno,
    args: ["--port", String(port), "--workers", "1", "--redis-url", redis.url, "--advertise-url", `http://127.0.0.1:${port}`,
      "--instance-id", id, ...args],
    // workerLoad 1 unless a test sets it: an instance still warming its codecs up may pass 0.75 of a core, and its
    // offers would then be placed elsewhere, where the tests of routing expect them to stay.
    env: { SMALLWEBRTC_CLUSTER_HEARTBEAT_SECS: String(HEARTBEAT_SECS), SMALLWEBRTC_LIMITS_WORKER_LOAD: "1", ...env },
  });
  // Deno runs under its task runner, which passes SIGTERM on to the server but would leave it behind on SIGKILL.
  cleanups.push(() => process.stop(runtime === "bun" ? "SIGKILL" : "SIGTERM"));
  return { id, url: process.url, process };
}

/** An instance's load as its last heartbeat wrote it. */
async function registeredLoad(reader: RedisClient, id: string): Promise<number> {
  return JSON.parse(await reader.command(["GET", `smallwebrtc:instance:${id}`]) as string).load;
}

/**
 * Three instances on one Redis, once each knows the two others and all are at rest: one still warming up (Deno
 * compiles for seconds, on more than one thread) may pass limits.workerLoad, and its offers would then be placed
 * elsewhere, where the tests of routing expect them to stay. `runtimes` by instance, Bun unless given.
 */
async function cluster(
  redis: TestRedis,
  args: string[] = [],
  env: Record<string, string> = {},
  runtimes: Partial<Record<string, Runtime>> = {},
): Promise<Instance[]> {
  const ids = ["a", "b", "c"];
  const instances = await Promise.all(ids.map((id) => instance(redis, id, args, env, runtimes[id])));
  const reader = await registryReader(redis);
  await eventually(async () => (await reader.command(["SMEMBERS", "smallwebrtc:instances"]) as string[]).length === 3,
    10_000, "three instances registered");
  await eventually(async () => (await Promise.all(ids.map((id) => registeredLoad(reader, id)))).every((load) => load < 0.2),
    30_000, "every instance at rest");
  return instances;
}

async function request(base: string, path: string, body?: unknown, method = "POST", headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type"), body: text ? JSON.parse(text) : undefined };
}

function newClient(): TestClient {
  const client = new TestClient();
  cleanups.push(() => client.close());
  return client;
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((line) => line.startsWith(name));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

async function stream(client: TestClient): Promise<void> {
  const packets = await loadPackets();
  streaming = true;
  void client.streamPackets(packets, () => !streaming);
}

/** Echoed audio keeps arriving: `count` more packets after now. */
async function hearsEcho(client: TestClient, count = 25, timeoutMs = 10_000): Promise<void> {
  const before = client.audioIn.length;
  await eventually(() => client.audioIn.length >= before + count, timeoutMs, "echoed audio");
}

/** A call placed through `offerAt` (the /start flow when sessionPath is given), connected, with its echo heard. */
async function call(offerAt: string, path = "/api/offer"): Promise<{ client: TestClient; pcId: string }> {
  const client = newClient();
  const answer = await request(offerAt, path, await client.offer());
  expect(answer.status).toBe(200);
  await client.accept(answer.body);
  await client.channelOpen();
  return { client, pcId: answer.body.pc_id };
}

describe("cluster", () => {
  test("/start on A, the offer on B (under Deno), trickle sent to C reaches B, re-offer and restart_pc sent to A reach B", async () => {
    const redis = await redisServer();
    // B, which holds the session and answers what the others forward, runs under Deno: the Redis client, the
    // registry and the routing are the same code on both runtimes.
    const [a, b, c] = await cluster(redis, [], {}, { b: "deno" });
    const reader = await registryReader(redis);

    const started = await request(a.url, "/start", { body: { user: "ann" } });
    expect(started.status).toBe(200);
    const sessionPath = `/sessions/${started.body.sessionId}/api/offer`;

    // The offer carries no candidates: they come by PATCH, sent to C, which does not hold the connection.
    const client = newClient();
    const { sdp, candidates } = withoutCandidates((await client.offer()).sdp);
    expect(candidates.length).toBeGreaterThan(0);
    const answer = await request(b.url, sessionPath, { sdp, type: "offer" });
    expect(answer.status).toBe(200);
    const pcId = answer.body.pc_id as string;
    expect(await reader.command(["GET", `smallwebrtc:pc:${pcId}`])).toBe("b");
    await client.accept(answer.body);
    const patch = await request(c.url, sessionPath, { pc_id: pcId, candidates }, "PATCH");
    expect(patch).toEqual({ status: 200, type: "application/json", body: { status: "success" } });
    expect(await metric(c.url, 'smallwebrtc_cluster_forwarded_total{kind="patch",result="answered"}')).toBe(1);
    await client.channelOpen();
    await stream(client);
    await hearsEcho(client);

    // B holds the session; A and C hold none.
    for (const [instance, sessions] of [[a, 0], [b, 1], [c, 0]] as const) {
      expect((await request(instance.url, "/status", undefined, "GET")).body.sessions).toBe(sessions);
    }
    // Anything else under the session is answered by its owner, through whichever instance it reaches.
    expect(await request(c.url, `/sessions/${started.body.sessionId}/anything`, { x: 1 })).toMatchObject({ status: 200, body: {} });
    expect(await metric(c.url, 'smallwebrtc_cluster_forwarded_total{kind="session",result="answered"}')).toBe(1);

    // A re-offer sent to A renegotiates on B: same pc_id, still one session.
    const reoffer = await request(a.url, "/api/offer", { ...(await client.offer()), pc_id: pcId });
    expect(reoffer.status).toBe(200);
    expect(reoffer.body.pc_id).toBe(pcId);
    await client.accept(reoffer.body);
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="reoffer",result="answered"}')).toBe(1);

    // restart_pc sent to A: a new connection on B, which the client reaches and hears its echo on.
    streaming = false;
    const restarted = newClient();
    const restart = await request(a.url, sessionPath, { ...(await restarted.offer()), pc_id: pcId, restart_pc: true });
    expect(restart.status).toBe(200);
    await restarted.accept(restart.body);
    await restarted.channelOpen();
    expect(await reader.command(["GET", `smallwebrtc:pc:${restart.body.pc_id}`])).toBe("b");
    await stream(restarted);
    await hearsEcho(restarted);
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="reoffer",result="answered"}')).toBe(2);
  }, 90_000);

  test("one hop at most: a request marked as forwarded is answered where it lands", async () => {
    const redis = await redisServer();
    const [a, b] = await cluster(redis);
    const { pcId } = await call(a.url);
    const body = { pc_id: pcId, candidates: [CANDIDATE] };
    // Unmarked, B forwards it to A (the positive control); marked, B answers itself: it does not hold the session.
    expect((await request(b.url, "/api/offer", body, "PATCH")).status).toBe(200);
    const marked = await request(b.url, "/api/offer", body, "PATCH", { [FORWARDED_BY]: "c" });
    expect(marked.status).toBe(404);
    expect(marked.body.detail).toContain("not found");
    expect(await metric(b.url, 'smallwebrtc_cluster_forwarded_total{kind="patch",result="answered"}')).toBe(1);
  }, 60_000);

  test("a forwarded offer is rate limited where it landed, not again by its owner", async () => {
    const redis = await redisServer();
    const [a, b] = await cluster(redis, [], { SMALLWEBRTC_LIMITS_OFFERS_PER_MINUTE: "3" });
    const { pcId } = await call(b.url);
    // Every request comes from 127.0.0.1: B has counted one offer, A none. Three re-offers through A are A's three;
    // had B counted them as well, the third would be its fourth.
    for (let i = 0; i < 3; i++) {
      const reoffer = await request(a.url, "/api/offer", { ...(await newClient().offer()), pc_id: pcId });
      expect(reoffer.status).toBe(200);
    }
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="reoffer",result="answered"}')).toBe(3);
    expect((await request(a.url, "/api/offer", { ...(await newClient().offer()), pc_id: pcId })).status).toBe(429);
    // A client cannot pass for an instance, not even by naming a live one: only an instance's peer key, which lives
    // in Redis alone, marks a forwarded request.
    const spoofed = [];
    for (let i = 0; i < 3; i++) {
      spoofed.push((await request(b.url, "/api/offer", { ...(await newClient().offer()), pc_id: pcId }, "POST", {
        [FORWARDED_BY]: "a",
      })).status);
    }
    expect(spoofed).toEqual([200, 200, 429]);
  }, 60_000);

  test("with workers, the sessions on an instance's workers are registered and reached through another instance", async () => {
    const redis = await redisServer();
    const reader = await registryReader(redis);
    const a = await instance(redis, "a", ["--workers", "2"]);
    const b = await instance(redis, "b");
    // Both of A's workers warm and idle (as the workers tests wait), so its two calls go one to each.
    type WorkerStatus = { warm: boolean; load: number; sessions: number };
    const workers = async () => (await request(a.url, "/status", undefined, "GET")).body.workers as WorkerStatus[];
    const atRest = async () => (await workers()).every((worker) => worker.warm && worker.load < 0.1);
    await eventually(atRest, 30_000, "both of A's workers at rest");
    const calls = [await call(a.url)];
    await eventually(atRest, 30_000, "both of A's workers at rest again");
    calls.push(await call(a.url));
    const status = (await request(a.url, "/status", undefined, "GET")).body;
    expect(status.workers.map((worker: { sessions: number }) => worker.sessions)).toEqual([1, 1]);
    for (const { client, pcId } of calls) {
      expect(await reader.command(["GET", `smallwebrtc:pc:${pcId}`])).toBe("a");
      const reoffer = await request(b.url, "/api/offer", { ...(await client.offer()), pc_id: pcId });
      expect(reoffer.status).toBe(200);
      await client.accept(reoffer.body);
    }
    await stream(calls[1].client);
    await hearsEcho(calls[1].client);
    expect(await metric(b.url, 'smallwebrtc_cluster_forwarded_total{kind="reoffer",result="answered"}')).toBe(2);
  }, 90_000);

  test("a new offer to an instance above limits.workerLoad goes to the least loaded other instance", async () => {
    const redis = await redisServer();
    const reader = await registryReader(redis);
    const bot = join(repoRoot, "test/fixtures/cluster/busyBot.ts");
    const [a, b, c] = await cluster(redis, ["--bot", bot], { SMALLWEBRTC_LIMITS_WORKER_LOAD: "0.3" });
    const load = (id: string) => registeredLoad(reader, id);

    // Below its limit, A takes an offer itself (the control).
    const first = await call(a.url);
    expect(await reader.command(["GET", `smallwebrtc:pc:${first.pcId}`])).toBe("a");
    first.client.send({ burn: true });
    await eventually(async () => (await load("a")) > 0.3, 10_000, "A above limits.workerLoad");

    const placed = await call(a.url);
    const owner = await reader.command(["GET", `smallwebrtc:pc:${placed.pcId}`]);
    expect(["b", "c"]).toContain(owner as string);
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="offer",result="answered"}')).toBe(1);
    await stream(placed.client);
    await hearsEcho(placed.client);
    const holder = owner === "b" ? b : c;
    expect((await request(holder.url, "/status", undefined, "GET")).body.sessions).toBe(1);
  }, 90_000);

  test("a killed instance's entries expire within three heartbeats; then its sessions are a quick 404", async () => {
    const redis = await redisServer();
    const [a, b] = await cluster(redis);
    const reader = await registryReader(redis);
    const gone = await call(b.url);
    const kept = await call(a.url);
    await stream(kept.client);
    await hearsEcho(kept.client);
    expect(await reader.command(["GET", `smallwebrtc:pc:${gone.pcId}`])).toBe("b");

    await b.process.stop("SIGKILL");
    // Three heartbeats, plus one for the reads and a loaded machine.
    await eventually(async () =>
      await reader.command(["GET", `smallwebrtc:pc:${gone.pcId}`]) === null &&
      await reader.command(["GET", "smallwebrtc:instance:b"]) === null, HEARTBEAT_SECS * 3000 + 1000, "B's entries expired");

    const asked = performance.now();
    const patch = await request(a.url, "/api/offer", { pc_id: gone.pcId, candidates: [CANDIDATE] }, "PATCH");
    expect(patch.status).toBe(404);
    expect(performance.now() - asked).toBeLessThan(1000);
    // A's own call never noticed.
    await hearsEcho(kept.client);
  }, 60_000);

  test("an owner that is gone gives a quick JSON 502, one that does not answer a JSON 504 in bounded time", async () => {
    const redis = await redisServer();
    const [a, b, c] = await cluster(redis);
    const onB = await call(b.url);
    const onC = await call(c.url);
    const patchOf = (pcId: string) => ({ pc_id: pcId, candidates: [CANDIDATE] });
    expect((await request(a.url, "/api/offer", patchOf(onC.pcId), "PATCH")).status).toBe(200);

    // Killed, its entries still there for up to three heartbeats: nothing listens at its URL any more.
    await c.process.stop("SIGKILL");
    const refused = await request(a.url, "/api/offer", patchOf(onC.pcId), "PATCH");
    expect(refused.status).toBe(502);
    expect(refused.body.detail).toStartWith("instance c, which holds this session, is unreachable");
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="patch",result="unreachable"}')).toBe(1);

    // Stopped (SIGSTOP): it accepts the connection (the kernel does) but never answers.
    const owner = b.process.process;
    process.kill(owner.pid, "SIGSTOP");
    cleanups.push(() => owner.exitCode === null && owner.signalCode === null && process.kill(owner.pid, "SIGCONT"));
    const asked = performance.now();
    const hung = await request(a.url, "/api/offer", patchOf(onB.pcId), "PATCH");
    const waited = performance.now() - asked;
    expect(hung.status).toBe(504);
    expect(hung.type).toContain("application/json");
    expect(hung.body.detail).toBe("instance b, which holds this session, did not answer within 5 s");
    expect(waited).toBeGreaterThanOrEqual(4900);
    expect(waited).toBeLessThan(8000);
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="patch",result="timeout"}')).toBe(1);
  }, 60_000);

  test("Redis down: calls go on, new calls connect locally, /health is degraded; back up: ok, and the registry is rewritten", async () => {
    const redis = await redisServer();
    const [a, b] = await cluster(redis);
    const before = await call(a.url);
    await stream(before.client);
    await hearsEcho(before.client);
    expect((await request(a.url, "/health", undefined, "GET")).body).toEqual({ status: "ok" });
    expect(await metric(a.url, "smallwebrtc_cluster_redis_connected")).toBe(1);
    // A /start on A whose offer comes only after Redis restarted empty.
    const waiting = (await request(a.url, "/start", {})).body.sessionId as string;

    await redis.kill();
    for (const instance of [a, b]) {
      await eventually(async () => (await request(instance.url, "/health", undefined, "GET")).body.status === "degraded",
        5000, `${instance.id} degraded`);
    }
    const health = await request(a.url, "/health", undefined, "GET");
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "degraded", reason: "redis unreachable; serving alone" });
    expect(await metric(a.url, "smallwebrtc_cluster_redis_connected")).toBe(0);
    await hearsEcho(before.client);
    const during = await call(b.url);
    const started = await request(b.url, "/start", {});
    // The /start session made on B, its offer landing on A: A does not hold it, so it asks the instances it knew.
    const viaStart = await call(a.url, `/sessions/${started.body.sessionId}/api/offer`);
    // Trickle for calls held elsewhere is found the same way; a connection nobody holds is still a 404, and no
    // instance made one for it.
    expect((await request(a.url, "/api/offer", { pc_id: during.pcId, candidates: [CANDIDATE] }, "PATCH")).status).toBe(200);
    expect((await request(b.url, "/api/offer", { pc_id: before.pcId, candidates: [CANDIDATE] }, "PATCH")).status).toBe(200);
    expect((await request(b.url, "/api/offer", { pc_id: "nobody-holds-this", candidates: [CANDIDATE] }, "PATCH")).status)
      .toBe(404);
    expect(await metric(a.url, 'smallwebrtc_cluster_forwarded_total{kind="search",result="answered"}')).toBe(2);
    expect(await metric(b.url, 'smallwebrtc_cluster_forwarded_total{kind="search",result="answered"}')).toBe(1);
    streaming = false;
    await stream(during.client);
    await hearsEcho(during.client);

    await redis.restart();
    const reader = await registryReader(redis);
    for (const instance of [a, b]) {
      await eventually(async () => (await request(instance.url, "/health", undefined, "GET")).body.status === "ok",
        10_000, `${instance.id} ok again`);
    }
    await eventually(async () =>
      await reader.command(["GET", `smallwebrtc:pc:${before.pcId}`]) === "a" &&
      await reader.command(["GET", `smallwebrtc:pc:${during.pcId}`]) === "b" &&
      await reader.command(["GET", `smallwebrtc:pc:${viaStart.pcId}`]) === "b" &&
      (await reader.command(["SMEMBERS", "smallwebrtc:instances"]) as string[]).length >= 2, 10_000, "registry rewritten");
    // A wrote the waiting /start record again (for the time it has left), so its offer is taken on B.
    await eventually(async () => await reader.command(["GET", `smallwebrtc:start:${waiting}`]) !== null, 5000,
      "the waiting /start record rewritten");
    await call(b.url, `/sessions/${waiting}/api/offer`);
    // The log says it once each way.
    expect(a.process.output().match(/redis unreachable/g)).toHaveLength(1);
    expect(a.process.output().match(/redis reachable again/g)).toHaveLength(1);
    // And forwarding works again: the call made while Redis was down is reached through A.
    expect((await request(a.url, "/api/offer", { pc_id: during.pcId, candidates: [CANDIDATE] }, "PATCH")).status).toBe(200);
  }, 90_000);

  test("bad cluster config stops start-up with one line", async () => {
    const redis = await redisServer();
    for (const [args, line] of [
      [["--redis-url", redis.url], "cluster.advertiseUrl from defaults: is required with cluster.redisUrl"],
      [["--redis-url", "redis://127.0.0.1:1/x", "--advertise-url", "http://127.0.0.1:1"], 'cluster.redisUrl: database "x" is not a number'],
    ] as const) {
      const error = await startServerProcess({ command: [BUN, MAIN], args: ["--workers", "1", ...args], timeoutMs: 20_000 })
        .catch((error: Error) => error);
      expect(String(error)).toContain(line);
    }
  }, 60_000);
});
