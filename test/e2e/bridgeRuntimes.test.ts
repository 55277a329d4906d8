/**
 * The bridge under every way of running the server that does not go through Bun from source: Deno (`deno task
 * start`), whose WebSocket takes the upgrade headers in its own way, and the x64 binary, which carries the protobuf
 * library in its bundle. A werift client, with the test bot on the far side: the configured auth header and the
 * request data reach the bot, the bot answers client-ready, and the client's audio goes there and back.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { rms } from "../../scripts/support/audio.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { startTestBot, type TestBot } from "../../scripts/support/pipecatTestBot.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

const X64 = join(repoRoot, "dist/smallwebrtc-linux-x64");

let bot: TestBot | undefined;
let server: ServerProcess | undefined;
let client: TestClient | undefined;
let emptyDir: string | undefined;

afterEach(async () => {
  await client?.close();
  await server?.stop();
  await bot?.stop();
  if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
  bot = server = client = emptyDir = undefined;
});

async function expectBridged(command: readonly string[], cwd?: string): Promise<void> {
  bot = await startTestBot({ kind: "pipecat" });
  server = await startServerProcess({
    command,
    cwd,
    args: ["--bot", bot.url],
    env: { SMALLWEBRTC_BRIDGE_HEADERS: '{"Authorization": "Bearer bot-secret"}' },
  });
  client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
  const response = await fetch(`${server.url}/api/offer`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...(await client.offer()), request_data: { room: "Zoë" } }),
  });
  expect(response.status).toBe(200);
  await client.accept(await response.json());
  await client.channelOpen();

  const session = await bot.nextSession();
  expect(session.headers.authorization).toBe("Bearer bot-secret");
  expect(JSON.parse(session.headers["x-smallwebrtc-request-data"])).toEqual({ room: "Zoë" });
  client.send({ label: "rtvi-ai", type: "client-ready", id: "r1", data: { version: "2.1.0" } });
  await client.waitFor((m) => (m as { type?: string }).type === "bot-ready");

  const tone = Int16Array.from({ length: 48000 }, (_, i) => Math.round(1e4 * Math.sin((2 * Math.PI * 300 * i) / 48e3)));
  await client.sendAudio(tone);
  await eventually(() => session.audioFrames >= 45, 5000, "the client's audio at the bot");
  const loudPackets = () => {
    const decoder = new OpusDecoder({ sampleRate: 24000, channels: 1 });
    try {
      return client!.audioIn.filter((packet) => rms(decoder.decode(packet.payload)) > 2000).length;
    } finally {
      decoder.free();
    }
  };
  await eventually(() => loudPackets() >= 40, 5000, "the bot's echo at the client");
}

describe("the bridge in other runtimes", () => {
  test("Deno, through deno task start", async () => {
    await expectBridged(SOURCE_COMMANDS.deno);
  }, 90_000);

  test("the x64 binary, from an empty directory", async () => {
    if (!existsSync(X64)) throw new Error(`${X64} is missing: run scripts/build`);
    emptyDir = mkdtempSync(join(tmpdir(), "swrtc-bridge-bin-"));
    await expectBridged([X64], emptyDir);
  }, 60_000);
});
