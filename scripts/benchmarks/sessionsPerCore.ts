/**
 * Sessions per core, echo latency and memory, in one sweep: sessions are added step by step to a server pinned to
 * one core, all of them sending speech in real time, and at each step the server's CPU and RSS, its late or missing
 * output packets and the marker echo latency are measured over three windows in a row. A step reports the worst of
 * each figure over its windows, so the sweep's result is one that every window met. Beside them stand the server's
 * own event-loop stalls and collection pauses from its /metrics (smallwebrtc only), so a bad window shows its cause.
 * The sweep stops once a step is clearly overloaded. Afterwards every client closes and the server's RSS is read again
 * once it has freed the sessions.
 */
import { TestClient } from "../support/weriftClient.ts";
import {
  type BenchServer,
  connectClient,
  cpuSeconds,
  drained,
  metricSample,
  metricSamples,
  rssMb,
  scrapeMetrics,
} from "./servers.ts";
import { STALL_WINDOW_MS } from "../../lib/server/loopStalls.ts";
import { loadPackets, MARKER_AT, markerLatencies, outputQuality, PACKETS_PER_SECOND, percentile } from "./loadStream.ts";

/** What smallwebrtc's /metrics says of its own event loop over one window. */
export interface ServerLoop {
  /** Stalls over the probe's floor (5 ms) in the window. */
  stalls: number;
  /** The p99 and maximum of how late its 10 ms timer fired over its last 10 s (the window's length). */
  stallP99Ms: number;
  maxStallMs: number;
  /** Timer intervals with a garbage collection in them. */
  collections: number;
  /** The stalls with a garbage collection in them, and the longest of them. */
  gcPauses: number;
  maxGcPauseMs: number;
  /** Full collections the heap collector requested. */
  fullCollections: number;
}

export interface SweepStep {
  sessions: number;
  /** How many windows each figure is the worst of. */
  windows: number;
  serverCpuPct: number;
  cpuPctPerSession: number;
  /** Late plus missing output packets, as a share of those expected. */
  badPct: number;
  latePct: number;
  missingPct: number;
  latencyMs: { p50: number; p95: number; p99: number; markers: number };
  rssMb: number;
  clientCpuPct: number;
  /** The load client's longest event-loop stall in the window: arrivals it delayed would read as late packets. */
  clientMaxStallMs: number;
  /** smallwebrtc's lowest Opus complexity at the end of a window (it lowers it under load); undefined for aiortc. */
  opusComplexity?: number;
  /** smallwebrtc's own view of its loop; undefined for aiortc, which has no /metrics. */
  serverLoop?: ServerLoop;
}

export interface SweepResult {
  steps: SweepStep[];
  /** The largest step with under 1 % late or missing packets. */
  maxSessions: number;
  idleRssMb: number;
  rssPerSessionMb: number;
  afterCloseRssMb: number;
  /** Whether the server had freed every session within the wait. */
  freedAll: boolean;
}

export interface SweepOptions {
  steps: number[];
  settleMs?: number;
  /** The length of each window: the span smallwebrtc's recent stall figures cover, so they describe the window. */
  windowMs?: number;
  /** Windows per step; the step reports the worst of each figure over them. */
  windows?: number;
  /** Sessions whose echo is decoded for latency (decoding happens after each window, off the clock). */
  probes?: number;
  log?: (line: string) => void;
}

class LoadSession {
  readonly client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
  readonly markersSentAt: number[] = [];
  stream?: Promise<void>;

  start(packets: Uint8Array[], running: () => boolean): void {
    this.stream = this.client.streamPackets(packets, () => !running(), (index, at) => {
      if (index % PACKETS_PER_SECOND === MARKER_AT) this.markersSentAt.push(at);
    });
  }
}

const BAD_LIMIT_PCT = 1;
/** A step this bad means the server is saturated: larger ones would only take longer to say so. */
const STOP_PCT = 10;

export async function sweepSessions(server: BenchServer, options: SweepOptions): Promise<SweepResult> {
  const { settleMs = 3000, windowMs = STALL_WINDOW_MS, windows = 3, probes = 10, log = () => {} } = options;
  const packets = await loadPackets();
  const sessions: LoadSession[] = [];
  const steps: SweepStep[] = [];
  let running = true;
  const idleRssMb = rssMb(server.pid);
  try {
    for (const target of options.steps) {
      while (sessions.length < target) {
        const session = new LoadSession();
        sessions.push(session);
        await connectClient(server, session.client);
        session.start(packets, () => running);
      }
      // A pause of this client would read as late packets from the server (and a burst of input to it): its heap is
      // collected before the settling time, which absorbs that one pause, and its longest stall in the window is
      // reported beside the result.
      Bun.gc(true);
      await Bun.sleep(settleMs);
      const measured: SweepStep[] = [];
      for (let window = 1; window <= windows; window++) {
        const figures = await measureWindow(server, sessions, windowMs, probes);
        measured.push(figures);
        log(`${server.name} ${target} sessions, window ${window}/${windows}: ${describeStep(figures)}`);
      }
      const step = worstOf(measured);
      steps.push(step);
      log(`${server.name} ${target} sessions, worst of ${windows}: ${describeStep(step)}`);
      if (step.badPct > STOP_PCT) break;
    }
  } finally {
    running = false;
    await Promise.all(sessions.map((session) => session.stream));
    await Promise.all(sessions.map((session) => session.client.close()));
  }
  // Closed werift clients send nothing: both servers notice through ICE consent / liveness.
  const freedAll = await drained(server, 60_000);
  await Bun.sleep(2000);
  // The largest step with every step up to it good: a lucky window above a bad step does not count.
  const firstBad = steps.findIndex((step) => step.badPct >= BAD_LIMIT_PCT);
  const largestGood = (firstBad < 0 ? steps : steps.slice(0, firstBad)).at(-1);
  return {
    steps,
    maxSessions: largestGood?.sessions ?? 0,
    idleRssMb,
    rssPerSessionMb: largestGood ? (largestGood.rssMb - idleRssMb) / largestGood.sessions : Number.NaN,
    afterCloseRssMb: rssMb(server.pid),
    freedAll,
  };
}

function describeStep(step: SweepStep): string {
  const loop = step.serverLoop;
  const serverLoop = loop
    ? `${loop.stalls} (p99 ${loop.stallP99Ms.toFixed(0)} ms, max ${loop.maxStallMs.toFixed(0)} ms), ` +
      `collections ${loop.collections}, ${loop.gcPauses} of them in stalls (max ${loop.maxGcPauseMs.toFixed(0)} ms), ` +
      `full collections requested ${loop.fullCollections}`
    : "n/a";
  const { p50, p99 } = step.latencyMs;
  return `late+missing ${step.badPct.toFixed(2)} % ` +
    `(late ${step.latePct.toFixed(2)}, missing ${step.missingPct.toFixed(2)}), ` +
    `server stalls ${serverLoop}, cpu ${step.serverCpuPct.toFixed(0)} %, ` +
    `echo p50/p99 ${p50.toFixed(0)}/${p99.toFixed(0)} ms, rss ${step.rssMb.toFixed(0)} MB, ` +
    `client cpu ${step.clientCpuPct.toFixed(0)} %, client stall ${step.clientMaxStallMs.toFixed(0)} ms` +
    (step.opusComplexity === undefined ? "" : `, opus complexity ${step.opusComplexity}`);
}

/** Each figure at its worst over the windows: highest for the bad ones, lowest for the Opus complexity. */
function worstOf(windows: SweepStep[]): SweepStep {
  const max = (figure: (step: SweepStep) => number) => Math.max(...windows.map(figure));
  const loops = windows.map((step) => step.serverLoop).filter((loop) => loop !== undefined);
  const loopMax = (figure: (loop: ServerLoop) => number) => Math.max(...loops.map(figure));
  const complexities = windows.map((step) => step.opusComplexity).filter((value) => value !== undefined);
  return {
    sessions: windows[0].sessions,
    windows: windows.length,
    serverCpuPct: max((step) => step.serverCpuPct),
    cpuPctPerSession: max((step) => step.cpuPctPerSession),
    badPct: max((step) => step.badPct),
    latePct: max((step) => step.latePct),
    missingPct: max((step) => step.missingPct),
    latencyMs: {
      p50: max((step) => step.latencyMs.p50),
      p95: max((step) => step.latencyMs.p95),
      p99: max((step) => step.latencyMs.p99),
      markers: Math.min(...windows.map((step) => step.latencyMs.markers)),
    },
    rssMb: max((step) => step.rssMb),
    clientCpuPct: max((step) => step.clientCpuPct),
    clientMaxStallMs: max((step) => step.clientMaxStallMs),
    opusComplexity: complexities.length > 0 ? Math.min(...complexities) : undefined,
    serverLoop: loops.length === 0 ? undefined : {
      stalls: loopMax((loop) => loop.stalls),
      stallP99Ms: loopMax((loop) => loop.stallP99Ms),
      maxStallMs: loopMax((loop) => loop.maxStallMs),
      collections: loopMax((loop) => loop.collections),
      gcPauses: loopMax((loop) => loop.gcPauses),
      maxGcPauseMs: loopMax((loop) => loop.maxGcPauseMs),
      fullCollections: loopMax((loop) => loop.fullCollections),
    },
  };
}

async function measureWindow(
  server: BenchServer,
  sessions: LoadSession[],
  windowMs: number,
  probes: number,
): Promise<SweepStep> {
  dropReceived(sessions);
  const hasMetrics = server.name === "smallwebrtc";
  const metricsBefore = hasMetrics ? await scrapeMetrics(server) : undefined;
  const stalls = watchStalls();
  const from = performance.now();
  const cpuBefore = cpuSeconds(server.pid);
  const clientBefore = process.cpuUsage();
  await Bun.sleep(windowMs);
  const to = performance.now();
  const serverCpuPct = ((cpuSeconds(server.pid) - cpuBefore) / ((to - from) / 1000)) * 100;
  const client = process.cpuUsage(clientBefore);
  const rss = rssMb(server.pid);
  const clientMaxStallMs = stalls.stop();
  const metricsAfter = hasMetrics ? await scrapeMetrics(server) : undefined;
  const opusComplexity = metricsAfter === undefined
    ? undefined
    : Math.min(...metricSamples(metricsAfter, "smallwebrtc_opus_complexity"));

  let expected = 0;
  let late = 0;
  let missing = 0;
  const latencies: number[] = [];
  for (const [index, { client: peer, markersSentAt }] of sessions.entries()) {
    const quality = outputQuality(peer.audioIn, peer.audioInAt, from, to);
    expected += quality.expected;
    late += quality.late;
    missing += quality.missing;
    if (index < probes) latencies.push(...markerLatencies(peer.audioIn, peer.audioInAt, markersSentAt, from, to));
  }
  dropReceived(sessions);
  return {
    sessions: sessions.length,
    windows: 1,
    serverCpuPct,
    cpuPctPerSession: serverCpuPct / sessions.length,
    badPct: ((late + missing) / expected) * 100,
    latePct: (late / expected) * 100,
    missingPct: (missing / expected) * 100,
    latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), markers: latencies.length },
    rssMb: rss,
    clientCpuPct: ((client.user + client.system) / 1000 / (to - from)) * 100,
    clientMaxStallMs,
    opusComplexity,
    serverLoop: metricsBefore && metricsAfter ? serverLoop(metricsBefore, metricsAfter) : undefined,
  };
}

/** Counts are summed over the server's processes (its workers and main process); quantiles are the worst of them. */
function serverLoop(before: string, after: string): ServerLoop {
  const sample = (metrics: string, name: string) => metricSample(metrics, name) ?? Number.NaN;
  const grown = (name: string) => sample(after, name) - sample(before, name);
  const worst = (name: string, quantile: string) => {
    const samples = metricSamples(after, name, `quantile="${quantile}"`);
    return samples.length === 0 ? Number.NaN : Math.max(...samples);
  };
  return {
    stalls: grown("smallwebrtc_event_loop_stall_seconds_count"),
    stallP99Ms: worst("smallwebrtc_event_loop_stall_recent_seconds", "0.99") * 1000,
    maxStallMs: worst("smallwebrtc_event_loop_stall_recent_seconds", "1") * 1000,
    collections: grown("smallwebrtc_gc_collections_total"),
    gcPauses: grown("smallwebrtc_gc_pause_seconds_count"),
    maxGcPauseMs: worst("smallwebrtc_gc_pause_recent_seconds", "1") * 1000,
    fullCollections: grown("smallwebrtc_heap_collections_total"),
  };
}

/** Forgets the bot audio received so far: judged already, or from before the window. */
function dropReceived(sessions: LoadSession[]): void {
  for (const { client: peer } of sessions) {
    peer.audioIn.length = 0;
    peer.audioInAt.length = 0;
  }
}

/** The longest this process's event loop was held up (beyond a 10 ms timer) until stop(). */
export function watchStalls(): { stop(): number } {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return worst;
    },
  };
}
