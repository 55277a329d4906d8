/**
 * Which browser origins may call the API. Same-origin pages (the built-in /client) and pages served from this
 * machine's loopback always may; anything else must be listed in `allowedOrigins` ("*" allows every origin).
 * Credentials are never allowed cross-origin: the SmallWebRTC clients do not use them.
 */
const LOCAL_HOSTNAMES = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

export function isOriginAllowed(origin: string, requestUrl: string, allowed: readonly string[]): boolean {
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.origin === new URL(requestUrl).origin) return true;
  return (parsed.protocol === "http:" || parsed.protocol === "https:") && LOCAL_HOSTNAMES.test(parsed.hostname);
}
