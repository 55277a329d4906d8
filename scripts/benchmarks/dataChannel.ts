/**
 * Data channel throughput: one client queues 10,000 messages at once (non-RTVI JSON, which both echo servers send
 * straight back) and waits for every echo. Reports messages and megabytes per second of echoed payload; a stall
 * shows as a missing echo when the wait ends.
 */
import { TestClient } from "../support/weriftClient.ts";
import { type BenchServer, connectClient } from "./servers.ts";

export interface DataChannelResult {
  messages: number;
  echoed: number;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
}

const MESSAGES = 10_000;
const PADDING = "x".repeat(200);
const TIMEOUT_MS = 60_000;

export async function measureDataChannel(server: BenchServer): Promise<DataChannelResult> {
  const client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
  try {
    await connectClient(server, client);

    const messages = Array.from({ length: MESSAGES }, (_, seq) => JSON.stringify({ bench: "echo", seq, padding: PADDING }));
    const bytes = messages.reduce((sum, message) => sum + message.length, 0);
    let count = 0;
    let scanned = client.receivedText.length;
    const echoed = () => {
      for (; scanned < client.receivedText.length; scanned++) if (client.receivedText[scanned].startsWith('{"bench"')) count++;
      return count;
    };
    const start = performance.now();
    for (const message of messages) client.send(message);
    while (echoed() < MESSAGES && performance.now() - start < TIMEOUT_MS) await Bun.sleep(5);
    const seconds = (performance.now() - start) / 1000;
    echoed();
    return {
      messages: MESSAGES,
      echoed: count,
      seconds,
      messagesPerSecond: count / seconds,
      megabytesPerSecond: (bytes * (count / MESSAGES)) / 1e6 / seconds,
    };
  } finally {
    await client.close();
  }
}
