// Where generated test artefacts live: <repo>/.cache (gitignored), shared by every e2e run.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Returns `<repo>/.cache/<sub>`, creating it if needed. */
export async function cacheDir(sub: string): Promise<string> {
  const dir = join(repoRoot, ".cache", sub);
  await mkdir(dir, { recursive: true });
  return dir;
}
