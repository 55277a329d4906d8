/**
 * Config layers: partial config objects from one source each (file, env, flags), merged in order. Every leaf remembers
 * where it came from, so a validation error can name the key *and* the place the user has to fix.
 */
import { configJsonSchema } from "./schema.ts";
import { IceServerSpecError, splitIceServerText } from "./iceServers.ts";

export type Plain = Record<string, unknown>;

export interface Layer {
  values: Plain;
  /** Dot path -> human name of its source, e.g. "smallwebrtc.json", "env SMALLWEBRTC_PORT" or "flag --port". */
  origins: Map<string, string>;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function emptyLayer(): Layer {
  return { values: {}, origins: new Map() };
}

/** Sets `path` (dot separated) in the layer, recording `origin` as the source of that value. */
export function setPath(layer: Layer, path: string, value: unknown, origin: string): void {
  const keys = path.split(".");
  let node = layer.values;
  for (const key of keys.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys.at(-1)!] = value;
  layer.origins.set(path, origin);
}

/** A layer from a parsed file; its keys are attributed to `origin`. */
export function fileLayer(values: Plain, origin: string): Layer {
  const layer = emptyLayer();
  layer.values = values;
  for (const key of Object.keys(values)) layer.origins.set(key, origin);
  return layer;
}

/** Merges layers left to right: later sources win, objects merge key by key, arrays and scalars are replaced. */
export function mergeLayers(layers: Layer[]): Layer {
  const merged = emptyLayer();
  for (const layer of layers) {
    merged.values = deepMerge(merged.values, layer.values);
    for (const [path, origin] of layer.origins) {
      for (const known of [...merged.origins.keys()]) {
        if (known === path || known.startsWith(`${path}.`)) merged.origins.delete(known);
      }
      merged.origins.set(path, origin);
    }
  }
  return merged;
}

/** The source of the value at `path`, or of its nearest parent. */
export function originOf(layer: Layer, path: string): string | undefined {
  for (let keys = path.split("."); keys.length > 0; keys = keys.slice(0, -1)) {
    const origin = layer.origins.get(keys.join("."));
    if (origin) return origin;
  }
  return undefined;
}

export function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlain(value) && isPlain(out[key]) ? deepMerge(out[key] as Plain, value) : value;
  }
  return out;
}

// ---- settings derived from the JSON Schema: names and text coercion for env variables and flags ----

type JsonSchemaNode = { type?: string | string[]; properties?: Record<string, JsonSchemaNode>; anyOf?: unknown[] };

export interface Setting {
  /** Dot path in the config, e.g. "limits.maxSessions". */
  path: string;
  /** The env variable that sets it, e.g. "SMALLWEBRTC_LIMITS_MAX_SESSIONS". */
  env: string;
  type: string;
}

let cachedSettings: Setting[] | undefined;

/** Every settable leaf of the schema. Plain nested objects (ice, limits) are expanded; unions (turn) are one leaf. */
export function settings(): Setting[] {
  if (cachedSettings) return cachedSettings;
  const walk = (node: JsonSchemaNode, prefix: string[]): Setting[] =>
    Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
      const path = [...prefix, key];
      if (child.type === "object" && child.properties) return walk(child, path);
      const type = Array.isArray(child.type) ? child.type[0] : child.type ?? "object";
      return [{ path: path.join("."), env: `SMALLWEBRTC_${path.map(screamingSnake).join("_")}`, type }];
    });
  return (cachedSettings = walk(configJsonSchema() as JsonSchemaNode, []));
}

export function settingAt(path: string): Setting | undefined {
  return settings().find((setting) => setting.path === path);
}

function screamingSnake(camel: string): string {
  return camel.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Turns text from an env variable or flag into the JSON value the schema expects. Text that does not fit is passed
 * through unchanged, so the schema reports it with the same wording as a bad file value.
 */
export function coerceText(setting: Setting, text: string, origin: string): unknown {
  const trimmed = text.trim();
  switch (setting.type) {
    case "integer":
    case "number":
      return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : text;
    case "boolean":
      return TRUE.has(trimmed.toLowerCase()) ? true : FALSE.has(trimmed.toLowerCase()) ? false : text;
    case "array":
      if (setting.path === "iceServers") {
        try {
          return splitIceServerText(trimmed);
        } catch (error) {
          if (error instanceof IceServerSpecError) throw new ConfigError(`${origin}: iceServers: ${error.message}`);
          throw error;
        }
      }
      return trimmed.startsWith("[") ? parseJsonText(trimmed, origin) : trimmed.split(",").map((s) => s.trim())
        .filter(Boolean);
    case "string":
      return text;
    default:
      return trimmed.startsWith("{") || trimmed.startsWith("[") ? parseJsonText(trimmed, origin) : text;
  }
}

function parseJsonText(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${origin}: not valid JSON: ${(error as Error).message}`);
  }
}
