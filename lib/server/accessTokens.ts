/**
 * Access to the signalling routes. With `auth.token` set, clients send `Authorization: Bearer <token>`. With
 * `auth.secret` set, the server also accepts short-lived tokens that your own backend mints for each user, so the
 * secret never reaches a browser: `v1.<unix expiry>.<base64url(HMAC-SHA256(secret, "v1.<unix expiry>"))>`.
 * `smallwebrtc token` mints one from the command line.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export interface AuthSettings {
  token?: string;
  secret?: string;
}

export function mintAccessToken(secret: string, ttlSecs: number, nowMs: number = Date.now()): string {
  const payload = `v1.${Math.floor(nowMs / 1000) + ttlSecs}`;
  return `${payload}.${sign(secret, payload)}`;
}

/** Whether `presented` (the bearer token) grants access under `settings`. No settings: everything is allowed. */
export function isAuthorized(settings: AuthSettings, presented: string | undefined, nowMs: number = Date.now()): boolean {
  if (!settings.token && !settings.secret) return true;
  if (!presented) return false;
  if (settings.token && safeEqual(presented, settings.token)) return true;
  if (!settings.secret) return false;
  const match = /^(v1\.(\d{1,12}))\.([A-Za-z0-9_-]{43})$/.exec(presented);
  if (!match) return false;
  const [, payload, expiry, signature] = match;
  return Number(expiry) * 1000 > nowMs && safeEqual(signature, sign(settings.secret, payload));
}

function sign(secret: string, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
