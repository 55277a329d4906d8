/**
 * Bot files run from source with Bun (`bun main.ts --bot ./bot.ts`): loading (.ts, .js, .mjs, with the API by its bare
 * name and the file's own imports), every start-up error as one line and exit code 2, the `bot` config key and
 * SMALLWEBRTC_BOT, the starter bot of `init --bot`, and the declarations of `types` checked with the repository's tsc.
 * Each bot lives in a directory of its own outside the repository, as a user's would. test/e2e/botFile.test.ts runs
 * a bot file in the binary, and under Bun and Deno with a client.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as api from "../../lib/mod.ts";
import { loadBotFile } from "../../lib/runner/botFile.ts";
import { STARTER_BOT } from "../../lib/runner/starterBot.ts";
import { VERSION } from "../../lib/version.ts";
import { readWav } from "../../scripts/support/audio.ts";
import { speechWav } from "../../scripts/support/media.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

const BUN = join(repoRoot, "node_modules/.bin/bun");
const MAIN = join(repoRoot, "main.ts");
const TSC = join(repoRoot, "node_modules/.bin/tsc");

/** A directory outside the repository holding `files` (name -> text). */
function botDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "swrtc-botfile-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs `bun main.ts args` in `cwd` until it exits; the timeout ends a server that wrongly started. */
function run(args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = Bun.spawnSync([BUN, MAIN, "--host", "127.0.0.1", "--port", "0", ...args], {
    cwd,
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/**
 * The run stopped before listening with exit code 2, and its error is one line on stderr; returns that line. With a
 * config file, the log line saying it was loaded comes first.
 */
function startUpError(result: ReturnType<typeof run>): string {
  expect(result.stdout).toBe("");
  expect(result.code).toBe(2);
  const lines = result.stderr.trim().split("\n").filter((line) => !/ INFO  config loaded file=/.test(line));
  expect(lines).toHaveLength(1);
  return lines[0];
}

let server: ServerProcess | undefined;
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.stop("SIGKILL");
  server = undefined;
});

const isType = (type: string) => (message: unknown) => (message as { type?: string })?.type === type;

describe("loading a bot file", () => {
  test(".ts, .js and .mjs files get this process's API by the name smallwebrtc, in their own imports too", async () => {
    const helper = `import { Pipeline } from "smallwebrtc";\nexport const helperPipeline = Pipeline;\n`;
    const bot = (helperFile: string) =>
      `import { Pipeline, SmallWebRTCTransport } from "smallwebrtc";\n` +
      `import { helperPipeline } from "./${helperFile}";\n` +
      "export async function bot(args) {\n" +
      "  args.webrtcConnection.sent = [Pipeline, helperPipeline, SmallWebRTCTransport];\n" +
      "}\n";
    const dir = botDir({
      "helper.ts": helper,
      "helper.mjs": helper,
      "bot.ts": bot("helper.ts").replace("bot(args)", "bot(args: { webrtcConnection: { sent?: unknown[] } })"),
      "bot.js": bot("helper.mjs"),
      "bot.mjs": bot("helper.mjs"),
    });
    for (const file of ["bot.ts", "bot.js", "bot.mjs"]) {
      const run = await loadBotFile(`./${file}`, dir);
      const connection = {} as { sent?: unknown[] };
      await run({ webrtcConnection: connection as never, body: undefined, cliArgs: [] });
      expect(connection.sent).toEqual([api.Pipeline, api.Pipeline, api.SmallWebRTCTransport]);
    }
  });

  test("a missing file stops the server at start-up: one line, exit code 2", () => {
    const dir = botDir();
    expect(startUpError(run(["--bot", "./missing.ts"], dir))).toBe(
      `smallwebrtc: bot file ./missing.ts: not found (looked for ${join(dir, "missing.ts")})`,
    );
  });

  test("a syntax error, in the file or in one it imports, names the place", () => {
    const dir = botDir({
      "bot.ts": `export async function bot() {\n  const x = 1 +;\n}\n`,
      "indirect.ts": `import "./broken.ts";\nexport async function bot() {}\n`,
      "broken.ts": `export const y = (;\n`,
    });
    expect(startUpError(run(["--bot", "./bot.ts"], dir))).toMatch(
      new RegExp(`^smallwebrtc: bot file \\./bot\\.ts: .+ \\(${join(dir, "bot.ts")}:2:\\d+\\)$`),
    );
    expect(startUpError(run(["--bot", "indirect.ts"], dir))).toMatch(
      new RegExp(`^smallwebrtc: bot file indirect\\.ts: .+ \\(${join(dir, "broken.ts")}:1:\\d+\\)$`),
    );
  });

  test("a module without a bot function stops the server at start-up", () => {
    const dir = botDir({
      "nobot.ts": `export const hello = 1;\n`,
      "default.ts": `export default async function (): Promise<void> {}\n`,
    });
    const expected = "exports no bot function (export async function bot(args) { ... })";
    expect(startUpError(run(["--bot", "nobot.ts"], dir))).toBe(`smallwebrtc: bot file nobot.ts: ${expected}`);
    expect(startUpError(run(["--bot", "default.ts"], dir))).toBe(
      `smallwebrtc: bot file default.ts: ${expected}; its default export is a function: name it bot`,
    );
  });

  test("a file that is no bot file by its extension is refused, naming it", () => {
    expect(startUpError(run(["--bot", "bot.py"], botDir()))).toBe(
      'smallwebrtc: invalid config: bot from flag --bot: "bot.py" is not a built-in bot ' +
        "(echo, parrot, mirror, assistant), a bot file (.ts, .js, .mjs) or the ws:// or wss:// URL of a remote Pipecat bot",
    );
  });

  test("an import that does not resolve, or a throw while loading, stops it too", () => {
    const dir = botDir({
      "lost.ts": `import { gone } from "./gone.ts";\nexport async function bot() { gone(); }\n`,
      "unknown.ts": `import { NoSuchThing } from "smallwebrtc";\nexport async function bot() { new NoSuchThing(); }\n`,
      "throws.ts": `throw new Error("no API key");\nexport async function bot() {}\n`,
    });
    expect(startUpError(run(["--bot", "lost.ts"], dir))).toBe(
      `smallwebrtc: bot file lost.ts: Cannot find module './gone.ts' imported from ${join(dir, "lost.ts")}`,
    );
    expect(startUpError(run(["--bot", "unknown.ts"], dir))).toBe(
      "smallwebrtc: bot file unknown.ts: Export named 'NoSuchThing' not found in module 'smallwebrtc'.",
    );
    expect(startUpError(run(["--bot", "throws.ts"], dir))).toBe("smallwebrtc: bot file throws.ts: no API key");
  });

  test("the bot config key and SMALLWEBRTC_BOT name bot files as --bot does", () => {
    const dir = botDir({ "nobot.mjs": "export const bot = 42;\n", "smallwebrtc.json": '{ "bot": "nobot.mjs" }' });
    expect(startUpError(run([], dir))).toBe(
      "smallwebrtc: bot file nobot.mjs: exports no bot function (export async function bot(args) { ... })",
    );
    expect(startUpError(run([], dir, { SMALLWEBRTC_BOT: "./gone.js" }))).toBe(
      `smallwebrtc: bot file ./gone.js: not found (looked for ${join(dir, "gone.js")})`,
    );
  });
});

describe("init --bot and types", () => {
  test("init --bot writes a starter bot that runs as it is, and never over a file", async () => {
    const dir = botDir();
    const init = run(["init", "--bot", "bot.ts"], dir);
    expect(init.code).toBe(0);
    expect(readFileSync(join(dir, "bot.ts"), "utf8")).toBe(STARTER_BOT);
    expect(startUpError(run(["init", "--bot", "bot.ts"], dir))).toBe(
      "smallwebrtc: bot.ts already exists; remove it first or pass --bot another.ts",
    );

    server = await startServerProcess({ command: [BUN, MAIN], cwd: dir, args: ["--bot", "bot.ts"] });
    const client = new TestClient();
    clients.push(client);
    const answer = await fetch(`${server.url}/api/offer`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(await client.offer()),
    });
    await client.accept(await answer.json());
    await client.channelOpen();
    client.send({ label: "rtvi-ai", type: "client-ready", id: "r1", data: { version: "2.1.0" } });
    await client.waitFor(isType("bot-ready"));
    expect(await client.waitFor(isType("server-message"))).toMatchObject({ data: { text: "Hello from bot.ts!" } });
    client.send({ label: "rtvi-ai", type: "client-message", id: "m1", data: { t: "hi", d: 7 } });
    expect(await client.waitFor(isType("server-response"))).toMatchObject({ id: "m1", data: { d: { received: 7 } } });
    // It says back what it hears.
    void client.sendAudio(readWav(await speechWav()).pcm.subarray(0, 48000 * 2));
    await eventually(() => client.audioIn.length > 50, 10_000, "the starter bot's echo of the speech");
  }, 60_000);

  test("types writes declarations with which tsc checks a bot file, and reports the bot's type errors", () => {
    const dir = botDir();
    expect(run(["types"], dir).code).toBe(0);
    expect(readFileSync(join(dir, "smallwebrtc.d.ts"), "utf8")).toStartWith(`// smallwebrtc ${VERSION}: `);
    expect(existsSync(join(dir, "tsconfig.json"))).toBe(true);
    cpSync(join(repoRoot, "test/fixtures/botFile"), dir, { recursive: true });
    writeFileSync(join(dir, "starter.ts"), STARTER_BOT);
    const tsc = () => {
      const result = Bun.spawnSync([TSC, "-p", dir], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
      return { code: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
    };
    expect(tsc()).toEqual({ code: 0, output: "" });

    // The same check fails on a bot that misuses the API (a string for one of the transport's switches).
    const source = readFileSync(join(dir, "bot.ts"), "utf8");
    writeFileSync(join(dir, "bot.ts"), source.replace("{ audioOutEnabled: true }", '{ audioOutEnabled: "yes" }'));
    const broken = tsc();
    expect(broken.code).not.toBe(0);
    expect(broken.output).toMatch(/^bot\.ts\(\d+,\d+\): error TS2322: Type 'string' is not assignable to type 'bool/m);
  }, 60_000);
});
