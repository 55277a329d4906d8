/**
 * Entry point of scripts/bench. Runs the chosen benchmarks against smallwebrtc and the aiortc reference in the same
 * run, prints every figure beside its ratio (smallwebrtc / aiortc), and writes the results as JSON (and a plot when
 * python3-matplotlib is there).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { benchAssistant } from "./assistant.ts";
import { benchAudioPath } from "./audioPath.ts";
import { benchBridge } from "./bridge.ts";
import { measureConnect } from "./connectTime.ts";
import { measureDataChannel } from "./dataChannel.ts";
import { measureRuntimes, type Range } from "./runtimes.ts";
import { type BenchServer, rssMb, type ServerName, startServer } from "./servers.ts";
import { sweepSessions } from "./sessionsPerCore.ts";
import { benchWorkers } from "./workers.ts";
import { benchVideo } from "./video.ts";
import { benchPaths } from "./paths.ts";
import { benchRNNoise } from "./rnnoise.ts";
import { benchCluster } from "./cluster.ts";

const BENCHES = [
  "audio-path", "rnnoise", "connect", "data-channel", "sessions", "runtimes", "bridge", "assistant", "video", "paths",
  "cluster",
] as const;
type Bench = (typeof BENCHES)[number];
const SERVERS: ServerName[] = ["smallwebrtc", "aiortc"];
const DEFAULT_STEPS = "1,5,10,15,20,30,40,50,60,70,80,100,120";

const USAGE = `Usage: scripts/bench [all|${BENCHES.join("|")}]... [--steps ${DEFAULT_STEPS}] [--windows 3]
                    [--rounds 20] [--starts 5] [--bridge-rounds 3] [--bridge-sessions 10] [--assistant-rounds 3]
                    [--assistant-sessions 20] [--video-sessions 1,2] [--video-profile] [--path-rounds 10]
                    [--cluster-rounds 200] [--cluster-offer-rounds 30]
                    [--server smallwebrtc|aiortc|both] [--workers 1,2]
                    [--out bench-results.json]
Runs on loopback in a network namespace: the servers on core 0, this load client on core 1. Prints a table per
benchmark (smallwebrtc, the aiortc reference, and their ratio), then one JSON line, also written to --out.
--server measures one server alone (no ratios): quicker while working on one of them.
sessions adds echo sessions up to each of --steps and measures --windows windows of 10 s at each; every figure of a
step is the worst over its windows (late and missing packets, echo latency, CPU, RSS), printed beside smallwebrtc's
own event-loop stalls, their p99 and maximum, and its collection pauses from /metrics (n/a for aiortc).
sessions --workers 1,2 sweeps smallwebrtc once per worker count instead, free to use every core (the load client
still pinned to core 1, so its CPU is shown), and gives sessions per machine and their ratio to one worker.
runtimes starts smallwebrtc --starts times each as the binary, with Bun and with Deno (no aiortc), and gives the
range over the starts of its start time and of each start's connect-time p50 (--rounds connects).
bridge runs --bridge-sessions echo sessions against the binary's built-in echo and against the binary bridged to a
local WebSocket echo bot, alternating, --bridge-rounds times (no aiortc), and gives the worst round's extra echo
latency (p50) and CPU ratio per session.
assistant runs the assistant bot against local stand-in services with fixed delays, at 1 session and at
--assistant-sessions, --assistant-rounds times (no aiortc), and gives the worst round's p95 of the time the server
adds to a turn: from VAD ending the turn to the STT request, and from the first TTS bytes to their first RTP packet.
video runs --video-sessions mirror-bot sessions, each sending camera video (VP8) and speech, at 320x240@15 and at
640x480@30 (no aiortc), and gives the server's CPU per session split into codec work (/metrics) and the rest, the load
client's CPU, the bot video frame rate and the bot audio late or missing; --video-profile adds one session per format
against the server from source under Bun's sampling profiler, its main thread's CPU split by stage (the profiles are
kept beside --out).
paths connects one audio session at a time over each network path, --path-rounds times each, taking turns (no
aiortc): direct UDP, ICE over TCP (ice.tcpPort, every UDP packet dropped meanwhile) and through a real coturn in a
namespace of its own, reached over UDP, TCP and TLS (the client relay-only); it gives connect time (POST to DTLS
connected) and the echo latency of tone markers.
rnnoise measures in process (no server) the CPU of RNNoise per 20 ms of speech in noise, alone at 48 kHz and as
RNNoiseFilter runs it at 16 kHz, against the real-time budget and the Opus decode of the same 20 ms in the same run.
cluster starts two instances on one redis-server (no aiortc), connects one call to A, and sends the same requests to A
directly and to B, which forwards them to A, taking turns: --cluster-rounds trickle PATCHes and
--cluster-offer-rounds re-offers each way; it gives request-to-answer p50/p95, the extra ms and the ratio at p50.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    steps: { type: "string", default: DEFAULT_STEPS },
    windows: { type: "string", default: "3" },
    rounds: { type: "string", default: "20" },
    starts: { type: "string", default: "5" },
    "bridge-rounds": { type: "string", default: "3" },
    "bridge-sessions": { type: "string", default: "10" },
    "assistant-rounds": { type: "string", default: "3" },
    "assistant-sessions": { type: "string", default: "20" },
    "video-sessions": { type: "string", default: "1,2" },
    "video-profile": { type: "boolean", default: false },
    "path-rounds": { type: "string", default: "10" },
    "cluster-rounds": { type: "string", default: "200" },
    "cluster-offer-rounds": { type: "string", default: "30" },
    out: { type: "string", default: "bench-results.json" },
    server: { type: "string", default: "both" },
    workers: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const wanted = positionals.length === 0 || positionals.includes("all") ? [...BENCHES] : positionals;
const unknown = wanted.filter((name) => !(BENCHES as readonly string[]).includes(name));
const servers = SERVERS.filter((name) => values.server === "both" || values.server === name);
if (values.help || unknown.length > 0 || servers.length === 0) {
  if (unknown.length > 0) console.error(`unknown benchmark: ${unknown.join(", ")}`);
  if (servers.length === 0) console.error(`unknown server: ${values.server}`);
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}
const runs = (bench: Bench) => wanted.includes(bench);
const log = (line: string) => console.error(`  ${line}`);

type Figures = Record<string, number | boolean | string>;
type BenchFn = (server: BenchServer, figures: Figures) => Promise<void>;
const results: Record<string, unknown> = { machine: machine() };
const tables: Partial<Record<ServerName, Figures>> = {};

if (runs("audio-path")) {
  const rows = await benchAudioPath();
  results["audio-path"] = rows;
  console.log("\naudio-path: CPU microseconds per 20 ms frame of one session (lower is better)");
  console.table(rows.map((row) => ({ ...row, ours: round(row.ours), aiortc: round(row.aiortc), ratio: round(row.ratio) })));
}

if (runs("rnnoise")) {
  const rows = await benchRNNoise();
  results.rnnoise = rows;
  console.log("\nrnnoise: CPU per 20 ms of client audio, best of 5 rounds of 10 s (lower is better)");
  console.table(rows.map((row) => ({
    case: row.case,
    "us per 20 ms": round(row.usPer20ms),
    "% of real time": round(row.realTimePct),
    "x Opus decode at 48 kHz": round(row.toOpusDecode),
  })));
}

if (runs("runtimes") && servers.includes("smallwebrtc")) {
  const rows = await measureRuntimes({ starts: Number(values.starts), rounds: Number(values.rounds), log });
  results.runtimes = rows;
  console.log(`\nruntimes: range over ${values.starts} starts each (p50 of ${values.rounds} connects per start)`);
  const span = ({ min, max }: Range) => `${round(min)}-${round(max)}`;
  console.table(Object.values(rows).map((row) => ({
    command: row.command,
    "start to listening (ms)": span(row.startMs),
    "POST to answer p50 (ms)": span(row.answerP50Ms),
    "POST to DTLS connected p50 (ms)": span(row.connectedP50Ms),
  })));
}

if (runs("bridge") && servers.includes("smallwebrtc")) {
  const result = await benchBridge({
    rounds: Number(values["bridge-rounds"]),
    sessions: Number(values["bridge-sessions"]),
    log,
  });
  results.bridge = result;
  console.log(`\nbridge: ${result.sessions} echo sessions, built-in echo against the bridged echo bot ` +
    "(targets: at most 5 ms more at p50, at most 1.3x the CPU)");
  console.table(result.rounds.map((r, i) => ({
    round: i + 1,
    "built-in p50 (ms)": round(r.builtIn.echoP50Ms),
    "bridged p50 (ms)": round(r.bridged.echoP50Ms),
    "extra p50 (ms)": round(r.extraP50Ms),
    "built-in CPU %/session": round(r.builtIn.cpuPctPerSession),
    "bridged CPU %/session": round(r.bridged.cpuPctPerSession),
    "CPU ratio": round(r.cpuRatio),
    "late+missing % (built-in, bridged)": `${round(r.builtIn.latePct)}, ${round(r.bridged.latePct)}`,
  })));
  console.log(`worst of ${result.rounds.length}: ${round(result.worstExtraP50Ms)} ms more at p50, ` +
    `${round(result.worstCpuRatio)}x the CPU`);
}

if (runs("assistant") && servers.includes("smallwebrtc")) {
  const result = await benchAssistant({
    rounds: Number(values["assistant-rounds"]),
    sessions: Number(values["assistant-sessions"]),
    log,
  });
  results.assistant = result;
  console.log(`\nassistant: time the server adds to a turn, stand-in services answering after ` +
    `${result.serviceDelayMs} ms ` +
    "(target: under 30 ms in total at p95, at 20 sessions)");
  const row = (run: (typeof result.worst)[number], label: string) => ({
    run: label,
    sessions: run.sessions,
    "turn end -> STT request p50/p95/max (ms)": stageSpan(run.stages.turn_end_to_stt_request),
    "TTS bytes -> RTP p50/p95/max (ms)": stageSpan(run.stages.bot_audio_to_rtp),
    "total p95 (ms)": round(run.totalP95Ms),
    turns: run.stages.turn_end_to_stt_request.samples,
    "server CPU %": round(run.serverCpuPct),
    "full GCs (ms)": `${run.fullCollections} (${round(run.fullCollectionMs)})`,
    "client stall (ms)": round(run.clientMaxStallMs),
  });
  console.table(result.rounds.flatMap((runs, i) => runs.map((run) => row(run, `round ${i + 1}`))));
  console.log(`worst of ${result.rounds.length}: ` +
    result.worst.map((run) => `${run.sessions} sessions ${round(run.totalP95Ms)} ms`).join(", ") + " in total at p95");
}

if (runs("sessions") && values.workers !== undefined) {
  const counts = values.workers.split(",").map(Number);
  const steps = values.steps.split(",").map(Number);
  const rows = await benchWorkers({ counts, steps, log, sweep: { windows: Number(values.windows) } });
  results.workers = rows;
  console.log(`\nsessions --workers ${values.workers}: smallwebrtc on every core (${rows.length} runs), the load ` +
    "client pinned to the last one (target: at least 1.5x the sessions of one process with two workers)");
  console.table(rows.map((row) => ({
    workers: row.workers,
    "sessions per machine (<1 % late)": row.sessions,
    "server CPU % at max": round(row.serverCpuPct),
    "load client CPU % at max": round(row.clientCpuPct),
    "idle RSS (MB)": round(row.idleRssMb),
    "RSS per added session (MB)": round(row.rssPerSessionMb),
    "ratio to 1 worker": round(row.ratio),
  })));
}

if (runs("video") && servers.includes("smallwebrtc")) {
  const result = await benchVideo({
    sessions: values["video-sessions"].split(",").map(Number),
    profilePrefix: values["video-profile"] ? `${values.out.replace(/\.json$/, "")}.video-` : undefined,
    log,
  });
  results.video = result;
  console.log("\nvideo: mirror-bot sessions, server CPU in % of one core per session (target: 640x480@30 under 25)");
  console.table(result.runs.map((run) => ({
    camera: run.format,
    sessions: run.sessions,
    "CPU %/session": round(run.cpuPctPerSession),
    "main thread %": round(run.mainThreadPctPerSession),
    ...Object.fromEntries(Object.entries(run.stagesPctPerSession).map(([stage, pct]) => [stage, round(pct)])),
    "kernel %": round(run.systemPctPerSession),
    "page faults/s": round(run.pageFaultsPerSecond),
    "ms/frame": round(run.cpuMsPerFrame),
    "client CPU %": round(run.clientCpuPct),
    "bot video fps": round(run.videoOutFps),
    "keyframe requests/s": round(run.keyframeRequestsPerSecond),
    "audio late/missing %": `${round(run.audioLatePct)} / ${round(run.audioMissingPct)}`,
    "audio delay p99/max (ms)": `${round(run.audioDelayP99Ms)} / ${round(run.audioDelayMaxMs)}`,
  })));
  for (const profile of result.profiles) {
    console.log(`\nvideo profile, ${profile.format}, one session from source: ${round(profile.cpuPct)} % of a core, ` +
      `the main thread ${round(profile.mainThreadPct)} (${profile.file})`);
    console.table(Object.entries(profile.stagesPct).map(([stage, pct]) => ({ stage, "% of a core": round(pct) })));
  }
}

if (runs("paths") && servers.includes("smallwebrtc")) {
  const rows = await benchPaths({ rounds: Number(values["path-rounds"]), log });
  results.paths = rows;
  console.log(`\npaths: one audio session at a time, ${values["path-rounds"]} rounds per path, taking turns`);
  console.table(rows.map((row) => ({
    path: row.path,
    "POST to DTLS connected p50/p95 (ms)": `${round(row.connectedMs.p50)} / ${round(row.connectedMs.p95)}`,
    "echo latency p50/p95 (ms)": `${round(row.echoMs.p50)} / ${round(row.echoMs.p95)}`,
    markers: row.markers,
  })));
}

if (runs("cluster") && servers.includes("smallwebrtc")) {
  const rows = await benchCluster({
    rounds: Number(values["cluster-rounds"]),
    offerRounds: Number(values["cluster-offer-rounds"]),
    log,
  });
  results.cluster = rows;
  console.log("\ncluster: request to answer, sent to the instance that holds the call and to one that forwards it");
  console.table(rows.map((row) => ({
    request: row.request,
    rounds: row.rounds,
    "direct p50/p95 (ms)": `${round(row.directMs.p50)} / ${round(row.directMs.p95)}`,
    "forwarded p50/p95 (ms)": `${round(row.forwardedMs.p50)} / ${round(row.forwardedMs.p95)}`,
    "extra p50 (ms)": round(row.extraP50Ms),
    "ratio p50": round(row.ratioP50),
  })));
}

for (const name of servers) {
  // Connect time and the data channel on one server; the sessions sweep on a fresh one, so its idle RSS is clean.
  const perCore = runs("sessions") && values.workers === undefined;
  const groups = [[runs("connect") && connect, runs("data-channel") && dataChannel], [perCore && sessions]];
  for (const group of groups) {
    const benches = group.filter((bench): bench is BenchFn => bench !== false);
    if (benches.length === 0) continue;
    log(`starting ${name}`);
    const server = await startServer(name);
    try {
      await Bun.sleep(2000); // let codecs warm up, as a deployed server has
      tables[name] ??= { "idle RSS (MB)": rssMb(server.pid) };
      for (const bench of benches) await bench(server, tables[name]!);
    } finally {
      await server.stop();
    }
  }
}

async function connect(server: BenchServer, figures: Figures): Promise<void> {
  log(`${server.name}: connect time, ${values.rounds} sessions one after another`);
  const result = await measureConnect(server, Number(values.rounds));
  results[`connect.${server.name}`] = result;
  Object.assign(figures, {
    "POST to answer p50 (ms)": result.answerMs.p50,
    "POST to answer p95 (ms)": result.answerMs.p95,
    "POST to DTLS connected p50 (ms)": result.connectedMs.p50,
    "POST to DTLS connected p95 (ms)": result.connectedMs.p95,
    "POST to data channel open p50 (ms)": result.dataChannelMs.p50,
    "POST to data channel open p95 (ms)": result.dataChannelMs.p95,
  });
}

async function dataChannel(server: BenchServer, figures: Figures): Promise<void> {
  log(`${server.name}: data channel, 10,000 queued messages`);
  const result = await measureDataChannel(server);
  results[`data-channel.${server.name}`] = result;
  Object.assign(figures, {
    "data channel echoed (of 10,000)": result.echoed,
    "data channel messages/s": result.messagesPerSecond,
    "data channel MB/s": result.megabytesPerSecond,
  });
}

async function sessions(server: BenchServer, figures: Figures): Promise<void> {
  log(`${server.name}: sessions per core`);
  const steps = values.steps.split(",").map(Number);
  const result = await sweepSessions(server, { steps, windows: Number(values.windows), log });
  results[`sessions.${server.name}`] = result;
  const at = (n: number) => result.steps.find((step) => step.sessions === n);
  const atMax = at(result.maxSessions);
  Object.assign(figures, {
    "sessions on one core (<1 % late)": result.maxSessions,
    "CPU % per session at max": atMax?.cpuPctPerSession ?? Number.NaN,
    "echo p50 at 1 session (ms)": at(1)?.latencyMs.p50 ?? Number.NaN,
    "echo p99 at 1 session (ms)": at(1)?.latencyMs.p99 ?? Number.NaN,
    "echo p50 at 10 sessions (ms)": at(10)?.latencyMs.p50 ?? Number.NaN,
    "echo p95 at 10 sessions (ms)": at(10)?.latencyMs.p95 ?? Number.NaN,
    "echo p99 at 10 sessions (ms)": at(10)?.latencyMs.p99 ?? Number.NaN,
    "echo p50 at max (ms)": atMax?.latencyMs.p50 ?? Number.NaN,
    "echo p99 at max (ms)": atMax?.latencyMs.p99 ?? Number.NaN,
    "longest server stall at max (ms)": atMax?.serverLoop?.maxStallMs ?? "n/a",
    "server GC pauses at max": atMax?.serverLoop?.gcPauses ?? "n/a",
    "longest server stall at 40 sessions (ms)": at(40)?.serverLoop?.maxStallMs ?? "n/a",
    "RSS per added session (MB)": result.rssPerSessionMb,
    "RSS after all closed (MB)": result.afterCloseRssMb,
    "freed every session": result.freedAll,
  });
}

const { smallwebrtc: oursTable, aiortc: theirTable } = tables;
if (oursTable && theirTable) {
  console.log("\nsmallwebrtc against the aiortc reference (same run, same load client)");
  console.table(Object.keys(oursTable).map((figure) => {
    const ours = oursTable[figure];
    const theirs = theirTable[figure];
    const ratio = typeof ours === "number" && typeof theirs === "number" ? round(ours / theirs) : "";
    return { figure, smallwebrtc: show(ours), aiortc: show(theirs), ratio };
  }));
  results.table = tables;
} else {
  const [name, table] = Object.entries(tables)[0] ?? [];
  if (table) {
    console.log(`\n${name} alone`);
    console.table(Object.entries(table).map(([figure, value]) => ({ figure, [name!]: show(value) })));
    results.table = tables;
  }
}

writeFileSync(values.out, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results));
plot(values.out);
// werift leaves timers behind after its peers close; everything is written, so end here.
process.exit(0);

function plot(resultsFile: string): void {
  if (!runs("sessions")) return;
  const png = resultsFile.replace(/\.json$/, "") + ".png";
  const result = Bun.spawnSync(["/usr/bin/python3", join(import.meta.dirname, "plot.py"), resultsFile, png]);
  console.error(result.success ? `  plot: ${png}` : `  no plot (${result.stderr.toString().trim().split("\n").at(-1)})`);
}

function machine(): Record<string, string | number> {
  const cpu = Bun.spawnSync(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).stdout.toString().trim();
  const cores = Number(Bun.spawnSync(["nproc", "--all"]).stdout.toString().trim());
  return { cpu, cores, bun: Bun.version, date: new Date().toISOString().slice(0, 10) };
}

function stageSpan({ p50Ms, p95Ms, maxMs }: { p50Ms: number; p95Ms: number; maxMs: number }): string {
  return `${round(p50Ms)} / ${round(p95Ms)} / ${round(maxMs)}`;
}

function round(value: number): number {
  return Number(value.toFixed(value >= 100 ? 0 : 2));
}

function show(value: number | boolean | string | undefined): number | string {
  return typeof value === "number" ? round(value) : String(value ?? "");
}
