/**
 * One bot file, three ways of running it. test/fixtures/botFile holds a bot.ts that imports `smallwebrtc` and a file
 * of its own, and on client-ready sends an RTVI server-message and plays a 440 Hz tone, neither of which the echo bot
 * ever does. It runs beside the x64 binary, in an empty directory with the sources hidden, where the official client
 * in Chromium (with its microphone off, so that any audio is the bot's) sees both; and from source, under Bun
 * (`bun main.ts --bot`) and Deno (`deno task start -- --bot`), where a werift client hears the tone at its pitch.
 * Each run has the files `types` writes beside the bot, as a user's directory would.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { GREETING, TONE_HZ } from "../fixtures/botFile/tone.ts";
import { eventually } from "../support/eventually.ts";
import { launchBrowser, type LaunchedBrowser } from "./support/browser.ts";
import { hidingSources, isolatedCopy, X64 } from "./support/isolatedBinary.ts";
import { openProbePage, runProbe } from "./support/probe.ts";
import { explainProbe } from "./support/servingChecks.ts";

const FIXTURE = join(repoRoot, "test/fixtures/botFile");
const BUN = join(repoRoot, "node_modules/.bin/bun");

/** Copies the fixture bot into `dir` (default: a new directory outside the repository). */
function withBot(dir = mkdtempSync(join(tmpdir(), "swrtc-bot-"))): string {
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

function run(command: string[], cwd: string) {
  const result = Bun.spawnSync(command, { cwd, env: { PATH: process.env.PATH! }, timeout: 30_000 });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe("a bot file beside the x64 binary", () => {
  let browser: LaunchedBrowser;
  beforeAll(async () => {
    browser = await launchBrowser({ audioFile: null, videoFile: null });
  }, 60_000);
  afterAll(async () => await browser?.close());

  test("the official client gets the bot's server-message and hears its tone", async () => {
    const { dir, binary } = isolatedCopy(X64);
    withBot(dir);
    expect(run([...hidingSources(binary), "types"], dir).code).toBe(0);
    server = await startServerProcess({ command: hidingSources(binary), cwd: dir, args: ["--bot", "./bot.ts"] });

    const page = await openProbePage(browser.context, { baseUrl: server.url });
    try {
      const result = await runProbe(page.page, { baseUrl: server.url, mic: false, connectTimeoutMs: 10_000 }, {
        what: "the bot's server-message and 100 packets of its tone",
        holds: ({ rtviReceived, stats }) =>
          rtviReceived.includes("server-message") && !!stats && stats.audioIn.packetsReceived > 100 &&
          stats.audioIn.totalAudioEnergy > 0.05,
      });
      expect(result.botReady, explainProbe(result)).toBe(true);
      const messages = result.dataChannel.received.map(({ data }) => data);
      expect(messages).toContainEqual({ label: "rtvi-ai", type: "server-message", data: GREETING });
      expect(result.stats!.audioOut.packetsSent).toBe(0);
      expect(result.stats!.audioIn.totalAudioEnergy).toBeGreaterThan(0.05);
    } finally {
      await page.close();
    }
  }, 90_000);

  test("its start-up errors are one line naming the file, exit code 2", () => {
    const { dir, binary } = isolatedCopy(X64);
    writeFileSync(join(dir, "bot.ts"), `import "./helper.ts";\nexport async function bot() {}\n`);
    writeFileSync(join(dir, "helper.ts"), `export const broken = [;\n`);
    writeFileSync(join(dir, "nobot.ts"), 'import { Pipeline } from "smallwebrtc";\nexport const pipe = Pipeline;\n');
    const syntax = run([...hidingSources(binary), "--bot", "bot.ts"], dir);
    expect(syntax.code).toBe(2);
    expect(syntax.stdout).toBe("");
    const where = `${join(dir, "helper.ts")}:1:\\d+`;
    expect(syntax.stderr).toMatch(new RegExp(`^smallwebrtc: bot file bot\\.ts: .+ \\(${where}\\)\\n$`));
    const noBot = run([...hidingSources(binary), "--bot", "nobot.ts"], dir);
    expect(noBot.code).toBe(2);
    expect(noBot.stderr).toBe(
      "smallwebrtc: bot file nobot.ts: exports no bot function (export async function bot(args) { ... })\n",
    );
  }, 60_000);
});

/** Connects a werift client, says client-ready, and returns what the bot sent once its tone has been playing. */
async function callBot(url: string): Promise<TestClient> {
  const client = new TestClient();
  const response = await fetch(`${url}/api/offer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(await client.offer()),
  });
  await client.accept(await response.json());
  await client.channelOpen();
  client.send({ label: "rtvi-ai", type: "client-ready", id: "r1", data: { version: "2.1.0" } });
  await eventually(() => client.audioIn.length > 75, 15_000, "1.5 s of the bot's audio");
  return client;
}

/** The pitch of the bot's audio, from the zero crossings of its loud part (decoded at 16 kHz). */
function pitchOf(client: TestClient): number {
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const packets = [...client.audioIn].sort((a, b) => a.header.timestamp - b.header.timestamp);
  const pcm = packets.flatMap((packet) => [...decoder.decode(packet.payload)]);
  decoder.free();
  const loud = pcm.slice(pcm.findIndex((sample) => Math.abs(sample) > 4000) + 1600);
  const seconds = loud.length / 16000;
  let crossings = 0;
  for (let i = 1; i < loud.length; i++) if ((loud[i - 1] < 0) !== (loud[i] < 0)) crossings++;
  return crossings / 2 / seconds;
}

async function expectToneAndGreeting(url: string): Promise<void> {
  const client = await callBot(url);
  try {
    expect(client.received).toContainEqual({ label: "rtvi-ai", type: "server-message", data: GREETING });
    expect(Math.abs(pitchOf(client) - TONE_HZ)).toBeLessThan(TONE_HZ * 0.03);
  } finally {
    await client.close();
  }
}

describe("the same bot file from source", () => {
  test("under Bun: bun main.ts --bot", async () => {
    const dir = withBot();
    expect(run([BUN, join(repoRoot, "main.ts"), "types"], dir).code).toBe(0);
    const command = [BUN, join(repoRoot, "main.ts")];
    server = await startServerProcess({ command, cwd: dir, args: ["--bot", "./bot.ts"] });
    await expectToneAndGreeting(server.url);
  }, 60_000);

  test("under Deno: deno task start -- --bot", async () => {
    const dir = withBot();
    expect(run([BUN, join(repoRoot, "main.ts"), "types"], dir).code).toBe(0);
    server = await startServerProcess({ command: SOURCE_COMMANDS.deno, args: ["--bot", join(dir, "bot.ts")] });
    expect(server.output()).toContain(`bot=${join(dir, "bot.ts")}`);
    await expectToneAndGreeting(server.url);
  }, 90_000);
});
