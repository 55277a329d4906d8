/**
 * ICE server specs as users type them: bare URLs (`stun:host:3478`), JSON objects (`{"urls": ..., "username": ...,
 * "credential": ...}`), JSON arrays of either, or comma-separated lists. The rules follow Pipecat's
 * `--ice-servers` / `PIPECAT_ICE_SERVERS` (docs/protocol.md §5.1): only `urls`, `username` and `credential` are allowed,
 * `urls` is required, and null values are dropped.
 */
import { z } from "zod";

const ICE_URL = /^(stun|stuns|turn|turns):[^\s,]+$/i;

const iceUrl = z.string().trim().regex(ICE_URL, "must start with stun:, stuns:, turn: or turns:");
const optionalText = z
  .string()
  .nullish()
  .transform((value) => value ?? undefined);

export const IceServerSchema = z
  .union([
    iceUrl.transform((url) => ({ urls: [url] })),
    z.strictObject({
      urls: z.union([iceUrl, z.array(iceUrl).min(1)]).transform((urls) => (Array.isArray(urls) ? urls : [urls])),
      username: optionalText,
      credential: optionalText,
    }),
  ])
  .describe("A STUN/TURN URL, or an RTCIceServer-like object {urls, username?, credential?}.");

export type IceServer = { urls: string[]; username?: string; credential?: string };

export class IceServerSpecError extends Error {
  override name = "IceServerSpecError";
}

/**
 * Turns user text into raw JSON values for `IceServerSchema`: a JSON array or object is parsed, anything else is a
 * comma-separated list of URLs. Validation is left to the schema so that every source reports errors the same way.
 */
export function splitIceServerText(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new IceServerSpecError(`not valid JSON: ${(error as Error).message}`);
    }
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return trimmed.split(",").map((part) => part.trim()).filter(Boolean);
}
