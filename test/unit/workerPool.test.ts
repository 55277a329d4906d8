/**
 * The worker pool's decisions, with scripted worker processes: placement by load with limits.workerLoad and 503
 * Retry-After, requests routed to the worker that owns a pc_id, the merged /metrics, and what a worker's exit or
 * silence costs. test/integration/workers.test.ts runs real worker processes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { ChildProcess } from "node:child_process";
import { ConfigSchema } from "../../lib/config/schema.ts";
import { silentLogger } from "../../lib/log/logger.ts";
import { Metrics } from "../../lib/server/metrics.ts";
import { SignallingError } from "../../lib/webrtc/errors.ts";
import type { FromWorker, ToWorker } from "../../lib/workers/messages.ts";
import { mergeMetrics } from "../../lib/workers/metricsMerge.ts";
import { chooseWorker, type WorkerLoad } from "../../lib/workers/placement.ts";
import { workerPortRange } from "../../lib/workers/portRanges.ts";
import { WorkerPool, WorkerReportedError } from "../../lib/workers/workerPool.ts";
import { eventually } from "../support/eventually.ts";

/** A worker process that answers as the test scripts it. */
class FakeWorker extends EventEmitter {
  static nextPid = 1000;
  readonly pid = FakeWorker.nextPid++;
  connected = true;
  readonly received: ToWorker[] = [];
  killedWith?: string;
  /** Answers each request; default: an answer with a fresh pc_id. */
  answer: (message: Extract<ToWorker, { type: "request" }>) => FromWorker | undefined = (message) => ({
    type: "reply",
    id: message.id,
    value: message.request.kind === "offer" ? { sdp: "v=0", type: "answer", pc_id: message.request.offer.pcId ?? `pc-${this.pid}-${message.id}` }
      : message.request.kind === "metrics" ? `# HELP smallwebrtc_sessions Open.\n# TYPE smallwebrtc_sessions gauge\nsmallwebrtc_sessions 1\n`
      : null,
  });

  send(message: ToWorker): boolean {
    this.received.push(message);
    if (message.type === "request") {
      const reply = this.answer(message);
      if (reply) queueMicrotask(() => this.emit("message", reply));
    }
    return true;
  }

  say(message: FromWorker): void {
    this.emit("message", message);
  }

  heartbeat(load: number, sessions = 0): void {
    this.say({ type: "heartbeat", load, warm: true, sessions, rssBytes: 1 });
  }

  kill(signal = "SIGTERM"): boolean {
    this.killedWith = signal;
    this.exit(null, signal);
    return true;
  }

  exit(code: number | null, signal: string | null = null): void {
    this.connected = false;
    this.emit("exit", code, signal);
  }
}

const config = (limits: Record<string, unknown> = {}) => ConfigSchema.parse({ limits });
const offer = (pcId?: string) => ({ sdp: "v=0", type: "offer" as const, pcId });
let pools: WorkerPool[] = [];
let fatal = 0;
afterEach(async () => {
  fatal = 0;
  await Promise.all(pools.map((pool) => pool.shutdown(0)));
  pools = [];
});

/** A started pool of `count` fake workers, each ready and warm with no load. */
async function startPool(count = 2, limits: Record<string, unknown> = {}) {
  const launched: FakeWorker[] = [];
  const pool = new WorkerPool({
    config: config(limits),
    count,
    metrics: new Metrics(),
    logger: silentLogger,
    onFatal: () => fatal++,
    launch: () => {
      const worker = new FakeWorker();
      launched.push(worker);
      queueMicrotask(() => {
        worker.say({ type: "ready" });
        worker.heartbeat(0);
      });
      return worker as unknown as ChildProcess;
    },
  });
  pools.push(pool);
  await pool.start();
  return { pool, launched };
}

const worker = (index: number, load: number, extra: Partial<WorkerLoad> = {}): WorkerLoad =>
  ({ index, load, sessions: 0, placedSince: 0, available: true, warm: true, ...extra });

describe("placement", () => {
  test("the least loaded warm worker, counting sessions placed since its heartbeat", () => {
    expect(chooseWorker([worker(0, 0.5), worker(1, 0.2)], 0.75)?.index).toBe(1);
    // Worker 1 ran 0.1 per session; four placed since its heartbeat make it the busier one.
    expect(chooseWorker([worker(0, 0.5), worker(1, 0.2, { sessions: 2, placedSince: 4 })], 0.75)?.index).toBe(0);
  });

  test("near-equal loads (within 0.05 of a core) go by sessions, so a burst on idle workers alternates", () => {
    expect(chooseWorker([worker(0, 0.3, { sessions: 2 }), worker(1, 0.33, { sessions: 1 })], 0.75)?.index).toBe(1);
    expect(chooseWorker([worker(0, 0.3, { sessions: 2 }), worker(1, 0.36, { sessions: 1 })], 0.75)?.index).toBe(0);
    const idle = [worker(0, 0.04), worker(1, 0.001)];
    const placed = Array.from({ length: 6 }, () => {
      const chosen = chooseWorker(idle, 0.75)!;
      chosen.placedSince++;
      return chosen.index;
    });
    expect(placed.toSorted()).toEqual([0, 0, 0, 1, 1, 1]);
  });

  test("none above the limit, none unavailable; a cold worker only when no warm one can take it", () => {
    expect(chooseWorker([worker(0, 0.8), worker(1, 0.9)], 0.75)).toBeUndefined();
    expect(chooseWorker([worker(0, 0.1, { available: false }), worker(1, 0.5)], 0.75)?.index).toBe(1);
    expect(chooseWorker([worker(0, 0.95, { warm: false }), worker(1, 0.5)], 0.75)?.index).toBe(1);
    expect(chooseWorker([worker(0, 0.95, { warm: false }), worker(1, 0.9)], 0.75)?.index).toBe(0);
  });
});

describe("port ranges", () => {
  test("each worker gets its own slice of ice.portRange, the last one the rest", () => {
    expect([0, 1, 2].map((i) => workerPortRange([40000, 40099], i, 3))).toEqual([
      [40000, 40032],
      [40033, 40065],
      [40066, 40099],
    ]);
    expect(workerPortRange([40000, 40099], 0, 1)).toEqual([40000, 40099]);
    expect(workerPortRange(undefined, 1, 4)).toBeUndefined();
    expect(() => workerPortRange([40000, 40004], 0, 4)).toThrow("ice.portRange [40000, 40004] is too small for 4 workers");
  });
});

describe("merged metrics", () => {
  test("every worker's sample gets its worker label, and each family its HELP and TYPE once", () => {
    const worker = (sessions: number) =>
      `# HELP smallwebrtc_sessions Open.\n# TYPE smallwebrtc_sessions gauge\nsmallwebrtc_sessions ${sessions}\n` +
      `# HELP smallwebrtc_bytes_total Bytes.\n# TYPE smallwebrtc_bytes_total counter\nsmallwebrtc_bytes_total{direction="in"} 5\n`;
    const main = "# HELP process_resident_memory_bytes RSS.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 7\n";
    expect(mergeMetrics([{ text: main }, { text: worker(2), label: 'worker="0"' }, { text: worker(3), label: 'worker="1"' }]))
      .toBe([
        "# HELP process_resident_memory_bytes RSS.",
        "# TYPE process_resident_memory_bytes gauge",
        "process_resident_memory_bytes 7",
        "# HELP smallwebrtc_sessions Open.",
        "# TYPE smallwebrtc_sessions gauge",
        'smallwebrtc_sessions{worker="0"} 2',
        'smallwebrtc_sessions{worker="1"} 3',
        "# HELP smallwebrtc_bytes_total Bytes.",
        "# TYPE smallwebrtc_bytes_total counter",
        'smallwebrtc_bytes_total{worker="0",direction="in"} 5',
        'smallwebrtc_bytes_total{worker="1",direction="in"} 5',
        "",
      ].join("\n"));
  });
});

describe("worker pool", () => {
  test("offers spread over idle workers; a pc_id's PATCH and re-offer go to its worker", async () => {
    const { pool, launched } = await startPool();
    const first = await pool.handleOffer(offer());
    const second = await pool.handleOffer(offer());
    expect(first.pc_id).toStartWith(`pc-${launched[0].pid}`);
    expect(second.pc_id).toStartWith(`pc-${launched[1].pid}`);
    expect(pool.size).toBe(2);

    await pool.handlePatch({ pcId: second.pc_id, candidates: [] });
    await pool.handleOffer(offer(second.pc_id));
    const kinds = (fake: FakeWorker) =>
      fake.received.flatMap((message) => message.type === "request" ? [message.request.kind] : []);
    expect(kinds(launched[0])).toEqual(["offer"]);
    expect(kinds(launched[1])).toEqual(["offer", "patch", "offer"]);
    expect(pool.size).toBe(2);
    await expect(pool.handlePatch({ pcId: "unknown", candidates: [] })).rejects.toMatchObject({ reason: "peer-not-found" });
  });

  test("every worker above limits.workerLoad: 503 with Retry-After; back under it: placed again", async () => {
    const { pool, launched } = await startPool(2, { workerLoad: 0.5 });
    launched[0].heartbeat(0.6);
    launched[1].heartbeat(0.9);
    const refused = await pool.handleOffer(offer()).catch((error) => error);
    expect(refused).toBeInstanceOf(SignallingError);
    expect(refused).toMatchObject({ reason: "capacity", retryAfterSecs: 2 });
    launched[1].heartbeat(0.2);
    expect((await pool.handleOffer(offer())).pc_id).toStartWith(`pc-${launched[1].pid}`);
  });

  test("a worker that exits: its sessions end (their /start lifetimes too), others stay, a replacement starts", async () => {
    const { pool, launched } = await startPool();
    const lost = await pool.handleOffer(offer());
    const kept = await pool.handleOffer(offer());
    let closed = 0;
    pool.find(lost.pc_id)!.once("closed", () => closed++);
    launched[0].exit(null, "SIGKILL");
    expect(closed).toBe(1);
    expect(pool.find(lost.pc_id)).toBeUndefined();
    expect(pool.find(kept.pc_id)?.isClosed).toBe(false);
    expect(pool.size).toBe(1);
    await eventually(() => launched.length === 3 && pool.workers[0].ready, 5000, "a replacement worker");
    expect((await pool.renderMetrics())).toContain('smallwebrtc_worker_restarts_total{reason="crash"} 1');
    // The replacement is idle and takes the next session.
    expect((await pool.handleOffer(offer())).pc_id).toStartWith(`pc-${launched[2].pid}`);
  });

  test("an offer in flight when its worker dies gets 503; a PATCH to a lost session gets 404", async () => {
    const { pool, launched } = await startPool(1);
    const placed = await pool.handleOffer(offer());
    launched[0].answer = () => undefined;
    const inFlight = pool.handleOffer(offer()).catch((error) => error);
    const patch = pool.handlePatch({ pcId: placed.pc_id, candidates: [] }).catch((error) => error);
    launched[0].exit(1);
    expect(await inFlight).toMatchObject({ reason: "capacity" });
    expect(await patch).toMatchObject({ reason: "peer-not-found" });
  });

  test("a worker whose heartbeats stop is killed and replaced, counted as a hang", async () => {
    const { pool, launched } = await startPool(2, { workerTimeoutSecs: 1 });
    const keepAlive = setInterval(() => launched[1].heartbeat(0), 100);
    try {
      await eventually(() => launched[0].killedWith === "SIGKILL", 5000, "the silent worker killed");
      expect(launched[1].killedWith).toBeUndefined();
      expect(await pool.renderMetrics()).toContain('smallwebrtc_worker_restarts_total{reason="hang"} 1');
    } finally {
      clearInterval(keepAlive);
    }
  });

  test("a worker that cannot start (exit code 2) fails the start; it has printed why", async () => {
    const pool = new WorkerPool({
      config: config(),
      count: 2,
      metrics: new Metrics(),
      logger: silentLogger,
      onFatal: () => fatal++,
      launch: () => {
        const worker = new FakeWorker();
        queueMicrotask(() => worker.exit(2));
        return worker as unknown as ChildProcess;
      },
    });
    await expect(pool.start()).rejects.toBeInstanceOf(WorkerReportedError);
  });

  test("a worker that stops with exit code 2 after the start stops the server; other exits are replaced", async () => {
    const { launched } = await startPool();
    launched[1].exit(1);
    expect(fatal).toBe(0);
    launched[0].exit(2);
    expect(fatal).toBe(1);
    await eventually(() => launched.length === 3, 5000, "the worker that exited with 1 replaced");
  });

  test("a worker process that cannot be started at all fails the start, naming why", async () => {
    const pool = new WorkerPool({
      config: config(),
      count: 1,
      metrics: new Metrics(),
      logger: silentLogger,
      onFatal: () => fatal++,
      launch: () => {
        const child = Object.assign(new EventEmitter(), { pid: undefined, connected: false });
        queueMicrotask(() => child.emit("error", new Error("spawn ENOEXEC")));
        return child as unknown as ChildProcess;
      },
    });
    await expect(pool.start()).rejects.toThrow("cannot start worker processes (spawn ENOEXEC); set workers to 1");
  });

  test("/metrics: the main process's lines, then each worker's with its label", async () => {
    const { pool } = await startPool();
    const text = await pool.renderMetrics();
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toContain('smallwebrtc_sessions{worker="0"} 1\nsmallwebrtc_sessions{worker="1"} 1');
    expect(text).toMatch(/^smallwebrtc_worker_load\{worker="0"\} 0$/m);
  });
});

describe("over HTTP", () => {
  test("a server whose workers are all busy answers 503 with Retry-After and says so in /status", async () => {
    const { SmallWebRTCServer } = await import("../../lib/server/smallWebRTCServer.ts");
    const { pool, launched } = await startPool(2, { workerLoad: 0.5 });
    const server = new SmallWebRTCServer({ config: config({ workerLoad: 0.5 }), sessions: () => pool });
    for (const fake of launched) fake.heartbeat(0.9);
    const response = await server.app.request("http://localhost/api/offer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: "v=0\r\n", type: "offer" }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("2");
    expect(await response.json()).toEqual({ detail: "every worker is busy; try again shortly" });
    const status = await (await server.app.request("http://localhost/status")).json();
    expect(status.workers.map((worker: { load: number }) => worker.load)).toEqual([0.9, 0.9]);
  });
});
