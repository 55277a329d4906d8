/** The source type-checks under TypeScript (as Bun runs it) and under Deno (the other supported runtime). */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";

function check(command: string[]) {
  const result = Bun.spawnSync(command, { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
  const output = result.stdout.toString() + result.stderr.toString();
  return { code: result.exitCode, errors: output.split("\n").filter((line) => /^error\b|\bTS\d{4}\b|\[ERROR\]/.test(line)).slice(0, 20) };
}

describe("type checks", () => {
  test("tsc -p . (every source, test and script)", () => {
    const { code, errors } = check([join(repoRoot, "node_modules/.bin/tsc"), "-p", "."]);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
  }, 120_000);

  test("deno check (the product code runs under Deno too)", () => {
    const { code, errors } = check([join(repoRoot, "node_modules/.bin/deno"), "check", "main.ts", "lib/", "public/src/"]);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
  }, 120_000);
});
