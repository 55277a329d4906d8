/**
 * /metrics in the Prometheus text format: sessions, offers by result, packets and bytes, codec CPU time, event-loop
 * stalls and collection pauses, the bridge's sockets and queues, and memory. Gauges are read at scrape time; only
 * counters are kept.
 */
import type { TcpMuxStats } from "../webrtc/tcpMux.ts";
import process from "node:process";
import { bridgeStats } from "../bridge/bridgeStats.ts";
import { audioSenderStats } from "../media/audioSender.ts";
import { videoSenderStats } from "../media/videoSender.ts";
import { codecSeconds } from "../media/codecTime.ts";
import { stageLatencies } from "../pipeline/stageLatency.ts";
import { encoderComplexity } from "../media/encoderComplexity.ts";
import type { SmallWebRTCConnection, Traffic } from "../webrtc/connection.ts";
import type { HeapCollector } from "./heapCollector.ts";
import {
  LoopStalls,
  type PauseHistogram,
  type RecentPauses,
  STALL_BUCKETS_MS,
  STALL_FLOOR_MS,
  STALL_WINDOW_MS,
} from "./loopStalls.ts";

export type OfferResult =
  | "answered"
  | "invalid"
  | "unauthorized"
  | "not_found"
  | "busy"
  | "rate_limited"
  | "capacity"
  | "error";

export function offerResult(status: number): OfferResult {
  if (status < 300) return "answered";
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404) return "not_found";
  if (status === 409) return "busy";
  if (status === 429) return "rate_limited";
  if (status === 503) return "capacity";
  return status < 500 ? "invalid" : "error";
}

type MetricType = "gauge" | "counter" | "histogram";

export class Metrics {
  readonly #offers = new Map<OfferResult, number>();
  #closedTraffic: Traffic = { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 };
  readonly #heap?: HeapCollector;
  readonly #stalls: LoopStalls;

  constructor(heap?: HeapCollector, stalls = new LoopStalls()) {
    this.#heap = heap;
    this.#stalls = stalls;
  }

  countOffer(status: number): void {
    const result = offerResult(status);
    this.#offers.set(result, (this.#offers.get(result) ?? 0) + 1);
  }

  /** Keeps a closed connection's traffic in the totals. */
  connectionClosed(connection: SmallWebRTCConnection): void {
    this.#closedTraffic = addTraffic(this.#closedTraffic, connection.traffic);
  }

  /** Starts measuring event-loop stalls and the collection pauses among them. */
  startStallProbe(): void {
    this.#stalls.start();
  }

  stop(): void {
    this.#stalls.stop();
  }

  /** The HTTP side: offers by result. */
  renderOffers(): string {
    const { lines, metric } = textFormat();
    metric("smallwebrtc_offers_total", "counter", "Offers and /start calls by result.",
      [...this.#offers].map(([result, count]) => [`{result="${result}"}`, count]));
    return `${lines.join("\n")}\n`;
  }

  /** The sessions of this process, and the process itself (its loop, heap and memory). */
  /** The sessions' series; `iceTcp` are the counters of the shared ICE-TCP port, when there is one. */
  renderSessions(open: readonly SmallWebRTCConnection[], iceTcp?: TcpMuxStats): string {
    const traffic = open.reduce((sum, connection) => addTraffic(sum, connection.traffic), this.#closedTraffic);
    const { lines, metric } = textFormat();
    metric("smallwebrtc_sessions", "gauge", "Open peer connections.", [["", open.length]]);
    metric("smallwebrtc_packets_total", "counter", "Packets on selected ICE pairs.", [
      ['{direction="in"}', traffic.packetsIn],
      ['{direction="out"}', traffic.packetsOut],
    ]);
    metric("smallwebrtc_bytes_total", "counter", "Bytes on selected ICE pairs.", [
      ['{direction="in"}', traffic.bytesIn],
      ['{direction="out"}', traffic.bytesOut],
    ]);
    if (iceTcp) {
      metric("smallwebrtc_ice_tcp_connections_total", "counter",
        "Connections to ice.tcpPort: handed to their session, or refused (not ICE, no such session, or silent).", [
          ['{result="accepted"}', iceTcp.accepted],
          ['{result="refused"}', iceTcp.refused],
        ]);
      metric("smallwebrtc_ice_tcp_dropped_frames_total", "counter",
        "Frames not sent because an ICE-TCP client read too slowly.", [["", iceTcp.droppedFrames]]);
    }
    metric("smallwebrtc_codec_seconds_total", "counter", "CPU time spent encoding and decoding media.",
      codecSeconds().map(({ codec, operation, seconds }) => [`{codec="${codec}",operation="${operation}"}`, seconds]));
    metric("smallwebrtc_audio_packets_skipped_total", "counter",
      "Bot audio packets never sent (a timestamp gap) because the server stalled for more than 60 ms.",
      [["", audioSenderStats.skippedPackets]]);
    metric("smallwebrtc_video_images_dropped_total", "counter",
      "Live bot pictures (videoOutIsLive) dropped unsent because the bot pushed them faster than the frame rate.",
      [["", videoSenderStats.droppedImages]]);
    const stages = stageLatencies();
    metric("smallwebrtc_stage_latency_seconds", "gauge",
      "Latency smallwebrtc adds to a voice turn, by stage, over its last 1000 samples (p50, p95, max).",
      stages.flatMap(({ stage, p50Ms, p95Ms, maxMs }) => [
        [`{stage="${stage}",quantile="0.5"}`, p50Ms / 1000],
        [`{stage="${stage}",quantile="0.95"}`, p95Ms / 1000],
        [`{stage="${stage}",quantile="1"}`, maxMs / 1000],
      ]));
    metric("smallwebrtc_stage_latency_samples", "gauge", "Samples those quantiles are taken over, by stage.",
      stages.map(({ stage, count }) => [`{stage="${stage}"}`, count]));
    if (this.#heap) {
      metric("smallwebrtc_heap_collections_total", "counter",
        "Full heap collections requested to keep memory flat (Bun).",
        [["", this.#heap.collections]]);
      metric("smallwebrtc_heap_collection_seconds_total", "counter",
        "Time spent requesting them (the collection itself runs concurrently).",
        [["", this.#heap.pauseMs / 1000]]);
    }
    metric("smallwebrtc_opus_complexity", "gauge", "Opus complexity bot audio is encoded with now (lower under load).",
      [["", encoderComplexity.current]]);
    metric("smallwebrtc_bridge_sockets", "gauge", "Open WebSockets to a remote bot.", [["", bridgeStats.openSockets]]);
    metric("smallwebrtc_bridge_connect_failures_total", "counter", "Sessions whose remote bot could not be reached.",
      [["", bridgeStats.failedConnects]]);
    metric("smallwebrtc_bridge_queued_audio_seconds", "gauge", "Audio the bridge holds: for the bot, for the client.", [
      ['{direction="to_bot"}', bridgeStats.queuedSeconds("toBot")],
      ['{direction="to_client"}', bridgeStats.queuedSeconds("toClient")],
    ]);
    metric("smallwebrtc_bridge_dropped_audio_seconds_total", "counter",
      "Audio the bridge dropped, oldest first, because more than bridge.maxQueuedMs waited.", [
        ['{direction="to_bot"}', bridgeStats.droppedSeconds("toBot")],
        ['{direction="to_client"}', bridgeStats.droppedSeconds("toClient")],
      ]);
    lines.push(...this.renderProcess());
    return `${lines.join("\n")}\n`;
  }

  /** The process alone: its event-loop stalls and collection pauses, and how much memory it holds. */
  renderProcess(): string[] {
    const { lines, metric } = textFormat();
    const window = `the last ${STALL_WINDOW_MS / 1000} s`;
    metric("smallwebrtc_event_loop_stall_seconds", "histogram",
      `Event-loop stalls: how late a 10 ms timer fired, counted when over ${STALL_FLOOR_MS} ms.`,
      histogramSamples(this.#stalls.stalls));
    metric("smallwebrtc_event_loop_stall_recent_seconds", "gauge",
      `How late the 10 ms timer fired over ${window}, every firing counted (p99, max).`,
      recentSamples(this.#stalls.recentStalls()));
    metric("smallwebrtc_gc_pause_seconds", "histogram",
      "Those stalls with a garbage collection in them (neither runtime reports its collections: an object left by " +
        "the timer's previous firing, held only weakly, was gone).",
      histogramSamples(this.#stalls.gcPauses));
    metric("smallwebrtc_gc_collections_total", "counter",
      "Timer intervals in which a garbage collection ran, stall or not (several in one interval count once).",
      [["", this.#stalls.collections]]);
    metric("smallwebrtc_gc_pause_recent_seconds", "gauge", `Those collection pauses over ${window} (p99, max).`,
      recentSamples(this.#stalls.recentGcPauses()));
    metric("process_resident_memory_bytes", "gauge", "Resident set size.", [["", process.memoryUsage().rss]]);
    return lines;
  }
}

type MetricWriter = (name: string, type: MetricType, help: string, samples: [string, number][]) => void;

/** Lines in the Prometheus text format, and the function that adds one family to them. */
function textFormat(): { lines: string[]; metric: MetricWriter } {
  const lines: string[] = [];
  const metric: MetricWriter = (name, type, help, samples) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  return { lines, metric };
}

/** A histogram's cumulative buckets, sum and count, in seconds. */
function histogramSamples(histogram: PauseHistogram): [string, number][] {
  let cumulative = 0;
  const bounds = [...STALL_BUCKETS_MS.map((ms) => String(ms / 1000)), "+Inf"];
  return [
    ...bounds.map((le, i): [string, number] => [`_bucket{le="${le}"}`, (cumulative += histogram.counts[i])]),
    ["_sum", histogram.sumMs / 1000],
    ["_count", histogram.count],
  ];
}

function recentSamples({ p99Ms, maxMs }: RecentPauses): [string, number][] {
  return [['{quantile="0.99"}', p99Ms / 1000], ['{quantile="1"}', maxMs / 1000]];
}

function addTraffic(a: Traffic, b: Traffic): Traffic {
  return {
    packetsIn: a.packetsIn + b.packetsIn,
    packetsOut: a.packetsOut + b.packetsOut,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
  };
}
