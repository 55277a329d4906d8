/**
 * A small Redis client over one TCP connection (node:net, so it runs under Bun, Deno and the binary alike). It logs
 * in (AUTH, SELECT) on every connect, reconnects with a growing delay, and never lets a caller wait on a Redis that
 * is gone: while disconnected, commands fail at once; a connected command not answered in time fails and drops the
 * connection (replies come in order, so one lost reply makes every later one suspect); and the commands waiting for
 * replies are bounded, the next one failing when they are full.
 */
import { connect, type Socket } from "node:net";
import { TypedEmitter } from "../events/emitter.ts";
import type { RedisAddress } from "./redisUrl.ts";
import { encodeCommand, type RedisReply, RedisReplyError, ReplyReader } from "./resp.ts";

export type RedisUnavailableReason = "disconnected" | "timeout" | "overloaded" | "closed";

/** A command that could not get a reply from Redis; `reason` says why. */
export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
  constructor(readonly reason: RedisUnavailableReason, message: string) {
    super(message);
  }
}

export interface RedisClientOptions {
  address: RedisAddress;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Commands sent and still waiting for their reply; the next one fails with reason "overloaded". */
  maxPending?: number;
  /** Delay before the first reconnection attempt; it doubles on each failure up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Pending {
  resolve(reply: RedisReply): void;
  reject(error: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

type State = "connecting" | "up" | "down" | "closed";

export class RedisClient extends TypedEmitter<{ up: []; down: [error: Error] }> {
  readonly #options: Required<Omit<RedisClientOptions, "address">> & { address: RedisAddress };
  readonly #pending: Pending[] = [];
  #socket?: Socket;
  #state: State = "connecting";
  #backoffMs: number;
  #retryTimer?: ReturnType<typeof setTimeout>;

  constructor(options: RedisClientOptions) {
    super();
    this.#options = {
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      maxPending: 1000,
      minBackoffMs: 100,
      maxBackoffMs: 5000,
      ...options,
    };
    this.#backoffMs = this.#options.minBackoffMs;
  }

  /**
   * Starts connecting (and reconnecting, until closed). Resolves after the first attempt: true when it logged in,
   * false when it failed (a down event said why).
   */
  start(): Promise<boolean> {
    const first = Promise.race([this.next("up").then(() => true), this.next("down").then(() => false)]);
    this.#connect();
    return first;
  }

  /** Logged in and able to take commands. */
  get connected(): boolean {
    return this.#state === "up";
  }

  /** Sends one command; resolves with its reply, rejects with a RedisReplyError or a RedisUnavailableError. */
  command(args: readonly (string | number)[]): Promise<RedisReply> {
    if (this.#state !== "up") {
      const reason = this.#state === "closed" ? "closed" : "disconnected";
      return Promise.reject(new RedisUnavailableError(reason, "redis is not connected"));
    }
    return this.#send(args);
  }

  /** Closes the connection for good: pending commands fail, no reconnection. */
  close(): void {
    this.#state = "closed";
    clearTimeout(this.#retryTimer);
    this.#drop(new RedisUnavailableError("closed", "redis client closed"));
  }

  #send(args: readonly (string | number)[]): Promise<RedisReply> {
    if (this.#pending.length >= this.#options.maxPending) {
      return Promise.reject(
        new RedisUnavailableError("overloaded", `${this.#options.maxPending} redis commands already wait for replies`),
      );
    }
    const socket = this.#socket!;
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject };
      pending.timer = setTimeout(() => {
        const waited = this.#options.commandTimeoutMs;
        this.#drop(new RedisUnavailableError("timeout", `redis did not answer within ${waited} ms`));
      }, this.#options.commandTimeoutMs);
      this.#pending.push(pending);
      socket.write(encodeCommand(args));
    });
  }

  #connect(): void {
    const { host, port, username, password, db } = this.#options.address;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    this.#socket = socket;
    const reader = new ReplyReader();
    const timer = setTimeout(
      () => socket.destroy(new Error(`no connection to redis within ${this.#options.connectTimeoutMs} ms`)),
      this.#options.connectTimeoutMs,
    );
    socket.on("data", (bytes: Uint8Array) => {
      reader.push(bytes);
      try {
        for (let next = reader.next(); next; next = reader.next()) this.#settle(next.reply);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.once("connect", async () => {
      // AUTH and SELECT go ahead of everything else, and the client counts as up only once both are answered.
      try {
        if (password !== undefined) await this.#send(username ? ["AUTH", username, password] : ["AUTH", password]);
        if (db !== 0) await this.#send(["SELECT", db]);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      } finally {
        clearTimeout(timer);
      }
      if (this.#socket !== socket || this.#state === "closed") return;
      this.#state = "up";
      this.#backoffMs = this.#options.minBackoffMs;
      this.emit("up");
    });
    let failure: Error = new Error("redis closed the connection");
    socket.on("error", (error) => (failure = error));
    socket.once("close", () => {
      clearTimeout(timer);
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#rejectAll(new RedisUnavailableError("disconnected", `redis connection lost: ${failure.message}`));
      if (this.#state === "closed") return;
      const wasDown = this.#state === "down";
      this.#state = "down";
      if (!wasDown) this.emit("down", failure);
      this.#retryTimer = setTimeout(() => this.#connect(), this.#backoffMs);
      this.#backoffMs = Math.min(this.#options.maxBackoffMs, this.#backoffMs * 2);
    });
  }

  #settle(reply: RedisReply): void {
    const pending = this.#pending.shift();
    if (!pending) throw new Error("redis sent a reply nobody asked for");
    clearTimeout(pending.timer);
    if (reply instanceof RedisReplyError) pending.reject(reply);
    else pending.resolve(reply);
  }

  /** Fails the waiting commands with `error` and drops the connection (a reconnection follows unless closed). */
  #drop(error: Error): void {
    this.#rejectAll(error);
    this.#socket?.destroy(error);
  }

  #rejectAll(error: Error): void {
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}
