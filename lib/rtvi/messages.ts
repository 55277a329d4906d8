/**
 * RTVI messages as they travel on the data channel (docs/protocol.md §4): `{"label":"rtvi-ai","type","id","data"}`.
 * Server messages leave out `id` and `data` when unset, as Pipecat does.
 */
import { VERSION } from "../version.ts";

export const RTVI_LABEL = "rtvi-ai";
/** The protocol version spoken here (pipecat 1.7 / client-js 1.13). */
export const RTVI_PROTOCOL_VERSION = "2.1.0";

export interface RTVIMessage {
  label: typeof RTVI_LABEL;
  type: string;
  id?: string;
  data?: unknown;
}

/** An inbound message is RTVI when it carries the label and a string type; anything else is not ours to answer. */
export function parseRTVIMessage(value: unknown): RTVIMessage | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { label, type, id, data } = value as Record<string, unknown>;
  if (label !== RTVI_LABEL || typeof type !== "string") return undefined;
  return { label, type, ...(typeof id === "string" || typeof id === "number" ? { id: String(id) } : {}), data };
}

export function rtviMessage(type: string, data?: unknown, id?: string): RTVIMessage {
  return { label: RTVI_LABEL, type, ...(id !== undefined ? { id } : {}), ...(data !== undefined ? { data } : {}) };
}

export type ClientVersionCheck = { version: string; warning?: string };

/**
 * The version to put in `bot-ready`: 2.x clients get ours, 1.x clients get their own back (they expect it), and an
 * unknown version gets ours plus a warning, after which the session still proceeds (Pipecat's behaviour).
 */
export function negotiateVersion(clientReadyData: unknown): ClientVersionCheck {
  const version = (clientReadyData as { version?: unknown } | undefined)?.version;
  if (typeof version !== "string") return { version: RTVI_PROTOCOL_VERSION, warning: "Client version unknown" };
  const major = Number(version.split(".")[0]);
  if (major === 2) return { version: RTVI_PROTOCOL_VERSION };
  if (major === 1) return { version };
  return { version: RTVI_PROTOCOL_VERSION, warning: `Client version ${version} is not supported` };
}

export function botReady(id: string | undefined, version: string): RTVIMessage {
  return rtviMessage("bot-ready", { version, about: { library: "smallwebrtc", library_version: VERSION } }, id);
}

export function errorResponse(id: string | undefined, error: string): RTVIMessage {
  return rtviMessage("error-response", { error }, id);
}

/** What the bot says (`spoken`: the TTS is speaking it) or shows, one sentence at a time (client-js BotOutputData). */
export function botOutputMessage(text: string, spoken: boolean): RTVIMessage {
  const data = { text, aggregated_by: "sentence", spoken, will_be_spoken: spoken, spoken_status: "new" };
  return rtviMessage("bot-output", data);
}
