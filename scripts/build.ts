/**
 * Builds the single-file executables: dist/smallwebrtc-linux-x64 and dist/smallwebrtc-linux-arm64. Everything the
 * server reads at run time is embedded: the bundled WASM modules and VAD model (lib/assets/bundledFiles.ts, each
 * checked against its pinned SHA-256 first) under /$bunfs/root/assets, the built test client under
 * /$bunfs/root/client, and the API's type declarations that `smallwebrtc types` writes under /$bunfs/root/types.
 * The arm64 runtime comes from the npm registry (bun fetches it on first use).
 */
import { cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLED_FILES, type BundledFile, bundledFile } from "../lib/assets/bundledFiles.ts";
import { DECLARATIONS_FILE, generateApiDeclarations } from "../lib/runner/apiDeclarations.ts";

const ROOT = join(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");
const STAGE = join(DIST, ".stage");
const TARGETS = { x64: "bun-linux-x64", arm64: "bun-linux-arm64" } as const;
type Arch = keyof typeof TARGETS;

function stage(): void {
  rmSync(STAGE, { recursive: true, force: true });
  mkdirSync(join(STAGE, "assets"), { recursive: true });
  for (const name of Object.keys(BUNDLED_FILES) as BundledFile[]) {
    // bundledFile() hands out only bytes that match the pinned hash: a dependency update fails here, naming the file.
    writeFileSync(join(STAGE, "assets", name), bundledFile(name));
  }
  const client = join(ROOT, "public/dist");
  if (!existsSync(join(client, "index.html"))) throw new Error("the test client is not built: run scripts/build-client");
  cpSync(client, join(STAGE, "client"), { recursive: true });
  mkdirSync(join(STAGE, "types"));
  writeFileSync(join(STAGE, "types", DECLARATIONS_FILE), generateApiDeclarations(ROOT));
}

function compile(arch: Arch): string {
  const outfile = join(DIST, `smallwebrtc-linux-${arch}`);
  const command = [
    // The VP8 codec thread's entry is a second entry point: lib/media/vp8Thread.ts starts it by this path.
    process.execPath, "build", "--compile", "--minify", `--target=${TARGETS[arch]}`, join(ROOT, "main.ts"),
    join(ROOT, "lib/media/vp8Worker.ts"),
    "--asset", join(STAGE, "assets"), "--asset", join(STAGE, "client"), "--asset", join(STAGE, "types"),
    "--outfile", outfile,
  ];
  const result = Bun.spawnSync(command, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (!result.success) throw new Error(`bun build for ${arch} failed`);
  return outfile;
}

const wanted = process.argv[2] ?? "all";
if (wanted !== "all" && !(wanted in TARGETS)) {
  console.error("Usage: scripts/build [x64|arm64|all]");
  process.exit(2);
}
stage();
for (const arch of Object.keys(TARGETS) as Arch[]) {
  if (wanted !== "all" && wanted !== arch) continue;
  const outfile = compile(arch);
  console.log(`${outfile}: ${(statSync(outfile).size / 1e6).toFixed(1)} MB`);
}
