/**
 * The public API's type declarations as one file, so that an editor type-checks a bot file with no npm install.
 * TypeScript 7 emits declarations one file per module and no longer bundles them (`outFile` is gone), so the modules
 * that lib/mod.ts reaches are wrapped here as ambient modules: the entry as `smallwebrtc`, the others under
 * `smallwebrtc/internal/`, with their relative imports renamed to match. The binary embeds the file that
 * `scripts/build` generated; from source it is generated on demand from lib/mod.ts with the repository's tsc.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { VERSION } from "../version.ts";

/** The name bot files import the API by. */
export const API_MODULE = "smallwebrtc";
export const DECLARATIONS_FILE = "smallwebrtc.d.ts";
/** Where `scripts/build` embeds the generated file (`--asset <stage>/types`). */
const EMBEDDED_DECLARATIONS = `/$bunfs/root/types/${DECLARATIONS_FILE}`;

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = "lib/mod.d.ts";
const INTERNAL_PREFIX = `${API_MODULE}/internal/`;

export class DeclarationsError extends Error {
  override name = "DeclarationsError";
}

/** The declarations: embedded in the binary, generated from source otherwise. */
export function apiDeclarations(): string {
  if (existsSync(EMBEDDED_DECLARATIONS)) return readFileSync(EMBEDDED_DECLARATIONS, "utf8");
  return generateApiDeclarations();
}

/** Emits lib/mod.ts's declarations with the repository's tsc and bundles them into one file. */
export function generateApiDeclarations(root: string = REPO_ROOT): string {
  const tsc = join(root, "node_modules/.bin/tsc");
  if (!existsSync(tsc)) throw new DeclarationsError(`cannot generate the type declarations: ${tsc} is missing`);
  try {
    return bundleDeclarations(emitDeclarations(tsc, root), ENTRY);
  } catch (error) {
    // Deno without --allow-write or --allow-run lands here too (NotCapable), with a message that says which.
    if (error instanceof DeclarationsError) throw error;
    throw new DeclarationsError(`cannot generate the type declarations: ${(error as Error).message}`);
  }
}

/** tsc's declaration files for lib/mod.ts and what it imports, by path relative to `root`. */
function emitDeclarations(tsc: string, root: string): Map<string, string> {
  const out = mkdtempSync(join(tmpdir(), "smallwebrtc-types-"));
  try {
    // The repository's own tsconfig.json is ignored: it is for checking, and emits nothing.
    const result = spawnSync(tsc, [
      "--ignoreConfig", join(root, "lib/mod.ts"), "--declaration", "--emitDeclarationOnly", "--rootDir", root,
      "--outDir", out, "--target", "ES2023", "--module", "ESNext", "--moduleResolution", "bundler",
      "--lib", "ES2023,DOM,DOM.Iterable", "--types", "bun", "--strict", "--allowImportingTsExtensions",
      "--skipLibCheck",
    ], { cwd: root, encoding: "utf8" });
    if (result.error) throw result.error;
    // Deno without --allow-run hands back an empty result rather than an error.
    if (typeof result.status !== "number") throw new DeclarationsError(`cannot run ${tsc} (Deno needs --allow-run)`);
    if (result.status !== 0) {
      const first = `${result.stdout}${result.stderr}`.split("\n").find((line) => line.trim())?.trim();
      throw new DeclarationsError(`tsc could not emit the type declarations: ${first ?? `exit ${result.status}`}`);
    }
    const files = new Map<string, string>();
    for (const path of readdirSync(out, { recursive: true, encoding: "utf8" })) {
      if (path.endsWith(".d.ts")) files.set(path.split("\\").join("/"), readFileSync(join(out, path), "utf8"));
    }
    return files;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * One file of ambient modules from per-module declarations (`files`: path -> text, paths relative to one root).
 * Only the modules reachable from `entry` through relative imports are kept; other imports stay as they are.
 */
export function bundleDeclarations(files: ReadonlyMap<string, string>, entry: string): string {
  const moduleName = (path: string) =>
    path === entry ? API_MODULE : INTERNAL_PREFIX + path.replace(/^lib\//, "").replace(/\.d\.ts$/, "");
  const blocks: string[] = [];
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const path = pending.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const text = files.get(path);
    if (text === undefined) throw new DeclarationsError(`no declarations for ${path}`);
    const rename = (_match: string, before: string, specifier: string) => {
      const target = posix.join(posix.dirname(path), specifier).replace(/\.(ts|js|mjs)$/, "") + ".d.ts";
      pending.push(target);
      return `${before}"${moduleName(target)}"`;
    };
    // Doc comments keep their examples as written.
    const body = text
      .split("\n")
      .map((line) => (COMMENT_LINE.test(line) ? line : line.replace(RELATIVE_SPECIFIER, rename)));
    blocks.push(`declare module "${moduleName(path)}" {\n${ambient(body)}\n}`);
  }
  const header = [
    `// smallwebrtc ${VERSION}: type declarations of the API that bot files import as "${API_MODULE}".`,
    `// Written by \`smallwebrtc types\`; the "${INTERNAL_PREFIX}..." modules only hold types for it.`,
  ];
  return `${header.join("\n")}\n\n${blocks.join("\n\n")}\n`;
}

/** `from "./x.ts"`, `import("../y.ts")` and `import "./z.ts"`: the specifier and what precedes it. */
const RELATIVE_SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)"(\.{1,2}\/[^"]+)"/g;
const COMMENT_LINE = /^\s*(\/\/|\/\*|\*)/;

/**
 * A module's declarations as the body of an ambient module: `declare` is implied there (and an error to repeat), and
 * reference directives may only stand at the top of a file, so they go (the bundle assumes no environment's types).
 */
function ambient(lines: string[]): string {
  return lines
    .filter((line) => !line.startsWith("/// <reference"))
    .map((line) => line.replace(/^(export )?declare (?!global\b|module\b)/, "$1"))
    .map((line) => (line ? `  ${line}` : line))
    .join("\n")
    .trimEnd();
}
