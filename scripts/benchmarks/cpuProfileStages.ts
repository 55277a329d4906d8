/**
 * Splits a sampling CPU profile (Chrome's .cpuprofile format, which `bun --cpu-prof` writes) by stage of the media
 * path. Each sample goes to the stage of the innermost frame on its stack that a rule recognises, so WebAssembly
 * (whose frames carry no names) counts for the codec that called it, and a copy made by `Uint8Array.set` for the
 * module that asked for it.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** Wall-clock microseconds since the epoch. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Stage -> share of the busy samples (0..1). */
export type StageShares = Record<string, number>;

/** First match wins, tried on each frame from the innermost outwards. */
const RULES: readonly [stage: string, test: (url: string, name: string) => boolean][] = [
  ["GC", (_, name) => name === "(garbage collector)"],
  ["RGB/I420 conversion", (url) => /lib\/media\/yuv\.ts$/.test(url)],
  ["scaling", (url) => /lib\/media\/imageScaler\.ts$/.test(url)],
  ["copies in/out of libav's heap", (url) => /lib\/media\/libav\.ts$/.test(url)],
  ["vp8 encode", (url, name) => /lib\/media\/vp8\.ts$/.test(url) && /encode/i.test(name)],
  ["vp8 decode", (url, name) => /lib\/media\/vp8\.ts$/.test(url) && /decode/i.test(name)],
  ["opus", (url) => /lib\/media\/(opus|audioCodecs)\.ts$/.test(url)],
  ["resampling", (url) => /lib\/media\/resampler\.ts$/.test(url)],
  ["VP8 RTP (de)packetising", (url) => /lib\/media\/(vp8Rtp|videoDepacketiser|jitterBuffer)\.ts$/.test(url)],
  ["video receiver/sender", (url) => /lib\/media\/video(Receiver|Sender)\.ts$/.test(url)],
  ["audio receiver/sender", (url) => /lib\/media\/(audio(Receiver|Sender)|pacer|sampleQueue)\.ts$/.test(url)],
  ["werift SRTP/SRTCP", (url) => /werift.*\/(srtp|srtcp|cipher|rtp\/src\/srtp)/.test(url)],
  ["werift RTP/RTCP", (url) => /werift.*\/rtp/.test(url) || /werift.*(rtpSender|rtpReceiver|rtpTransceiver)/.test(url)],
  ["werift ICE/DTLS/SCTP", (url) => /werift.*\/(ice|dtls|sctp)\//.test(url)],
  ["werift other", (url) => /werift/.test(url)],
  ["pipeline/transport/bot", (url) => /lib\/(pipeline|transport|bots|rtvi)\//.test(url)],
  ["connection/server", (url) => /lib\/(webrtc|server|runner)\//.test(url)],
];

/** Samples with these leaf frames are not CPU use. */
const IDLE = new Set(["(idle)", "(program)"]);

/**
 * Shares of the busy samples taken in [fromMs, toMs) (epoch milliseconds; default the whole profile), by stage.
 * Samples no rule recognises count as "other".
 */
export function cpuProfileStages(profile: CpuProfile, fromMs = -Infinity, toMs = Infinity): StageShares {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const stageOf = new Map<number, string | undefined>();
  const classify = (id: number): string | undefined => {
    if (stageOf.has(id)) return stageOf.get(id);
    const { url, functionName } = nodes.get(id)!.callFrame;
    const own = RULES.find(([, test]) => test(url, functionName))?.[0];
    const parent = parents.get(id);
    const stage = own ?? (parent === undefined ? undefined : classify(parent));
    stageOf.set(id, stage);
    return stage;
  };
  const counts = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime / 1000;
  for (const [i, id] of profile.samples.entries()) {
    at += profile.timeDeltas[i] / 1000;
    if (at < fromMs || at >= toMs || IDLE.has(nodes.get(id)!.callFrame.functionName)) continue;
    busy++;
    const stage = classify(id) ?? "other";
    counts.set(stage, (counts.get(stage) ?? 0) + 1);
  }
  const shares: StageShares = {};
  for (const [stage, count] of [...counts].sort((a, b) => b[1] - a[1])) shares[stage] = count / busy;
  return shares;
}
