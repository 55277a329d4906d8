/**
 * The single binary is the whole product. The x64 build runs from an empty directory with the repository's
 * node_modules, lib and public hidden (support/isolatedBinary.ts), so a file read from a build-machine path fails; it
 * must still serve the test page and pass the official client's echo test. The arm64 build runs under qemu-user.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLED_FILES } from "../../lib/assets/bundledFiles.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { ARM64, hidingSources, isolatedCopy, X64 } from "./support/isolatedBinary.ts";
import { speechWav, videoY4m } from "../../scripts/support/media.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { expectSpeechEchoed, expectTestPageServed } from "./support/servingChecks.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";

function run(command: string[], cwd: string, env: Record<string, string> = {}) {
  const result = Bun.spawnSync(command, { cwd, env: { PATH: process.env.PATH!, ...env }, stderr: "pipe" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("x64 binary, isolated", () => {
  let server: ServerProcess;
  let browser: LaunchedBrowser;
  let dir: string;
  let binary: string;

  beforeAll(async () => {
    ({ dir, binary } = isolatedCopy(X64));
    server = await startServerProcess({ command: hidingSources(binary), cwd: dir });
    browser = await launchBrowser({ audioFile: await speechWav(), videoFile: await videoY4m() });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("passes the browser echo test and serves the test page", async () => {
    await expectSpeechEchoed(browser.context, server.url);
    await expectTestPageServed(server.url);
  }, 60_000);

  test("with audio.inFilter rnnoise, sessions run the embedded RNNoise: the echo test still passes", async () => {
    // A filter that cannot load its WASM fails the session's start, so no echo would come back.
    const env = { SMALLWEBRTC_AUDIO_IN_FILTER: "rnnoise" };
    const filtered = await startServerProcess({ command: hidingSources(binary), cwd: dir, env });
    try {
      await expectSpeechEchoed(browser.context, filtered.url);
    } finally {
      await filtered.stop();
    }
  }, 60_000);

  test("--help, --version, --print-config-schema", () => {
    const help = run(hidingSources(binary).concat("--help"), dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--print-config-schema");
    expect(run(hidingSources(binary).concat("--version"), dir).stdout).toMatch(/^smallwebrtc \d+\.\d+\.\d+\n$/);
    expect(JSON.parse(run(hidingSources(binary).concat("--print-config-schema"), dir).stdout).properties.port.default).toBe(7860);
  });

  test("links glibc alone, as the container recipe's distroless base (docs/deploy/Containerfile) assumes", () => {
    const linked = run(["ldd", binary], dir);
    expect(linked.code).toBe(0);
    const libraries = linked.stdout.split("\n").map((line) => line.trim().split(/\s/)[0]).filter(Boolean);
    expect(libraries.length).toBeGreaterThan(1);
    const glibc = /^(linux-vdso\.so\.1|\/lib64\/ld-linux-x86-64\.so\.2|lib(c|m|dl|pthread|rt)\.so\.\d+)$/;
    expect(libraries.filter((library) => !glibc.test(library))).toEqual([]);
  });

  test("init writes a config the binary then loads; env variables override it; a bad one stops it", async () => {
    const workdir = mkdtempSync(join(tmpdir(), "swrtc-init-"));
    expect(run(hidingSources(binary).concat("init"), workdir).code).toBe(0);
    const text = readFileSync(join(workdir, "smallwebrtc.json"), "utf8");
    expect(text).toContain('"port": 7860');
    writeFileSync(join(workdir, "smallwebrtc.json"), text.replace('// "bot": "echo"', '"bot": "parrot"'));
    const fromFile = await startServerProcess({ command: hidingSources(binary), cwd: workdir });
    await fromFile.stop();
    expect(fromFile.output()).toContain("config loaded");
    expect(fromFile.output()).toContain("bot=parrot");
    const fromEnv = await startServerProcess({ command: ["env", "SMALLWEBRTC_BOT=mirror", ...hidingSources(binary)], cwd: workdir });
    await fromEnv.stop();
    expect(fromEnv.output()).toContain("bot=mirror");
    const bad = run(hidingSources(binary).concat(["--config", "missing.json"]), workdir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("missing.json: file not found");
  }, 60_000);
});

describe("x64 binary: bundled files", () => {
  const repoFile = (path: string) => readFileSync(join(repoRoot, "node_modules", path));
  /** Runs the isolated binary until it exits (30 s at most, so one that wrongly keeps serving fails the test). */
  const runToExit = (binary: string, cwd: string, env: Record<string, string> = {}) => {
    const command = hidingSources(binary).concat(["--host", "127.0.0.1", "--port", "0"]);
    const result = Bun.spawnSync(command, { cwd, env: { PATH: process.env.PATH!, ...env }, timeout: 30_000 });
    return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };

  test("a wrong WASM file in assetsDir stops it before it listens, with one line and exit code 2", async () => {
    const { dir, binary } = isolatedCopy(X64);
    const wrong = mkdtempSync(join(tmpdir(), "swrtc-assets-"));
    writeFileSync(join(wrong, "speex-resampler.wasm"), repoFile("@evan/opus/wasm/simd.wasm"));
    const bad = runToExit(binary, dir, { SMALLWEBRTC_ASSETS_DIR: wrong });
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toStartWith(
      `smallwebrtc: ${wrong}/speex-resampler.wasm: ` +
        "not a speex-resampler.wasm that this server can use: lacks exports c (memory), d, e, h, j, o, z, B, C; ",
    );
    expect(bad.code).toBe(2);

    // The same place with another build that serves the binding: accepted, and the server runs on it.
    const good = mkdtempSync(join(tmpdir(), "swrtc-assets-"));
    writeFileSync(join(good, "opus.wasm"), repoFile("@evan/opus/wasm/opus.wasm"));
    const env = { SMALLWEBRTC_ASSETS_DIR: good };
    const server = await startServerProcess({ command: hidingSources(binary), cwd: dir, env });
    try {
      expect(await (await fetch(`${server.url}/status`)).json()).toMatchObject({ status: "ready" });
      expect(server.output()).toContain("bundled files replaced from assetsDir files=opus.wasm");
    } finally {
      await server.stop();
    }
  }, 60_000);

  test("an embedded file whose bytes changed fails its hash check at its first load: one line, exit code 2", () => {
    const { dir, binary } = isolatedCopy(X64);
    const bytes = readFileSync(binary);
    const opus = repoFile("@evan/opus/wasm/simd.wasm");
    const at = bytes.indexOf(opus);
    expect(at).toBeGreaterThan(0);
    bytes[at + (opus.length >> 1)] ^= 1;
    writeFileSync(binary, bytes);
    const changed = createHash("sha256").update(bytes.subarray(at, at + opus.length)).digest("hex");
    const pinned = BUNDLED_FILES["opus.wasm"].sha256;
    const reason = `smallwebrtc: /$bunfs/root/assets/opus.wasm: SHA-256 is ${changed}, expected ${pinned}`;
    // Warm-up loads opus right after the server listens; with a changed file it cannot carry a call, so it stops.
    const single = runToExit(binary, dir, { SMALLWEBRTC_WORKERS: "1" });
    expect(single.stdout).toContain("smallwebrtc is ready");
    expect(single.stderr.trim().split("\n").at(-1)).toBe(reason);
    expect(single.code).toBe(2);
    // Workers warm up as soon as they start, before or after the main process logs that it listens: each worker
    // prints the reason, and the whole server stops with exit code 2, with no other error line.
    const workers = runToExit(binary, dir, { SMALLWEBRTC_WORKERS: "2" });
    const errorLines = workers.stderr.split("\n").filter((line) => line.startsWith("smallwebrtc: "));
    expect(errorLines.length).toBeGreaterThan(0);
    expect(new Set(errorLines)).toEqual(new Set([reason]));
    expect(workers.code).toBe(2);
  }, 60_000);
});

describe("arm64 binary under qemu-user", () => {
  const qemu = (binary: string) => ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", binary];

  test("--help, --version and startup", async () => {
    const { dir, binary } = isolatedCopy(ARM64);
    expect(run(qemu(binary).concat("--version"), dir).stdout).toMatch(/^smallwebrtc \d+\.\d+\.\d+\n$/);
    expect(run(qemu(binary).concat("--help"), dir).stdout).toContain("Usage: smallwebrtc");
    const server = await startServerProcess({ command: qemu(binary), cwd: dir, timeoutMs: 60_000 });
    try {
      const status = await (await fetch(`${server.url}/status`)).json();
      expect(status).toMatchObject({ status: "ready", sessions: 0 });
      expect((await fetch(`${server.url}/client/`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
