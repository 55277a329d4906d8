/**
 * Benchmark: what the bridge costs. The same load (sessionsPerCore.ts: speech in real time, a marker tone once a
 * second) runs against the binary's built-in echo bot and against the binary bridged to a local bot that echoes
 * over the WebSocket, in the same run, alternating, `rounds` times. Figures per round: marker echo latency (p50 of
 * the probed sessions) and server CPU per session; the result is the worst round's difference and ratio.
 *
 * The local bot (wsEchoBot.ts) sends every frame back as it came: it costs next to nothing, so what the bridged server
 * does more is all the bridge's. It runs in a process of its own on the load client's core.
 */
import { type BenchServer, startServer, startSideProcess } from "./servers.ts";
import { sweepSessions, type SweepStep } from "./sessionsPerCore.ts";

export interface BridgeRound {
  builtIn: BridgeFigures;
  bridged: BridgeFigures;
  /** bridged p50 - built-in p50, at `sessions` sessions. */
  extraP50Ms: number;
  /** bridged CPU per session / built-in CPU per session. */
  cpuRatio: number;
}

export interface BridgeFigures {
  echoP50Ms: number;
  echoP95Ms: number;
  cpuPctPerSession: number;
  latePct: number;
}

export interface BridgeResult {
  sessions: number;
  rounds: BridgeRound[];
  worstExtraP50Ms: number;
  worstCpuRatio: number;
}

export interface BridgeBenchOptions {
  rounds: number;
  sessions: number;
  log: (line: string) => void;
}

export async function benchBridge({ rounds, sessions, log }: BridgeBenchOptions): Promise<BridgeResult> {
  const bot = await startSideProcess("wsEchoBot.ts");
  const results: BridgeRound[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const builtIn = await measure(`round ${round}/${rounds}: built-in echo`, [], sessions, log);
      // The bridge is told what this bot sends, as for any bot: its audio is live, like the built-in echo's, and at
      // the rate the client's audio reaches it (16 kHz).
      const bridged = await measure(`round ${round}/${rounds}: bridged echo`, ["--bot", bot.url], sessions, log, {
        SMALLWEBRTC_BRIDGE_AUDIO_OUT_LIVE: "true",
        SMALLWEBRTC_BRIDGE_AUDIO_OUT_SAMPLE_RATE: "16000",
      });
      results.push({
        builtIn,
        bridged,
        extraP50Ms: bridged.echoP50Ms - builtIn.echoP50Ms,
        cpuRatio: bridged.cpuPctPerSession / builtIn.cpuPctPerSession,
      });
    }
  } finally {
    await bot.stop();
  }
  return {
    sessions,
    rounds: results,
    worstExtraP50Ms: Math.max(...results.map((round) => round.extraP50Ms)),
    worstCpuRatio: Math.max(...results.map((round) => round.cpuRatio)),
  };
}

async function measure(
  what: string,
  args: string[],
  sessions: number,
  log: (line: string) => void,
  env: Record<string, string> = {},
): Promise<BridgeFigures> {
  log(what);
  const server: BenchServer = await startServer("smallwebrtc", "binary", args, env);
  try {
    await Bun.sleep(2000); // let codecs warm up, as a deployed server has
    const result = await sweepSessions(server, { steps: [sessions], log });
    const step: SweepStep | undefined = result.steps[0];
    if (!step) throw new Error(`${what}: no measurement`);
    return {
      echoP50Ms: step.latencyMs.p50,
      echoP95Ms: step.latencyMs.p95,
      cpuPctPerSession: step.cpuPctPerSession,
      latePct: step.badPct,
    };
  } finally {
    await server.stop();
  }
}
