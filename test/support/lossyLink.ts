/**
 * A userspace network impairment (this kernel has no netem): a UDP relay between a client and the server that drops
 * a share of datagrams and delays the rest by a base latency plus jitter, in both directions. The client is pointed
 * at the relay by rewriting the server candidate in the answer, and offers no candidates of its own, so every packet
 * takes the relay.
 */
import { createSocket, type Socket } from "node:dgram";
import { seededRandom } from "./virtualClock.ts";

export interface Impairment {
  /** Share of datagrams dropped, 0-1. */
  loss: number;
  /** Fixed one-way delay in ms. */
  delayMs: number;
  /** Extra random delay, uniform in [0, jitterMs] (so packets can overtake each other). */
  jitterMs: number;
  seed?: number;
}

export interface LossyLink {
  port: number;
  stats: { forwarded: number; dropped: number };
  /** Changes the impairment from now on (start clean to let the handshake through, then degrade). */
  impair(impairment: Impairment): void;
  close(): void;
}

const CLEAN: Impairment = { loss: 0, delayMs: 0, jitterMs: 0 };

export async function openLossyLink(serverPort: number, initial: Impairment = CLEAN): Promise<LossyLink> {
  let impairment = initial;
  let random = seededRandom(initial.seed ?? 7);
  const socket: Socket = createSocket("udp4");
  socket.on("error", () => {});
  const stats = { forwarded: 0, dropped: 0 };
  let client: { address: string; port: number } | undefined;
  // Delayed datagrams may still be due after close(); sending on a closed socket throws.
  let closed = false;
  socket.on("message", (data, from) => {
    const fromServer = from.port === serverPort && from.address === "127.0.0.1";
    if (!fromServer) client = { address: from.address, port: from.port };
    const to = fromServer ? client : { address: "127.0.0.1", port: serverPort };
    if (!to) return;
    if (random() < impairment.loss) {
      stats.dropped++;
      return;
    }
    stats.forwarded++;
    const forward = () => closed || socket.send(data, to.port, to.address);
    setTimeout(forward, impairment.delayMs + random() * impairment.jitterMs);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    stats,
    impair: (next) => {
      impairment = next;
      random = seededRandom(next.seed ?? 7);
    },
    close: () => {
      closed = true;
      socket.close();
    },
  };
}

/** Points the answer's host candidates at the relay. */
export function throughLink(answerSdp: string, linkPort: number): { sdp: string; serverPort: number } {
  const match = answerSdp.match(/^a=candidate:\S+ \d+ udp \d+ 127\.0\.0\.1 (\d+) typ host/m);
  if (!match) throw new Error("the answer has no 127.0.0.1 host candidate");
  const serverPort = Number(match[1]);
  return { sdp: answerSdp.replaceAll(` 127.0.0.1 ${serverPort} typ host`, ` 127.0.0.1 ${linkPort} typ host`), serverPort };
}
