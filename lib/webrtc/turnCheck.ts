/**
 * A start-up check of the configured TURN server: one Allocate with the credentials this server hands out, by the
 * long-term credential flow of RFC 8656 section 9.2 (the request without credentials, a 401 naming the realm and a
 * nonce, the same request signed with MESSAGE-INTEGRITY), after which the allocation is released at once (a Refresh
 * with LIFETIME 0).
 *
 * It exists because werift's TURN client cannot tell why an allocation failed: it ignores an error answer that
 * carries no MESSAGE-INTEGRITY, which is how coturn refuses wrong credentials, so a wrong secret or an expired
 * username shows up as a timeout at debug level, and then as calls that never relay. Only the server named in the
 * config is contacted.
 */
import { createSocket } from "node:dgram";
import { connect as connectTcp, isIP, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { classes, makeIntegrityKey, Message, methods, parseMessage } from "werift";
import type { Logger } from "../log/logger.ts";

/** One TURN URL with the credentials to try on it. */
export interface TurnCredentials {
  url: string;
  username: string;
  credential: string;
}

export type TurnCheckResult =
  /** The server allocated a relayed address with these credentials. */
  | { outcome: "accepted"; relayedAddress: string }
  /**
   * An error answer. `credentials` when it refused them (a 401 to the signed request: a wrong secret or password, or an
   * expired username); otherwise it refused the allocation itself (a quota, say).
   */
  | { outcome: "refused"; code: number; reason: string; credentials: boolean }
  /** No answer, a connection or TLS error, or a URL that names no usable transport. */
  | { outcome: "unreachable"; error: string };

export interface TurnCheckOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** RFC 8489 section 6.2.1: the first retransmission after 500 ms, each next one after twice as long. */
const UDP_FIRST_RTO_MS = 500;
const STUN_HEADER_BYTES = 20;
/** REQUESTED-TRANSPORT carries the IANA protocol number (17, UDP) in its first byte (RFC 8656 section 18.7). */
const REQUESTED_TRANSPORT_UDP = 17 << 24;

/** Logs the outcome of checking `turn` in one line: info when it accepted the credentials, warn otherwise. */
export async function logTurnCheck(turn: TurnCredentials, logger: Logger, signal?: AbortSignal): Promise<void> {
  const result = await checkTurnServer(turn, { signal });
  if (signal?.aborted) return;
  const server = `TURN server ${turn.url}`;
  switch (result.outcome) {
    case "accepted":
      logger.info(`${server} accepted the credentials`, { relayed: result.relayedAddress });
      return;
    case "refused":
      logger.warn(`${server} refused the ${result.credentials ? "credentials" : "allocation"}: ${result.code}`, {
        reason: result.reason,
        ...(result.credentials ? { username: turn.username, ...expiry(turn.username) } : {}),
      });
      return;
    case "unreachable":
      logger.warn(`${server} could not be reached`, { error: result.error });
  }
}

/** One Allocate on `turn.url` with its credentials, released again when it succeeds. */
export async function checkTurnServer(turn: TurnCredentials, options: TurnCheckOptions = {}): Promise<TurnCheckResult> {
  const target = parseTurnUrl(turn.url);
  if (!target) return { outcome: "unreachable", error: "the URL names no transport this server can use" };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  let link: StunLink | undefined;
  try {
    link = await openLink(target, signal);
    const allocate = () =>
      new Message(methods.ALLOCATE, classes.REQUEST).setAttribute("REQUESTED-TRANSPORT", REQUESTED_TRANSPORT_UDP);
    const challenge = await link.exchange(allocate(), signal);
    if (challenge.messageClass === classes.RESPONSE) return accepted(challenge);
    const realm: string | undefined = challenge.getAttributeValue("REALM");
    const nonce: Buffer | undefined = challenge.getAttributeValue("NONCE");
    if (errorCode(challenge)[0] !== 401 || !realm || !nonce) return refused(challenge, false);

    const key = makeIntegrityKey(turn.username, realm, turn.credential);
    const sign = (request: Message) =>
      request.setAttribute("USERNAME", turn.username).setAttribute("REALM", realm).setAttribute("NONCE", nonce)
        .addMessageIntegrity(key);
    const answer = await link.exchange(sign(allocate()), signal);
    if (answer.messageClass !== classes.RESPONSE) return refused(answer, true);
    const release = sign(new Message(methods.REFRESH, classes.REQUEST).setAttribute("LIFETIME", 0));
    // The allocation lapses on its own (10 minutes at most) if this answer never comes.
    await link.exchange(release, signal).catch(() => {});
    return accepted(answer);
  } catch (error) {
    const text = deadline.aborted ? `no answer within ${timeoutMs} ms` : (error as Error).message;
    return { outcome: "unreachable", error: text };
  } finally {
    link?.close();
  }
}

function accepted(answer: Message): TurnCheckResult {
  const [host, port] = answer.getAttributeValue("XOR-RELAYED-ADDRESS") ?? ["?", 0];
  return { outcome: "accepted", relayedAddress: `${host}:${port}` };
}

function refused(answer: Message, signed: boolean): TurnCheckResult {
  const [code, reason] = errorCode(answer);
  return { outcome: "refused", code, reason, credentials: signed && code === 401 };
}

function errorCode(answer: Message): [number, string] {
  return answer.getAttributeValue("ERROR-CODE") ?? [0, "no ERROR-CODE"];
}

/** A TURN REST username (`<unix expiry>:<user>`) whose expiry has passed says so. */
function expiry(username: string): { expiredAt?: string } {
  const seconds = Number(/^(\d+):/.exec(username)?.[1]);
  return seconds * 1000 < Date.now() ? { expiredAt: new Date(seconds * 1000).toISOString() } : {};
}

interface TurnTarget {
  host: string;
  port: number;
  transport: "udp" | "tcp" | "tls";
}

/** `turn:host[:port][?transport=udp|tcp]` or `turns:host[:port][?transport=tcp]` (RFC 7065), as werift reads them. */
export function parseTurnUrl(url: string): TurnTarget | undefined {
  const match = /^(turns?):(?:\[([^\]]+)\]|([^:?[\]]+))(?::(\d+))?(?:\?transport=(udp|tcp))?$/i.exec(url.trim());
  if (!match) return undefined;
  const secure = match[1].toLowerCase() === "turns";
  const transport = match[5]?.toLowerCase();
  if (secure && transport === "udp") return undefined;
  return {
    host: match[2] ?? match[3],
    port: match[4] ? Number(match[4]) : secure ? 5349 : 3478,
    transport: secure ? "tls" : transport === "tcp" ? "tcp" : "udp",
  };
}

/** A path to the TURN server carrying STUN requests and their answers. */
interface StunLink {
  exchange(request: Message, signal: AbortSignal): Promise<Message>;
  close(): void;
}

/** Answers matched to their requests by transaction ID; anything else the server sends is ignored. */
class Transactions {
  readonly #waiting = new Map<string, (answer: Message) => void>();

  receive(data: Buffer): void {
    const message = parseMessage(data);
    if (message) this.#waiting.get(message.transactionIdHex)?.(message);
  }

  wait(request: Message, signal: AbortSignal, onEnd: () => void = () => {}): Promise<Message> {
    const id = request.transactionIdHex;
    return new Promise<Message>((resolve, reject) => {
      const end = () => {
        this.#waiting.delete(id);
        signal.removeEventListener("abort", abort);
        onEnd();
      };
      const abort = () => {
        end();
        reject(signal.reason);
      };
      if (signal.aborted) return abort();
      signal.addEventListener("abort", abort);
      this.#waiting.set(id, (answer) => {
        end();
        resolve(answer);
      });
    });
  }
}

function openLink(target: TurnTarget, signal: AbortSignal): Promise<StunLink> {
  return target.transport === "udp" ? Promise.resolve(udpLink(target)) : streamLink(target, signal);
}

/** UDP: each request is sent again at growing intervals until its answer arrives. */
function udpLink(target: TurnTarget): StunLink {
  const socket = createSocket(isIP(target.host) === 6 ? "udp6" : "udp4");
  const transactions = new Transactions();
  socket.on("message", (data) => transactions.receive(data));
  // Send failures (an unreachable network) are retried like lost datagrams until the deadline.
  socket.on("error", () => {});
  return {
    exchange: (request, signal) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const send = (rtoMs: number) => {
        socket.send(request.bytes, target.port, target.host);
        timer = setTimeout(() => send(rtoMs * 2), rtoMs);
      };
      const answer = transactions.wait(request, signal, () => clearTimeout(timer));
      send(UDP_FIRST_RTO_MS);
      return answer;
    },
    close: () => socket.close(),
  };
}

/** TCP or TLS: STUN messages back to back on the stream, each as long as its header says (RFC 8656 section 3.1). */
async function streamLink(target: TurnTarget, signal: AbortSignal): Promise<StunLink> {
  const { host, port } = target;
  const socket: Socket = target.transport === "tls"
    ? connectTls({ host, port, ...(isIP(host) ? {} : { servername: host }) })
    : connectTcp({ host, port });
  const transactions = new Transactions();
  // A connection that fails or closes ends every exchange on it with the reason.
  const lost = new AbortController();
  socket.on("error", (error) => lost.abort(error));
  socket.on("close", () => lost.abort(new Error("the server closed the connection")));
  let received = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    while (received.length >= STUN_HEADER_BYTES) {
      const length = STUN_HEADER_BYTES + received.readUInt16BE(2);
      if (received.length < length) break;
      transactions.receive(received.subarray(0, length));
      received = received.subarray(length);
    }
  });
  const connected = AbortSignal.any([signal, lost.signal]);
  try {
    await new Promise<void>((resolve, reject) => {
      if (connected.aborted) return reject(connected.reason);
      connected.addEventListener("abort", () => reject(connected.reason), { once: true });
      socket.once(target.transport === "tls" ? "secureConnect" : "connect", () => resolve());
    });
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return {
    exchange: (request, signal) => {
      const ended = AbortSignal.any([signal, lost.signal]);
      if (!ended.aborted) socket.write(request.bytes);
      return transactions.wait(request, ended);
    },
    close: () => socket.destroy(),
  };
}
