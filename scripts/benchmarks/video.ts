/**
 * Benchmark: what a mirror-bot video session costs the server. Each load session is a werift peer shaped like the
 * official client (microphone, camera, screen slot, data channel) that loops pre-encoded VP8 camera video and Opus
 * speech, so it costs far less than the server; the mirror bot decodes the camera, turns it into RGB pictures and
 * encodes them back as its own video, and echoes the speech.
 *
 * Per camera format, a fresh binary serves each session count, and over a window the bench reads the server's CPU,
 * the codec seconds from /metrics (smallwebrtc_codec_seconds_total), the load client's own CPU, the bot video frames
 * the clients receive, and the bot audio packets that arrived late or never (the audio that video work could delay).
 * With `profile`, one more session per format runs against the server from source under Bun's sampling profiler, and
 * its main thread's samples are split by stage (cpuProfileStages.ts).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vp8Encoder } from "../../lib/media/vp8.ts";
import { Vp8Packetiser } from "../../lib/media/vp8Rtp.ts";
import { i420ByteLength } from "../../lib/media/yuv.ts";
import { repoRoot } from "../support/paths.ts";
import { startServerProcess } from "../support/serverProcess.ts";
import { y4m } from "../support/media.ts";
import { TestClient } from "../support/weriftClient.ts";
import { cpuProfileStages, type StageShares } from "./cpuProfileStages.ts";
import { loadPackets, outputQuality, percentile } from "./loadStream.ts";
import {
  type BenchServer,
  connectClient,
  cpuSeconds,
  drained,
  metricSample,
  processTree,
  scrapeMetrics,
  startServer,
} from "./servers.ts";
import { watchStalls } from "./sessionsPerCore.ts";

export interface CameraFormat {
  width: number;
  height: number;
  fps: number;
  /** What the load's camera encoder aims at, about what a browser sends at this size once its estimate settles. */
  bitrate: number;
}

/** The official client's camera as measured in issue 17, and the target format. */
export const CAMERA_FORMATS: readonly CameraFormat[] = [
  { width: 320, height: 240, fps: 15, bitrate: 300_000 },
  { width: 640, height: 480, fps: 30, bitrate: 1_000_000 },
];

/** Codec work /metrics counts, by label pair. */
const CODEC_STAGES = {
  "vp8 decode": 'codec="vp8",operation="decode"',
  "vp8 encode": 'codec="vp8",operation="encode"',
  "opus decode": 'codec="opus",operation="decode"',
  "opus encode": 'codec="opus",operation="encode"',
} as const;
type CodecStage = keyof typeof CODEC_STAGES;

export interface VideoRun {
  format: string;
  sessions: number;
  /** The server's CPU over the window, in % of one core, divided by the sessions. */
  cpuPctPerSession: number;
  /** Of that, what the server's main thread used: its event loop paces every session's audio. */
  mainThreadPctPerSession: number;
  /** Of the server's CPU, the codec work /metrics counts; "other" is the rest. */
  stagesPctPerSession: Record<CodecStage | "other", number>;
  /** Of the server's CPU, the share spent in the kernel (page faults, sockets), in % of one core per session. */
  systemPctPerSession: number;
  /** Minor page faults the server took per second: fresh memory touched for the first time. */
  pageFaultsPerSecond: number;
  /** Server CPU per bot video frame sent, in ms: the cost of a frame even when the server cannot keep up. */
  cpuMsPerFrame: number;
  /** The load client's CPU over the window, in % of one core (all sessions): it must stay well below 100. */
  clientCpuPct: number;
  clientMaxStallMs: number;
  /** Keyframe requests the server sent per session per second: each means dropped camera frames. */
  keyframeRequestsPerSecond: number;
  /** Bot video frames each session received per second, on average (the camera's rate when the mirror keeps up). */
  videoOutFps: number;
  /** Bot audio packets late (over 50 ms behind schedule) or missing, as a share of those expected. */
  audioLatePct: number;
  audioMissingPct: number;
  /**
   * How far bot audio packets arrived behind their schedule (each session's earliest packet sets it), p99 and max in
   * ms: a codec call on the thread that paces audio shows here long before packets count as late.
   */
  audioDelayP99Ms: number;
  audioDelayMaxMs: number;
}

export interface VideoProfile {
  format: string;
  /** The profiled server's CPU over the window, in % of one core (one session). */
  cpuPct: number;
  /** Its main thread's CPU: Bun's profiler samples that thread only (not the VP8 codec thread). */
  mainThreadPct: number;
  /** The main thread's CPU split by stage, in % of one core. */
  stagesPct: StageShares;
  /** Where the whole profile was kept (it opens in Chrome's DevTools). */
  file: string;
}

export interface VideoResult {
  runs: VideoRun[];
  profiles: VideoProfile[];
}

export interface VideoBenchOptions {
  sessions: number[];
  /** Profile one session per format, and keep each profile as `<profilePrefix><format>.cpuprofile`. */
  profilePrefix?: string;
  windowMs?: number;
  /** After the sessions connect, before the window: codecs warm up and rate control settles. */
  settleMs?: number;
  log: (line: string) => void;
}

interface Load {
  audio: Uint8Array[];
  /** One loop of packetised camera frames, starting with a keyframe. */
  video: Uint8Array[][];
}

export async function benchVideo(options: VideoBenchOptions): Promise<VideoResult> {
  const { sessions, profilePrefix, windowMs = 10_000, settleMs = 4000, log } = options;
  const audio = await loadPackets();
  const runs: VideoRun[] = [];
  const profiles: VideoProfile[] = [];
  for (const format of CAMERA_FORMATS) {
    const load = { audio, video: await cameraLoop(format) };
    for (const count of sessions) {
      const server = await startServer("smallwebrtc", "binary", ["--bot", "mirror"]);
      try {
        const { window: _, ...run } = await measure(server, format, load, count, windowMs, settleMs);
        runs.push(run);
        log(`${run.format}, ${count} sessions: ${run.cpuPctPerSession.toFixed(1)} % of a core per session ` +
          `(main thread ${run.mainThreadPctPerSession.toFixed(1)}) ` +
          `(${Object.entries(run.stagesPctPerSession).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}), ` +
          `kernel ${run.systemPctPerSession.toFixed(1)} %, ${run.pageFaultsPerSecond.toFixed(0)} page faults/s, ` +
          `${run.cpuMsPerFrame.toFixed(1)} ms per frame, client ${run.clientCpuPct.toFixed(0)} %, ` +
          `bot video ${run.videoOutFps.toFixed(1)} fps, ` +
          `${run.keyframeRequestsPerSecond.toFixed(2)} keyframe requests/s, ` +
          `audio late ${run.audioLatePct.toFixed(2)} % missing ${run.audioMissingPct.toFixed(2)} %, delay p99 ` +
          `${run.audioDelayP99Ms.toFixed(1)} ms max ${run.audioDelayMaxMs.toFixed(1)} ms`);
      } finally {
        await server.stop();
      }
    }
    if (profilePrefix !== undefined) {
      const file = `${profilePrefix}${formatName(format)}.cpuprofile`;
      const result = await profileOne(format, load, file, windowMs, settleMs);
      profiles.push(result);
      log(`${result.format} profiled: ${result.cpuPct.toFixed(1)} % of a core, main thread ` +
        `${result.mainThreadPct.toFixed(1)}: ` +
        Object.entries(result.stagesPct).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", "));
    }
  }
  return { runs, profiles };
}

async function measure(
  server: BenchServer,
  format: CameraFormat,
  load: Load,
  sessions: number,
  windowMs: number,
  settleMs: number,
): Promise<VideoRun & { window: [fromMs: number, toMs: number] }> {
  const clients: TestClient[] = [];
  const streams: Promise<void>[] = [];
  let running = true;
  try {
    await Bun.sleep(2000); // let codecs warm up, as a deployed server has
    for (let i = 0; i < sessions; i++) {
      const client = new TestClient();
      clients.push(client);
      await connectClient(server, client);
      streams.push(client.streamPackets(load.audio, () => !running));
      streams.push(client.streamVideo(load.video, format.fps, () => !running));
    }
    Bun.gc(true);
    await Bun.sleep(settleMs);
    for (const client of clients) forgetReceived(client);
    const stalls = watchStalls();
    const before = scrapeMetrics(server);
    const from = performance.now();
    const fromEpochMs = Date.now();
    const cpuBefore = cpuSeconds(server.pid);
    const statBefore = processStat(server.pid);
    const mainBefore = mainThreadSeconds(server.pid);
    const requestsBefore = clients.reduce((sum, peer) => sum + peer.cameraKeyframeRequests, 0);
    const clientBefore = process.cpuUsage();
    await Bun.sleep(windowMs);
    const to = performance.now();
    const toEpochMs = Date.now();
    const seconds = (to - from) / 1000;
    const serverCpuPct = ((cpuSeconds(server.pid) - cpuBefore) / seconds) * 100;
    const statAfter = processStat(server.pid);
    const mainAfter = mainThreadSeconds(server.pid);
    const requests = clients.reduce((sum, peer) => sum + peer.cameraKeyframeRequests, 0) - requestsBefore;
    const client = process.cpuUsage(clientBefore);
    const clientMaxStallMs = stalls.stop();
    const codec = codecPct(await before, await scrapeMetrics(server), seconds);
    let expected = 0;
    let late = 0;
    let missing = 0;
    let frames = 0;
    const delays: number[] = [];
    for (const peer of clients) {
      delays.push(...audioDelays(peer, from, to));
      const quality = outputQuality(peer.audioIn, peer.audioInAt, from, to);
      expected += quality.expected;
      late += quality.late;
      missing += quality.missing;
      frames += peer.videoIn.filter((rtp) => rtp.header.marker).length;
    }
    const perSession = (pct: number) => pct / sessions;
    const cpuMs = serverCpuPct * seconds * 10;
    const codecTotal = Object.values(codec).reduce((a, b) => a + b, 0);
    const codecPerSession = Object.fromEntries(Object.entries(codec).map(([k, v]) => [k, perSession(v)]));
    return {
      format: formatName(format),
      sessions,
      cpuPctPerSession: perSession(serverCpuPct),
      mainThreadPctPerSession: perSession(((mainAfter - mainBefore) / seconds) * 100),
      stagesPctPerSession: {
        ...(codecPerSession as Record<CodecStage, number>),
        other: perSession(serverCpuPct - codecTotal),
      },
      systemPctPerSession: perSession(((statAfter.systemSeconds - statBefore.systemSeconds) / seconds) * 100),
      pageFaultsPerSecond: (statAfter.minorFaults - statBefore.minorFaults) / seconds,
      cpuMsPerFrame: frames === 0 ? Number.NaN : cpuMs / frames,
      clientCpuPct: ((client.user + client.system) / 1000 / (to - from)) * 100,
      clientMaxStallMs,
      keyframeRequestsPerSecond: requests / sessions / seconds,
      // Frames received in the window, counted by their last packet; the window opened with the lists emptied.
      videoOutFps: frames / sessions / seconds,
      audioLatePct: (late / expected) * 100,
      audioMissingPct: (missing / expected) * 100,
      audioDelayP99Ms: percentile(delays, 99),
      audioDelayMaxMs: Math.max(...delays),
      window: [fromEpochMs, toEpochMs],
    };
  } finally {
    running = false;
    await Promise.all(streams);
    await Promise.all(clients.map((client) => client.close()));
    await drained(server, 30_000);
  }
}

/** One session against the server from source, under Bun's sampling profiler; the profile is written at exit. */
async function profileOne(
  format: CameraFormat,
  load: Load,
  keepAs: string,
  windowMs: number,
  settleMs: number,
): Promise<VideoProfile> {
  const dir = mkdtempSync(join(tmpdir(), "smallwebrtc-video-profile-"));
  try {
    const profiler = ["--cpu-prof", `--cpu-prof-dir=${dir}`];
    const command = ["taskset", "-c", "0", process.execPath, ...profiler, join(repoRoot, "main.ts")];
    const process_ = await startServerProcess({
      command,
      args: ["--bot", "mirror"],
      // One process, as startServer runs the binary: the profile is of the process that serves the session.
      env: { SMALLWEBRTC_LOG_LEVEL: "warn", SMALLWEBRTC_WORKERS: "1" },
    });
    const server: BenchServer = {
      name: "smallwebrtc",
      url: process_.url,
      pid: process_.process.pid,
      stop: async () => void (await process_.stop()),
    };
    let run: Awaited<ReturnType<typeof measure>>;
    try {
      run = await measure(server, format, load, 1, windowMs, settleMs);
    } finally {
      await server.stop();
    }
    const file = readdirSync(dir).find((name) => name.endsWith(".cpuprofile"));
    if (!file) throw new Error(`the profiled server wrote no .cpuprofile into ${dir}`);
    copyFileSync(join(dir, file), keepAs);
    const shares = cpuProfileStages(JSON.parse(readFileSync(keepAs, "utf8")), ...run.window);
    const mainThreadPct = run.mainThreadPctPerSession;
    const stagesPct = Object.fromEntries(Object.entries(shares).map(([k, v]) => [k, v * mainThreadPct]));
    return { format: formatName(format), cpuPct: run.cpuPctPerSession, mainThreadPct, stagesPct, file: keepAs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU % of one core each codec stage used between two scrapes `seconds` apart. */
function codecPct(before: string, after: string, seconds: number): Record<CodecStage, number> {
  const value = (metrics: string, labels: string) =>
    metricSample(metrics, "smallwebrtc_codec_seconds_total", labels) ?? 0;
  return Object.fromEntries(
    Object.entries(CODEC_STAGES).map(([stage, labels]) => [
      stage,
      ((value(after, labels) - value(before, labels)) / seconds) * 100,
    ]),
  ) as Record<CodecStage, number>;
}

/** Kernel CPU seconds and minor page faults so far (/proc/<pid>/stat fields 10 and 15), over the process tree. */
function processStat(pid: number): { systemSeconds: number; minorFaults: number } {
  const total = { systemSeconds: 0, minorFaults: 0 };
  for (const each of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${each}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total.systemSeconds += Number(fields[12]) / 100;
      total.minorFaults += Number(fields[7]);
    } catch {
      // it exited between the listing and the read
    }
  }
  return total;
}

/** Each bot audio packet's delay behind the schedule its session's earliest packet in [from, to) sets, in ms. */
function audioDelays(peer: TestClient, from: number, to: number): number[] {
  const lateness: number[] = [];
  const first = peer.audioIn[0]?.header.timestamp ?? 0;
  for (const [i, packet] of peer.audioIn.entries()) {
    const at = peer.audioInAt[i];
    if (at < from || at >= to) continue;
    lateness.push(at - ((packet.header.timestamp - first) >>> 0) / 48);
  }
  const earliest = Math.min(...lateness);
  return lateness.map((value) => value - earliest);
}

/** CPU seconds of the process's main thread (the thread whose id is the process id). */
function mainThreadSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function forgetReceived(client: TestClient): void {
  client.audioIn.length = 0;
  client.audioInAt.length = 0;
  client.videoIn.length = 0;
}

function formatName({ width, height, fps }: CameraFormat): string {
  return `${width}x${height}@${fps}`;
}

/**
 * Ten seconds of the moving y4m pattern the browser tests' fake camera shows, VP8-encoded once at the format's
 * bitrate and packetised: a keyframe, then only delta frames, as a camera sends them.
 */
async function cameraLoop(format: CameraFormat): Promise<Uint8Array[][]> {
  const { width, height, fps, bitrate } = format;
  const seconds = 10;
  const clip = y4m({ width, height, fps, seconds });
  const frameBytes = i420ByteLength(width, height);
  // Each frame is "FRAME\n" and its planes, after a one-line header.
  const headerEnd = clip.indexOf(0x0a) + 1;
  const encoder = await Vp8Encoder.create({ bitrate, framerate: fps, keyframeInterval: fps * seconds * 2 });
  const packetiser = new Vp8Packetiser();
  const frames: Uint8Array[][] = [];
  try {
    for (let i = 0; i < fps * seconds; i++) {
      const start = headerEnd + i * (6 + frameBytes) + 6;
      const image = { format: "I420" as const, width, height, data: clip.subarray(start, start + frameBytes) };
      for (const encoded of await encoder.encode(image, { timestampMs: (i * 1000) / fps })) {
        frames.push(packetiser.packetise(encoded.data));
      }
    }
  } finally {
    encoder.close();
  }
  return frames;
}
