/**
 * Connect time, one session at a time on an idle server: from POST /api/offer to the answer, to DTLS connected (the
 * client's connection state) and to the data channel open. The client builds its offer before the clock starts:
 * that is the client's work, not the server's.
 */
import { TestClient } from "../support/weriftClient.ts";
import { percentile } from "./loadStream.ts";
import { type BenchServer, drained } from "./servers.ts";

export interface Spread {
  p50: number;
  p95: number;
}

export interface ConnectResult {
  answerMs: Spread;
  connectedMs: Spread;
  dataChannelMs: Spread;
  freedAll: boolean;
}

export async function measureConnect(server: BenchServer, rounds: number): Promise<ConnectResult> {
  const answer: number[] = [];
  const connected: number[] = [];
  const channel: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
    try {
      const body = JSON.stringify(await client.offer());
      const start = performance.now();
      const response = await fetch(`${server.url}/api/offer`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
      const reply = await response.json();
      answer.push(performance.now() - start);
      const connectedAt = client.connected().then(() => performance.now());
      const openAt = client.channelOpen().then(() => performance.now());
      await client.accept(reply);
      connected.push((await connectedAt) - start);
      channel.push((await openAt) - start);
    } finally {
      await client.close();
    }
  }
  return {
    answerMs: spread(answer),
    connectedMs: spread(connected),
    dataChannelMs: spread(channel),
    // The clients are gone; wait for the server to notice so later benchmarks start from an idle server.
    freedAll: await drained(server, 60_000),
  };
}

function spread(values: number[]): Spread {
  return { p50: percentile(values, 50), p95: percentile(values, 95) };
}
