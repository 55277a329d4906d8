/** Where Redis is and how to log in, from a `redis://[user:password@]host:port[/db]` URL. */
import { ConfigError } from "../config/layers.ts";

export interface RedisAddress {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
}

/** Parses a redis:// URL, or throws a ConfigError naming what is wrong with it. */
export function parseRedisUrl(text: string): RedisAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`cluster.redisUrl: ${loggableRedisUrl(text)} is not a URL`);
  }
  if (url.protocol !== "redis:") throw new ConfigError("cluster.redisUrl: must start with redis://");
  const path = url.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`cluster.redisUrl: database "${path}" is not a number`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: url.port === "" ? 6379 : Number(url.port),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db,
  };
}

/** The URL with its password masked, for logs and errors. */
export function loggableRedisUrl(text: string): string {
  return text.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
