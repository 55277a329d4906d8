import { createHmac } from "node:crypto";
import type { IceServer } from "./iceServers.ts";
import type { TurnConfig } from "./schema.ts";

/**
 * Short-lived TURN credentials from a shared secret, the "TURN REST API" scheme that coturn's
 * `use-auth-secret` implements: `username = "<unix expiry>:<user>"`, `credential = base64(HMAC-SHA1(secret, username))`.
 * The secret stays on this server; clients only ever see credentials that expire.
 */
export function mintTurnCredentials(
  secret: string,
  user: string,
  ttlSecs: number,
  nowMs: number = Date.now(),
): { username: string; credential: string; expiresAt: number } {
  const expiresAt = Math.floor(nowMs / 1000) + ttlSecs;
  const username = `${expiresAt}:${user}`;
  const credential = createHmac("sha1", secret).update(username).digest("base64");
  return { username, credential, expiresAt };
}

/** The TURN entry to hand out: static credentials as configured, or freshly minted ones when a secret is set. */
export function turnIceServer(turn: TurnConfig, nowMs: number = Date.now()): IceServer {
  if ("secret" in turn) {
    const { username, credential } = mintTurnCredentials(turn.secret, turn.user, turn.ttlSecs, nowMs);
    return { urls: turn.urls, username, credential };
  }
  return { urls: turn.urls, username: turn.username, credential: turn.credential };
}

/** Every ICE server this instance uses and advertises, with TURN credentials valid from `nowMs`. */
export function resolveIceServers(
  config: { iceServers: IceServer[]; turn?: TurnConfig },
  nowMs: number = Date.now(),
): IceServer[] {
  return config.turn ? [...config.iceServers, turnIceServer(config.turn, nowMs)] : config.iceServers;
}
