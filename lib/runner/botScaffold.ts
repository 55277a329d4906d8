/**
 * What the server writes for people who write bot files: `types [dir]` (the API's declarations and a tsconfig.json
 * that makes editors and tsc use them) and `init --bot FILE` (a starter bot).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../config/layers.ts";
import { apiDeclarations, DECLARATIONS_FILE, DeclarationsError } from "./apiDeclarations.ts";
import { STARTER_BOT } from "./starterBot.ts";

/**
 * The declarations are ambient modules (`declare module "smallwebrtc"`), so including the file is the whole mapping:
 * a `paths` entry would not do, as it can only point at a module file, and it would not touch how the bot runs.
 */
const TSCONFIG = `{
  // Written by \`smallwebrtc types\`: editors and tsc check the bot files here against ${DECLARATIONS_FILE}, which
  // declares the "smallwebrtc" module. skipLibCheck: those declarations name a few types of the server's own
  // packages (werift, zod, hono), which are \`any\` without them.
  "compilerOptions": {
    "target": "ES2023",
    "module": "ESNext",
    "moduleResolution": "bundler",
    "lib": ["ES2023", "DOM", "DOM.Iterable"],
    "types": [],
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "skipLibCheck": true
  },
  "include": ["**/*.ts"]
}
`;

/** `types [dir]`: the declarations (always, so that they follow the server's version) and, if absent, tsconfig.json. */
export function writeApiTypes(dir: string): string {
  let declarations: string;
  try {
    declarations = apiDeclarations();
  } catch (error) {
    if (error instanceof DeclarationsError) throw new ConfigError(error.message);
    throw error;
  }
  const tsconfig = join(dir, "tsconfig.json");
  const keepTsconfig = existsSync(tsconfig);
  const declarationsFile = join(dir, DECLARATIONS_FILE);
  attempt(declarationsFile, () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(declarationsFile, declarations);
  });
  if (keepTsconfig) return `wrote ${declarationsFile}; kept ${tsconfig} (it must include ${DECLARATIONS_FILE})`;
  attempt(tsconfig, () => writeFileSync(tsconfig, TSCONFIG));
  return `wrote ${declarationsFile} and ${tsconfig}: editors now check bot files in ${dir}`;
}

/** `init --bot FILE`: the starter bot, never over an existing file. */
export function writeStarterBot(path: string): string {
  if (!path.toLowerCase().endsWith(".ts")) {
    throw new ConfigError(`init --bot ${path}: the starter bot is TypeScript, so its name must end in .ts`);
  }
  if (existsSync(path)) throw new ConfigError(`${path} already exists; remove it first or pass --bot another.ts`);
  attempt(path, () => writeFileSync(path, STARTER_BOT));
  return `wrote ${path}: run it with --bot ${path}`;
}

/** Runs a write, turning its failure into one line (Deno without --allow-write lands here too, as NotCapable). */
function attempt(path: string, write: () => void): void {
  try {
    write();
  } catch (error) {
    throw new ConfigError(`cannot write ${path}: ${(error as Error).message}`);
  }
}
