/**
 * Loads the configuration from, in increasing precedence: a JSON file, `SMALLWEBRTC_*` (and Pipecat's
 * `PIPECAT_ICE_SERVERS` / `PIPECAT_ALLOWED_ORIGINS`) env variables, then command-line flags. Every failure is a
 * `ConfigError` whose message is one line naming the source, the key and the reason.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { z } from "zod";
import { type Config, ConfigSchema } from "./schema.ts";
import {
  ConfigError,
  coerceText,
  emptyLayer,
  fileLayer,
  isPlain,
  type Layer,
  mergeLayers,
  originOf,
  setPath,
  settingAt,
  settings,
} from "./layers.ts";
import { stripJsonComments } from "./jsonc.ts";

export const DEFAULT_CONFIG_FILE = "smallwebrtc.json";

/** Pipecat's own variables, honoured so that existing deployments keep working. SMALLWEBRTC_* wins over them. */
const PIPECAT_ENV: Record<string, string> = {
  PIPECAT_ICE_SERVERS: "iceServers",
  PIPECAT_ALLOWED_ORIGINS: "allowedOrigins",
};

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** `--config` value (else `SMALLWEBRTC_CONFIG`); without either, `./smallwebrtc.json` is read when it exists. */
  configPath?: string;
  /** Values set by flags (from `parseCommandLine`). */
  flags?: Layer;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The config file that was read, if any. */
  file?: string;
  /** Non-fatal findings, such as unknown SMALLWEBRTC_* variables. */
  warnings: string[];
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? {};
  const cwd = options.cwd ?? ".";
  const warnings: string[] = [];
  const layers: Layer[] = [];

  const explicitPath = options.configPath ?? env.SMALLWEBRTC_CONFIG;
  const file = explicitPath ? resolve(cwd, explicitPath) : defaultFile(cwd);
  if (file) layers.push(fileLayer(readConfigFile(file, explicitPath !== undefined), displayPath(file, cwd)));
  layers.push(envLayer(env, warnings));
  if (options.flags) layers.push(options.flags);

  const merged = mergeLayers(layers);
  const result = ConfigSchema.safeParse(merged.values);
  if (!result.success) throw new ConfigError(describeIssues(result.error, merged));
  return { config: result.data, file, warnings };
}

function defaultFile(cwd: string): string | undefined {
  const candidate = join(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(candidate) ? resolve(candidate) : undefined;
}

function displayPath(file: string, cwd: string): string {
  const base = resolve(cwd);
  return file.startsWith(`${base}/`) ? file.slice(base.length + 1) : file;
}

function readConfigFile(file: string, explicit: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
    throw new ConfigError(`config file ${file}: ${explicit ? reason : `cannot be read: ${reason}`}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(stripJsonComments(text));
  } catch (error) {
    throw new ConfigError(`config file ${file}: invalid JSON: ${(error as Error).message}`);
  }
  if (!isPlain(value)) throw new ConfigError(`config file ${file}: must hold a JSON object`);
  return value;
}

function envLayer(env: Record<string, string | undefined>, warnings: string[]): Layer {
  const layer = emptyLayer();
  const known = new Map(settings().map((setting) => [setting.env, setting]));
  const apply = (name: string, path: string) => {
    const text = env[name];
    if (text === undefined) return;
    const origin = `env ${name}`;
    setPath(layer, path, coerceText(settingAt(path)!, text, origin), origin);
  };
  for (const [name, path] of Object.entries(PIPECAT_ENV)) apply(name, path);
  for (const name of Object.keys(env).sort()) {
    // SMALLWEBRTC__* (two underscores) is the server's own business with its worker processes, not a setting.
    if (!name.startsWith("SMALLWEBRTC_") || name.startsWith("SMALLWEBRTC__") || name === "SMALLWEBRTC_CONFIG") continue;
    const setting = known.get(name);
    if (setting) apply(name, setting.path);
    else warnings.push(`ignoring unknown env variable ${name}`);
  }
  return layer;
}

function describeIssues(error: z.ZodError, merged: Layer): string {
  const [first] = error.issues;
  // An unknown key is reported at its parent; point at the key itself so that its source can be named.
  const keys = first.code === "unrecognized_keys" ? [...first.path, first.keys[0]] : first.path;
  const path = keys.join(".");
  const origin = originOf(merged, path) ?? "defaults";
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : "";
  return `invalid config: ${path || "(root)"} from ${origin}: ${issueMessage(first)}${more}`;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return issue.keys.length > 1 ? `unknown keys ${issue.keys.join(", ")}` : "unknown key";
  if (issue.code === "invalid_union") {
    // Report the branch that got furthest: one that failed on a nested key, not on the value's type itself.
    const branch = issue.errors.find((issues) => !issues.some((i) => i.code === "invalid_type" && i.path.length === 0));
    const nested = (branch ?? issue.errors[0])?.[0];
    if (nested) return `${nested.path.length ? `${nested.path.join(".")}: ` : ""}${issueMessage(nested)}`;
  }
  return issue.message;
}
