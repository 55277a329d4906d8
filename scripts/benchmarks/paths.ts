/**
 * Connect time and echo latency by network path, on one server: direct UDP, ICE over TCP (ice.tcpPort, with every
 * UDP packet in the namespace dropped, as a network that blocks UDP does), and through a TURN relay (a real coturn in
 * a namespace of its own, reached over UDP, TCP or TLS, the client relay-only). The client builds its offer, and so
 * gathers its relay candidate, before the clock starts: the relay's share of a connect is its round trips after that. Each round connects one audio session (POST /api/offer to DTLS connected), streams speech with a tone
 * marker every second for a few seconds, and takes the markers' echo latency. The paths take turns, round by round,
 * so that a slow moment of the machine does not land on one path alone.
 */
import { mintTurnCredentials } from "../../lib/config/turnCredentials.ts";
import { type Coturn, startCoturn } from "../../test/support/coturn.ts";
import { createLan } from "../../test/support/lan.ts";
import { withoutUdp } from "../support/packetFilter.ts";
import { TestClient } from "../support/weriftClient.ts";
import { loadPackets, MARKER_AT, markerLatencies, PACKETS_PER_SECOND, percentile } from "./loadStream.ts";
import { type BenchServer, startServer } from "./servers.ts";

export type PathName = "udp" | "tcp" | "relay-udp" | "relay-tcp" | "relay-tls";

export interface PathResult {
  path: PathName;
  connectedMs: { p50: number; p95: number };
  echoMs: { p50: number; p95: number };
  markers: number;
}

/** How a path is set up around each round: a client of its own, and what the network must look like meanwhile. */
export interface PathSetup {
  client(): TestClient;
  /** Runs `work` with the network shaped for the path (for TCP: UDP dropped). */
  around<T>(work: () => Promise<T>): Promise<T>;
}

const STREAM_SECONDS = 4;

export async function measurePaths(
  server: BenchServer,
  setups: Partial<Record<PathName, PathSetup>>,
  packets: Uint8Array[],
  rounds: number,
): Promise<PathResult[]> {
  const connected = new Map<PathName, number[]>();
  const echoes = new Map<PathName, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const [path, setup] of Object.entries(setups) as [PathName, PathSetup][]) {
      const { connectedMs, latencies } = await setup.around(() => oneRound(server, setup.client(), packets));
      connected.set(path, [...(connected.get(path) ?? []), connectedMs]);
      echoes.set(path, [...(echoes.get(path) ?? []), ...latencies]);
    }
  }
  return [...connected.keys()].map((path) => {
    const echo = echoes.get(path) ?? [];
    const times = connected.get(path)!;
    return {
      path,
      connectedMs: { p50: percentile(times, 50), p95: percentile(times, 95) },
      echoMs: { p50: percentile(echo, 50), p95: percentile(echo, 95) },
      markers: echo.length,
    };
  });
}

async function oneRound(
  server: BenchServer,
  client: TestClient,
  packets: Uint8Array[],
): Promise<{ connectedMs: number; latencies: number[] }> {
  try {
    const body = JSON.stringify(await client.offer());
    const start = performance.now();
    const response = await fetch(`${server.url}/api/offer`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    if (!response.ok) throw new Error(`offer refused: ${response.status} ${await response.text()}`);
    const connectedAt = client.connected(20_000).then(() => performance.now());
    await client.accept(await response.json());
    const connectedMs = (await connectedAt) - start;
    const markersSentAt: number[] = [];
    const streamStart = performance.now();
    const until = () => performance.now() - streamStart > STREAM_SECONDS * 1000;
    await client.streamPackets(packets, until, (index, at) => {
      if (index % PACKETS_PER_SECOND === MARKER_AT) markersSentAt.push(at);
    });
    const latencies = markerLatencies(client.audioIn, client.audioInAt, markersSentAt, streamStart, Infinity);
    return { connectedMs, latencies };
  } finally {
    await client.close();
  }
}

const TURN_SECRET = "bench-turn-secret-0123456789";
/** A fixed port for ICE over TCP: the benchmark runs in a network namespace of its own. */
const TCP_PORT = 42400;
const AUDIO_ONLY = [{ kind: "audio" as const, direction: "sendrecv" as const }];

/** Starts coturn on a LAN host and the binary with ice.tcpPort, and measures each path against them. */
export async function benchPaths(options: { rounds: number; log: (line: string) => void }): Promise<PathResult[]> {
  const packets = await loadPackets();
  const lan = createLan(["relay"]);
  let coturn: Coturn | undefined;
  let server: BenchServer | undefined;
  try {
    coturn = await startCoturn({ host: lan.hosts.relay, secret: TURN_SECRET });
    // The server offers its LAN address too (every address by default), which is what the relay sends to.
    server = await startServer("smallwebrtc", "binary", [], { SMALLWEBRTC_ICE_TCP_PORT: String(TCP_PORT) });
    await Bun.sleep(2000); // let codecs warm up, as a deployed server has
    const relay = (url: string) => {
      const { username, credential } = mintTurnCredentials(TURN_SECRET, "bench", 3600);
      const { certificate } = coturn!;
      return () => new TestClient({ media: AUDIO_ONLY, relay: { urls: [url], username, credential, certificate } });
    };
    const direct = <T>(work: () => Promise<T>) => work();
    options.log(`paths: udp, tcp, relay-udp, relay-tcp, relay-tls, ${options.rounds} rounds each`);
    return await measurePaths(server, {
      udp: { client: () => new TestClient({ media: AUDIO_ONLY }), around: direct },
      tcp: { client: () => new TestClient({ media: AUDIO_ONLY, iceTcp: true }), around: withoutUdp },
      "relay-udp": { client: relay(coturn.urls.udp), around: direct },
      "relay-tcp": { client: relay(coturn.urls.tcp), around: direct },
      "relay-tls": { client: relay(coturn.urls.tls), around: direct },
    }, packets, options.rounds);
  } finally {
    await server?.stop();
    await coturn?.stop();
    lan.close();
  }
}
