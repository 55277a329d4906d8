/**
 * Bot files: `--bot ./bot.ts` (or .js, .mjs) is loaded once, at start-up, and each session runs its exported
 * `bot(args)`. The file imports the public API by the bare name `smallwebrtc`. Under Bun, from source and inside the
 * compiled binary alike, a runtime plugin maps that name to this very process's API (lib/mod.ts), for the file and
 * for its own relative imports; Bun's transpiler, which is in the binary too, runs the TypeScript. Under Deno, the
 * import map in deno.json maps the name.
 *
 * Everything that can be wrong with the file is found here, as one ConfigError line naming the file: a missing file,
 * a syntax error in it or in a file it imports, an import that does not resolve, a throw while it loads, no `bot`.
 */
import { statSync } from "node:fs";
import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Bot, RunnerArguments } from "../bots/bot.ts";
import { ConfigError } from "../config/layers.ts";
import * as api from "../mod.ts";
import { API_MODULE } from "./apiDeclarations.ts";

/** The part of Bun's plugin API used here, typed locally so that this file type-checks under Deno too. */
interface BunPlugins {
  plugin(plugin: {
    name: string;
    setup(build: { module(specifier: string, load: () => { exports: object; loader: "object" }): void }): void;
  }): void;
}

let apiModuleRegistered = false;

/** Makes `import ... from "smallwebrtc"` resolve, under Bun, to the API objects this process itself runs on. */
function registerApiModule(): void {
  const bun = (globalThis as { Bun?: BunPlugins }).Bun;
  if (!bun || apiModuleRegistered) return;
  bun.plugin({
    name: API_MODULE,
    setup(build) {
      build.module(API_MODULE, () => ({ exports: api, loader: "object" }));
    },
  });
  apiModuleRegistered = true;
}

/** Loads the bot file at `path` (relative to `cwd`) and returns its `bot` function. */
export async function loadBotFile(path: string, cwd: string = process.cwd()): Promise<Bot> {
  const file = resolve(cwd, path);
  const fail = (problem: string) => new ConfigError(`bot file ${path}: ${problem}`);
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) throw fail(`not found (looked for ${file})`);
  if (!stat.isFile()) throw fail("not a file");

  registerApiModule();
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (error) {
    throw fail(describeLoadError(error));
  }

  const bot = module.bot;
  if (typeof bot !== "function") {
    const hint = typeof module.default === "function" ? "; its default export is a function: name it bot" : "";
    throw fail(`exports no bot function (export async function bot(args) { ... })${hint}`);
  }
  // Awaited here so that a bot that throws before its first await rejects instead of throwing at the caller.
  return async (args: RunnerArguments) => await bot(args);
}

/**
 * One line from what the runtime threw. Bun reports a syntax error as a BuildMessage whose position names the file
 * (the bot's or one it imports); Deno writes the location on an "at" line below a code excerpt, sometimes coloured.
 */
function describeLoadError(error: unknown): string {
  const position = (error as { position?: { file?: string; line?: number; column?: number } } | null)?.position;
  const message = (error as { message?: unknown } | null)?.message;
  const text = String(message ?? error).replace(/\u001b\[[0-9;]*m/g, "");
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  const first = lines[0] ?? "failed to load";
  if (position?.file) return `${first} (${position.file}:${position.line}:${position.column})`;
  const at = lines.slice(1).map((line) => /^at (\S+)/.exec(line)?.[1]).find(Boolean);
  return at ? `${first} (${at})` : first;
}
