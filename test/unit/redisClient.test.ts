/**
 * The RESP2 client (lib/cluster/redisClient.ts) against a real redis-server, and against fake servers that misbehave
 * in the ways a real one can: closing the connection halfway through a reply, or never answering.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { RedisClient, RedisUnavailableError } from "../../lib/cluster/redisClient.ts";
import { parseRedisUrl } from "../../lib/cluster/redisUrl.ts";
import { encodeCommand, RedisReplyError, ReplyReader } from "../../lib/cluster/resp.ts";
import { eventually } from "../support/eventually.ts";
import { startRedis, type TestRedis } from "../support/redis.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redis(password?: string): Promise<TestRedis> {
  const server = await startRedis({ password });
  cleanups.push(() => server.kill());
  return server;
}

function client(url: string, options: Partial<ConstructorParameters<typeof RedisClient>[0]> = {}): RedisClient {
  const created = new RedisClient({ address: parseRedisUrl(url), ...options });
  cleanups.push(() => created.close());
  void created.start();
  return created;
}

async function up(created: RedisClient): Promise<RedisClient> {
  await eventually(() => created.connected, 5000, "redis client connected");
  return created;
}

/** A TCP server on 127.0.0.1 that hands each connection and the bytes received so far to `onData`. */
async function fakeServer(onData: (socket: Socket, received: string) => void): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    let received = "";
    socket.on("data", (bytes) => onData(socket, (received += bytes.toString())));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as { port: number };
  return { url: `redis://127.0.0.1:${port}`, connections: () => connections };
}

describe("RESP2", () => {
  test("commands are arrays of bulk strings, counted in bytes", () => {
    expect(new TextDecoder().decode(encodeCommand(["SET", "k", "é", 5]))).toBe("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n$1\r\n5\r\n");
  });

  test("replies split at every byte come out whole and in order", () => {
    const wire = new TextEncoder().encode("+OK\r\n-ERR no\r\n:42\r\n$4\r\nhé!\r\n$-1\r\n*3\r\n$1\r\na\r\n*-1\r\n:7\r\n");
    const reader = new ReplyReader();
    const replies: unknown[] = [];
    for (const byte of wire) {
      reader.push(new Uint8Array([byte]));
      for (let next = reader.next(); next; next = reader.next()) replies.push(next.reply);
    }
    expect(replies[1]).toBeInstanceOf(RedisReplyError);
    expect(replies.map((reply) => (reply instanceof Error ? reply.message : reply))).toEqual([
      "OK", "ERR no", 42, "hé!", null, ["a", null, 7],
    ]);
  });

  test("the URL gives host, port, user, password and database", () => {
    expect(parseRedisUrl("redis://u:p%40ss@10.0.0.1:6380/3")).toEqual({
      host: "10.0.0.1", port: 6380, username: "u", password: "p@ss", db: 3,
    });
    expect(parseRedisUrl("redis://:secret@redis")).toEqual({
      host: "redis", port: 6379, username: undefined, password: "secret", db: 0,
    });
    expect(() => parseRedisUrl("redis://h:1/x")).toThrow('cluster.redisUrl: database "x" is not a number');
  });
});

describe("RedisClient against redis-server", () => {
  test("strings, integers, nil, arrays and error replies", async () => {
    const server = await redis();
    const redisClient = await up(client(server.url));
    expect(await redisClient.command(["SET", "greeting", "hello world"])).toBe("OK");
    expect(await redisClient.command(["GET", "greeting"])).toBe("hello world");
    expect(await redisClient.command(["GET", "missing"])).toBeNull();
    expect(await redisClient.command(["INCR", "counter"])).toBe(1);
    expect(await redisClient.command(["MGET", "greeting", "missing"])).toEqual(["hello world", null]);
    await expect(redisClient.command(["INCR", "greeting"])).rejects.toThrow("not an integer");
    // Many commands in flight at once are answered in order.
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => redisClient.command(["ECHO", `m${i}`])));
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });

  test("logs in with the URL's password and selects its database", async () => {
    const server = await redis("a-test-password");
    const url = `redis://:a-test-password@127.0.0.1:${server.port}`;
    const inDb2 = await up(client(`${url}/2`));
    await inDb2.command(["SET", "where", "db2"]);
    const inDb0 = await up(client(url));
    expect(await inDb0.command(["GET", "where"])).toBeNull();
    expect(await inDb2.command(["GET", "where"])).toBe("db2");

    const wrong = new RedisClient({ address: parseRedisUrl(`redis://:wrong-password@127.0.0.1:${server.port}`) });
    cleanups.push(() => wrong.close());
    const down = wrong.next("down");
    expect(await wrong.start()).toBe(false);
    expect(String((await down)[0])).toContain("WRONGPASS");
    expect(wrong.connected).toBe(false);
  });

  test("a Redis that goes away: one down event, commands fail at once, then up again when it is back", async () => {
    const server = await redis();
    const redisClient = await up(client(server.url, { minBackoffMs: 20, maxBackoffMs: 100 }));
    let downs = 0;
    let ups = 0;
    redisClient.on("down", () => downs++);
    redisClient.on("up", () => ups++);
    await server.kill();
    await eventually(() => downs === 1, 5000, "down event");
    const started = performance.now();
    const error = await redisClient.command(["PING"]).catch((error) => error);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).reason).toBe("disconnected");
    // At once: not after the 2 s a command waits for its reply.
    expect(performance.now() - started).toBeLessThan(500);
    await server.restart();
    await eventually(() => ups === 1, 5000, "up event after restart");
    expect(downs).toBe(1);
    expect(await redisClient.command(["PING"])).toBe("PONG");
  });
});

describe("RedisClient against a misbehaving server", () => {
  test("a connection closed halfway through a reply fails that command, and the client reconnects", async () => {
    const fake = await fakeServer((socket, received) => {
      if (received.includes("GET")) socket.end("$10\r\nhal");
    });
    const redisClient = await up(client(fake.url, { minBackoffMs: 20 }));
    const error = await redisClient.command(["GET", "k"]).catch((error) => error);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).reason).toBe("disconnected");
    await eventually(() => fake.connections() >= 2 && redisClient.connected, 5000, "reconnected");
  });

  test("a command not answered in time fails with reason timeout", async () => {
    const fake = await fakeServer(() => {});
    const redisClient = await up(client(fake.url, { commandTimeoutMs: 200 }));
    const started = performance.now();
    const error = await redisClient.command(["GET", "k"]).catch((error) => error);
    expect((error as RedisUnavailableError).reason).toBe("timeout");
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test("commands waiting for replies are bounded: the next one fails at once", async () => {
    const fake = await fakeServer(() => {});
    const redisClient = await up(client(fake.url, { maxPending: 3, commandTimeoutMs: 5000 }));
    const waiting = [1, 2, 3].map((i) => redisClient.command(["GET", `k${i}`]).catch((error) => error));
    const error = await redisClient.command(["GET", "k4"]).catch((error) => error);
    expect((error as RedisUnavailableError).reason).toBe("overloaded");
    redisClient.close();
    for (const result of await Promise.all(waiting)) expect((result as RedisUnavailableError).reason).toBe("closed");
  });
});
