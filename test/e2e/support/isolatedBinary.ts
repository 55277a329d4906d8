/**
 * The binary as users get it: a copy in an empty directory, run with the repository's node_modules, lib, public and
 * scripts hidden (a private mount namespace covers them with empty tmpfs), so a file read from a build-machine path
 * fails. Both binaries come from scripts/build (scripts/test builds them first).
 */
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/support/paths.ts";

export const X64 = join(repoRoot, "dist/smallwebrtc-linux-x64");
export const ARM64 = join(repoRoot, "dist/smallwebrtc-linux-arm64");

/** A copy of the binary in an empty directory. */
export function isolatedCopy(binary: string): { dir: string; binary: string } {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run scripts/build`);
  const dir = mkdtempSync(join(tmpdir(), "swrtc-binary-"));
  const copy = join(dir, "smallwebrtc");
  copyFileSync(binary, copy);
  Bun.spawnSync(["chmod", "+x", copy]);
  return { dir, binary: copy };
}

/** The command that runs `binary` with the repository's sources and packages out of reach. */
export function hidingSources(binary: string): string[] {
  const hide = ["node_modules", "lib", "public", "scripts"].map((d) => `mount -t tmpfs none ${join(repoRoot, d)}`).join(" && ");
  return ["unshare", "--mount", "sh", "-c", `${hide} && exec "$0" "$@"`, binary];
}
