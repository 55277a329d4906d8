/**
 * Command-line flags. They use `node:util` `parseArgs` (JSR's @std/cli is unreachable, and this works in Bun, Deno
 * and the compiled binary). Flags that set a config key name it in `path`; the value is coerced like an env variable.
 */
import { parseArgs } from "node:util";
import { ConfigError, coerceText, emptyLayer, type Layer, setPath, settingAt } from "./layers.ts";

export interface FlagSpec {
  name: string;
  short?: string;
  /** Placeholder shown in --help; a flag without one is a switch. */
  value?: string;
  /** Like Pipecat's argparse `nargs="+"`: the values that follow the flag belong to it. */
  variadic?: boolean;
  /** The config key this flag sets. */
  path?: string;
  help: string;
}

export const FLAGS: FlagSpec[] = [
  { name: "config", value: "PATH", help: "JSON config file (default: ./smallwebrtc.json when present)" },
  { name: "host", value: "HOST", path: "host", help: "address to listen on; in ESP32 mode the device-facing LAN IP" },
  { name: "port", value: "PORT", path: "port", help: "HTTP port (default 7860)" },
  {
    name: "ice-servers",
    value: "SERVER...",
    variadic: true,
    path: "iceServers",
    help: 'STUN/TURN servers: URLs or JSON objects {"urls","username","credential"}',
  },
  {
    name: "allowed-origins",
    value: "ORIGIN...",
    variadic: true,
    path: "allowedOrigins",
    help: "origins allowed to call the API cross-origin",
  },
  {
    name: "bot",
    value: "BOT",
    path: "bot",
    help: "echo (default), parrot, mirror, a bot file (.ts/.js/.mjs) or a ws(s):// bot URL",
  },
  {
    name: "workers",
    value: "N",
    path: "workers",
    help: "processes that run sessions (default: one per CPU core; 1: a single process)",
  },
  { name: "folder", value: "DIR", path: "folder", help: "serve the files of DIR at /files/<path>" },
  { name: "redis-url", value: "URL", path: "cluster.redisUrl", help: "redis://... shared by instances behind one URL" },
  { name: "advertise-url", value: "URL", path: "cluster.advertiseUrl", help: "the URL other instances reach this one at" },
  { name: "instance-id", value: "ID", path: "cluster.instanceId", help: "this instance's name in the registry" },
  { name: "single-session", path: "singleSession", help: "one session at a time; another offer gets 409" },
  { name: "esp32", path: "esp32", help: "answer ESP32 (libpeer) devices; needs --host set to a LAN IP" },
  { name: "log-level", value: "LEVEL", path: "logLevel", help: "error, warn, info, debug or trace" },
  { name: "verbose", short: "v", help: "more logging (-v debug, -vv trace)" },
  { name: "transport", short: "t", value: "NAME", help: "transport to serve; only webrtc exists here" },
  { name: "ttl", value: "SECONDS", help: "lifetime of a token minted by `token` (default 3600)" },
  { name: "print-config-schema", help: "print the config JSON Schema and exit" },
  { name: "version", help: "print the version and exit" },
  { name: "help", short: "h", help: "show this help and exit" },
];

export interface CommandLine {
  /** A leading positional word such as `init`, if any. */
  command?: string;
  /** The directory after `types`, if given. */
  directory?: string;
  configPath?: string;
  /** `--ttl` for `token`. */
  ttlSecs?: number;
  help: boolean;
  version: boolean;
  printConfigSchema: boolean;
  /** Config values set by flags. */
  layer: Layer;
}

export function parseCommandLine(args: string[], flags: FlagSpec[] = FLAGS): CommandLine {
  // `deno task start -- --port 8080` hands its `--` on to the program (npm and Bun drop theirs): flags follow it.
  if (args[0] === "--") args = args.slice(1);
  const options = Object.fromEntries(
    flags.map((flag) => [
      flag.name,
      {
        type: flag.value ? ("string" as const) : ("boolean" as const),
        multiple: true,
        ...(flag.short ? { short: flag.short } : {}),
      },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true, tokens: true });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message.split("\n")[0]} (see --help)`);
  }

  // parseArgs has no nargs, so positionals right after a variadic flag are given back to it.
  const values = new Map<string, string[]>();
  const switches = new Map<string, number>();
  const positionals: string[] = [];
  let variadic: string | undefined;
  for (const token of parsed.tokens) {
    if (token.kind === "option") {
      const spec = flags.find((flag) => flag.name === token.name)!;
      variadic = spec.variadic ? spec.name : undefined;
      if (spec.value) values.set(spec.name, [...(values.get(spec.name) ?? []), token.value ?? ""]);
      else switches.set(spec.name, (switches.get(spec.name) ?? 0) + 1);
    } else if (token.kind === "positional") {
      if (variadic) values.get(variadic)!.push(token.value);
      else positionals.push(token.value);
    } else {
      variadic = undefined;
    }
  }

  const allowed = positionals[0] === "types" ? 2 : 1;
  if (positionals.length > allowed) {
    throw new ConfigError(`unexpected argument "${positionals[allowed]}" (see --help)`);
  }
  const transport = values.get("transport")?.at(-1);
  if (transport !== undefined && transport !== "webrtc") {
    throw new ConfigError(`--transport ${transport} is not available: this server speaks only webrtc`);
  }

  const layer = emptyLayer();
  for (const spec of flags) {
    if (!spec.path) continue;
    const origin = `flag --${spec.name}`;
    const setting = settingAt(spec.path)!;
    if (!spec.value) {
      if (switches.has(spec.name)) setPath(layer, spec.path, true, origin);
      continue;
    }
    const given = values.get(spec.name);
    if (!given) continue;
    const value = spec.variadic
      ? given.flatMap((text) => coerceText(setting, text, origin) as unknown[])
      : coerceText(setting, given.at(-1)!, origin);
    setPath(layer, spec.path, value, origin);
  }
  const verbosity = switches.get("verbose") ?? 0;
  if (verbosity > 0 && !values.has("log-level")) {
    setPath(layer, "logLevel", verbosity > 1 ? "trace" : "debug", "flag --verbose");
  }

  return {
    command: positionals[0],
    directory: positionals[1],
    configPath: values.get("config")?.at(-1),
    ttlSecs: parseTtl(values.get("ttl")?.at(-1)),
    help: switches.has("help"),
    version: switches.has("version"),
    printConfigSchema: switches.has("print-config-schema"),
    layer,
  };
}

/** The OPTIONS part of --help, generated from the flag table. */
export function formatFlagHelp(flags: FlagSpec[] = FLAGS): string {
  const rows = flags.map((flag) => {
    const names = `${flag.short ? `-${flag.short}, ` : "    "}--${flag.name}${flag.value ? ` ${flag.value}` : ""}`;
    return [names, flag.help] as const;
  });
  const width = Math.max(...rows.map(([names]) => names.length)) + 2;
  return rows.map(([names, help]) => `  ${names.padEnd(width)}${help}`).join("\n");
}

function parseTtl(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const secs = Number(text);
  if (!Number.isInteger(secs) || secs <= 0) throw new ConfigError(`--ttl ${text}: must be a positive number of seconds`);
  return secs;
}
