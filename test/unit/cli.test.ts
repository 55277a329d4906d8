/** The command line as users meet it: help, version, schema, and what a bad config does to the exit code. */
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../scripts/support/paths.ts";

function run(args: string[], cwd = repoRoot, env: Record<string, string> = {}) {
  // The timeout ends a server that started when it should not have, so such a test fails instead of hanging.
  const result = Bun.spawnSync([process.execPath, join(repoRoot, "main.ts"), ...args], {
    cwd,
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("command line", () => {
  test("--help lists every flag", () => {
    const { code, stdout } = run(["--help"]);
    expect(code).toBe(0);
    for (const flag of ["--config", "--host", "--port", "--ice-servers", "--allowed-origins", "--esp32", "-v, --verbose", "--print-config-schema", "--version"]) {
      expect(stdout).toContain(flag);
    }
  });

  test("--version and --print-config-schema", () => {
    expect(run(["--version"]).stdout).toMatch(/^smallwebrtc \d+\.\d+\.\d+\n$/);
    const schema = JSON.parse(run(["--print-config-schema"]).stdout);
    expect(schema.properties.port.default).toBe(7860);
  });

  test("a bad config file is one line on stderr and exit code 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "swrtc-cli-"));
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ port: "eighty" }));
    const { code, stdout, stderr } = run(["--config", "bad.json"], dir);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toEqual([
      "smallwebrtc: invalid config: port from bad.json: Invalid input: expected number, received string",
    ]);
  });

  test("init that cannot write its file says so in one line, exit code 2", () => {
    const path = join(mkdtempSync(join(tmpdir(), "swrtc-cli-")), "missing", "smallwebrtc.json");
    const { code, stderr } = run(["init", "--config", path]);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^smallwebrtc: cannot write ${path}: `))]);
  });

  test("unknown flags fail the same way", () => {
    const { code, stderr } = run(["--prot", "1"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--prot");
  });

  test("a wrong WASM file in assetsDir is one line on stderr and exit code 2, before the server listens", () => {
    const dir = mkdtempSync(join(tmpdir(), "swrtc-cli-assets-"));
    copyFileSync(join(repoRoot, "node_modules/@evan/opus/wasm/simd.wasm"), join(dir, "speex-resampler.wasm"));
    const { code, stdout, stderr } = run(["--port", "0"], dir, { SMALLWEBRTC_ASSETS_DIR: dir });
    expect(stdout).toBe("");
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(
      `smallwebrtc: ${dir}/speex-resampler.wasm: ` +
        "not a speex-resampler.wasm that this server can use: lacks exports c (memory), d, e, ",
    );
    expect(code).toBe(2);
  });
});
