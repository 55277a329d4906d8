/**
 * Benchmark: the time smallwebrtc itself adds to a voice turn of the assistant bot, against local stand-in services
 * with fixed delays (serviceStandIn.ts, in a process of its own on the load client's core), so the services' own time
 * is not counted. The server measures two stages (lib/pipeline/stageLatency.ts) and /metrics reports them:
 * - turn_end_to_stt_request: from VAD ending the user's turn to the speech-to-text request being sent;
 * - bot_audio_to_rtp: from the first bytes of the TTS answer reaching the pipeline to its first RTP packet.
 *
 * Each load session speaks a sentence, then stays quiet while the answer comes, again and again. The sessions connect
 * sending silence and start their turns together once all are up, so no turn falls in the connections' handshakes.
 * A fresh binary serves each round, at one session (the reference) and at `sessions`; the result is the worst round's
 * p95 of each stage, and their sum.
 */
import { OpusEncoder } from "../../lib/media/opus.ts";
import { readWav } from "../support/audio.ts";
import { vadFixture } from "../support/media.ts";
import { TestClient } from "../support/weriftClient.ts";
import {
  type BenchServer,
  connectClient,
  cpuSeconds,
  drained,
  metricSample,
  scrapeMetrics,
  startServer,
  startSideProcess,
} from "./servers.ts";
import { watchStalls } from "./sessionsPerCore.ts";

const STAGES = ["turn_end_to_stt_request", "bot_audio_to_rtp"] as const;
type Stage = (typeof STAGES)[number];

export interface StageFigures {
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  samples: number;
}

export interface AssistantRun {
  sessions: number;
  stages: Record<Stage, StageFigures>;
  /** p95 of the two stages added up: what the server adds to one turn, at worst-but-one-in-twenty. */
  totalP95Ms: number;
  /** The server's CPU over the window, in % of one core. */
  serverCpuPct: number;
  /** Full heap collections the server ran in the window (Bun), and how long they paused it in all. */
  fullCollections: number;
  fullCollectionMs: number;
  /** The load client's own longest stall in the window: a stalled client sends bursts, which the server pays for. */
  clientMaxStallMs: number;
}

export interface AssistantResult {
  serviceDelayMs: number;
  rounds: AssistantRun[][];
  /** Per session count, the round with the largest total p95. */
  worst: AssistantRun[];
}

export interface AssistantBenchOptions {
  rounds: number;
  sessions: number;
  /** How long each measurement lasts once every session has connected. */
  windowMs?: number;
  /** The stand-in services' fixed delay before each answer. */
  serviceDelayMs?: number;
  log: (line: string) => void;
}

export async function benchAssistant(options: AssistantBenchOptions): Promise<AssistantResult> {
  const { rounds, sessions, windowMs = 45_000, serviceDelayMs = 100, log } = options;
  const services = await startSideProcess("serviceStandIn.ts", [String(serviceDelayMs)]);
  const { turn: packets, silence } = await turnPackets();
  const results: AssistantRun[][] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const runs: AssistantRun[] = [];
      for (const count of [1, sessions]) {
        const run = await measure(services.url, { packets, silence }, count, windowMs);
        log(`round ${round}/${rounds}, ${count} sessions: turn end to STT request p95 ` +
          `${run.stages.turn_end_to_stt_request.p95Ms.toFixed(1)} ms, TTS bytes to RTP p95 ` +
          `${run.stages.bot_audio_to_rtp.p95Ms.toFixed(1)} ms, total ${run.totalP95Ms.toFixed(1)} ms ` +
          `(${run.stages.turn_end_to_stt_request.samples} turns, server CPU ${run.serverCpuPct.toFixed(0)} %, ` +
          `${run.fullCollections} full collections, ${run.fullCollectionMs.toFixed(0)} ms, client stall ` +
          `${run.clientMaxStallMs.toFixed(0)} ms)`);
        runs.push(run);
      }
      results.push(runs);
    }
  } finally {
    await services.stop();
  }
  const worstOf = (runs: AssistantRun[]) => runs.reduce((a, b) => (b.totalP95Ms > a.totalP95Ms ? b : a));
  const worst = results[0].map((_, i) => worstOf(results.map((runs) => runs[i])));
  return { serviceDelayMs, rounds: results, worst };
}

async function measure(
  servicesUrl: string,
  { packets, silence }: { packets: Uint8Array[]; silence: Uint8Array[] },
  sessions: number,
  windowMs: number,
): Promise<AssistantRun> {
  const env: Record<string, string> = { SMALLWEBRTC_ASSISTANT_GREETING: "" };
  for (const service of ["STT", "LLM", "TTS"]) env[`SMALLWEBRTC_ASSISTANT_${service}_BASE_URL`] = servicesUrl;
  const server: BenchServer = await startServer("smallwebrtc", "binary", ["--bot", "assistant"], env);
  const clients: TestClient[] = [];
  const streams: Promise<void>[] = [];
  let running = true;
  let talking = false;
  try {
    await Bun.sleep(2000); // let codecs and the VAD model warm up, as a deployed server has
    for (let i = 0; i < sessions; i++) {
      const client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
      clients.push(client);
      await connectClient(server, client);
      // Sessions take their turns at different moments, as real users do.
      const offset = Math.floor((i * packets.length) / sessions);
      const turns = [...packets.slice(offset), ...packets.slice(0, offset)];
      const silent = client.streamPackets(silence, () => talking);
      streams.push(silent.then(() => client.streamPackets(turns, () => !running)));
    }
    // The client's own heap is collected before the window, as sessionsPerCore.ts does, so its pause falls outside.
    Bun.gc(true);
    talking = true;
    const stalls = watchStalls();
    const cpuBefore = cpuSeconds(server.pid);
    const collectionsBefore = collections(await scrapeMetrics(server));
    await Bun.sleep(windowMs);
    const serverCpuPct = ((cpuSeconds(server.pid) - cpuBefore) / (windowMs / 1000)) * 100;
    const metrics = await scrapeMetrics(server);
    const collectionsAfter = collections(metrics);
    const clientMaxStallMs = stalls.stop();
    const stages = stageFigures(metrics);
    const totalP95Ms = stages.turn_end_to_stt_request.p95Ms + stages.bot_audio_to_rtp.p95Ms;
    return {
      sessions,
      stages,
      totalP95Ms,
      serverCpuPct,
      fullCollections: collectionsAfter.count - collectionsBefore.count,
      fullCollectionMs: collectionsAfter.ms - collectionsBefore.ms,
      clientMaxStallMs,
    };
  } finally {
    running = false;
    await Promise.all(streams);
    await Promise.all(clients.map((client) => client.close()));
    await drained(server, 30_000);
    await server.stop();
  }
}

/** The heap collector's totals so far (none under Deno). */
function collections(metrics: string): { count: number; ms: number } {
  return {
    count: metricSample(metrics, "smallwebrtc_heap_collections_total") ?? 0,
    ms: (metricSample(metrics, "smallwebrtc_heap_collection_seconds_total") ?? 0) * 1000,
  };
}

function stageFigures(metrics: string): Record<Stage, StageFigures> {
  const value = (name: string, labels: string) => {
    const sample = metricSample(metrics, name, labels);
    if (sample === undefined) throw new Error(`/metrics has no ${name}{${labels}}: did any turn complete?`);
    return sample;
  };
  const figures = (stage: Stage): StageFigures => ({
    p50Ms: value("smallwebrtc_stage_latency_seconds", `stage="${stage}",quantile="0.5"`) * 1000,
    p95Ms: value("smallwebrtc_stage_latency_seconds", `stage="${stage}",quantile="0.95"`) * 1000,
    maxMs: value("smallwebrtc_stage_latency_seconds", `stage="${stage}",quantile="1"`) * 1000,
    samples: value("smallwebrtc_stage_latency_samples", `stage="${stage}"`),
  });
  return { turn_end_to_stt_request: figures("turn_end_to_stt_request"), bot_audio_to_rtp: figures("bot_audio_to_rtp") };
}

/**
 * One turn of a load session as 20 ms Opus packets at 48 kHz: the speech fixture (1 s of silence, a sentence, 1.5 s
 * of silence) and 3 s more of silence, in which the answer (about 2 s of speech) is played. Encoded once.
 */
async function turnPackets(): Promise<{ turn: Uint8Array[]; silence: Uint8Array[] }> {
  const speech = readWav(await vadFixture("speech")).pcm;
  const turn = new Int16Array((speech.length + 3 * 16000) * 3);
  for (let i = 0; i < speech.length * 3; i++) turn[i] = speech[Math.floor(i / 3)];
  const encoder = new OpusEncoder({ sampleRate: 48000, channels: 1 });
  const packets: Uint8Array[] = [];
  for (let offset = 0; offset + 960 <= turn.length; offset += 960) {
    packets.push(encoder.encode(turn.subarray(offset, offset + 960)));
  }
  const silence = [encoder.encode(new Int16Array(960))];
  encoder.free();
  return { turn: packets, silence };
}
