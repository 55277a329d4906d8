/**
 * The bridge with real peers: a werift client connects to a server whose bot is a remote Pipecat bot (the test bot,
 * scripts/support/pipecatTestBot.ts, which reads and writes frames with the official serializer). What the client
 * sends reaches the bot, what the bot sends reaches the client, and every way a bot can fail ends the session
 * cleanly with the process still serving.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { bridgeBot, type BridgeOptions, BOT_UNREACHABLE_MESSAGE } from "../../lib/bridge/bridgeBot.ts";
import { bridgeStats } from "../../lib/bridge/bridgeStats.ts";
import { REQUEST_DATA_HEADER, SESSION_ID_HEADER } from "../../lib/bridge/upgradeHeaders.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { rms } from "../../scripts/support/audio.ts";
import { startTestBot, type TestBot, type TestBotBehaviour } from "../../scripts/support/pipecatTestBot.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { consistently, eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

let server: TestServer | undefined;
let bot: TestBot | undefined;
const clients: TestClient[] = [];
let logLines: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await server?.close();
  await bot?.stop();
  server = bot = undefined;
  logLines = [];
});

const PEER_LEFT = (m: unknown) => (m as { message?: { type?: string } }).message?.type === "peerLeft";
const rtvi = (type: string) => (m: unknown) => (m as { label?: string; type?: string }).label === "rtvi-ai" &&
  (m as { type?: string }).type === type;

async function bridgeTo(behaviour: TestBotBehaviour, options: Partial<BridgeOptions> = {}): Promise<TestBot> {
  bot = await startTestBot(behaviour);
  const logger = createLogger({ level: "info", write: (line) => logLines.push(line) });
  const run = bridgeBot({
    url: bot.url,
    headers: { Authorization: "Bearer bot-secret" },
    connectTimeoutSecs: 5,
    audioInSampleRate: 16000,
    audioOutSampleRate: 24000,
    audioOutLive: false,
    maxQueuedMs: 10_000,
    ...options,
  });
  server = startTestServer({}, run, logger);
  return bot;
}

async function connectClient(body: Record<string, unknown> = {}): Promise<TestClient> {
  const client = new TestClient({ media: [{ kind: "audio", direction: "sendrecv" }] });
  clients.push(client);
  const { status, body: answer } = await server!.post("/api/offer", { ...(await client.offer()), ...body });
  expect(status).toBe(200);
  await client.accept(answer);
  await client.channelOpen();
  return client;
}

/** A 48 kHz tone, loud: what the client's microphone says. */
function tone48k(ms: number): Int16Array {
  const sample = (i: number) => Math.round(10000 * Math.sin((2 * Math.PI * 300 * i) / 48000));
  return Int16Array.from({ length: (48 * ms) | 0 }, (_, i) => sample(i));
}

/** The bot audio a client received, decoded in order at 24 kHz, and the RMS of each 20 ms packet. */
function packetLevels(client: TestClient): number[] {
  const decoder = new OpusDecoder({ sampleRate: 24000, channels: 1 });
  try {
    return client.audioIn.map((packet) => rms(decoder.decode(packet.payload)));
  } finally {
    decoder.free();
  }
}

/**
 * When the server sent each bot audio packet, by its own pacing: the packet's RTP time (48 kHz), placed on this
 * process's clock by the packet that arrived soonest after its schedule. Arrival times alone would also count a packet
 * sent before an event but handled after it, as happens whenever the loop that runs client and server is busy.
 */
function sendTimes(client: TestClient): number[] {
  const first = client.audioIn[0].header.timestamp;
  const media = client.audioIn.map((packet) => ((packet.header.timestamp - first) >>> 0) / 48);
  const offset = Math.min(...media.map((ms, i) => client.audioInAt[i] - ms));
  return media.map((ms) => ms + offset);
}

describe("bridge to a remote Pipecat bot", () => {
  test("client audio goes to the bot in 20 ms 16 kHz frames, the bot answers client-ready, echo returns", async () => {
    const testBot = await bridgeTo({ kind: "pipecat" });
    const client = await connectClient({ request_data: { user: "Zoë", plan: 3 } });
    const session = await testBot.nextSession();

    expect(session.headers.authorization).toBe("Bearer bot-secret");
    expect(session.headers[SESSION_ID_HEADER.toLowerCase()]).toBe(server!.sessions[0].webrtcConnection.pcId);
    // JSON in ASCII: the bot reads it back with json.loads as it was sent.
    expect(session.headers[REQUEST_DATA_HEADER.toLowerCase()]).toBe('{"user":"Zo\\u00eb","plan":3}');
    expect(JSON.parse(session.headers[REQUEST_DATA_HEADER.toLowerCase()])).toEqual({ user: "Zoë", plan: 3 });

    client.send({ label: "rtvi-ai", type: "client-ready", id: "r1", data: { version: "2.1.0" } });
    const ready = await client.waitFor(rtvi("bot-ready"));
    expect(ready).toMatchObject({ id: "r1", data: { about: { library: "pipecat-test-bot" } } });
    const clientReady = { label: "rtvi-ai", type: "client-ready", id: "r1", data: { version: "2.1.0" } };
    expect(session.messages).toContainEqual(clientReady);

    const quietBefore = client.audioIn.length;
    await client.sendAudio(tone48k(1000));
    await eventually(() => session.audioFrames >= 45, 5000, "the tone's frames at the bot");
    expect(session.audioSamples / session.audioFrames).toBe(320);
    await eventually(() => packetLevels(client).slice(quietBefore).filter((level) => level > 2000).length >= 40, 5000,
      "the echoed tone at the client");
  }, 30_000);

  test("the bot's interruption silences the client within one packet, with seconds of speech queued", async () => {
    const testBot = await bridgeTo({ kind: "pipecat", echo: false });
    const client = await connectClient();
    const session = await testBot.nextSession();
    const arrivals = client.audioInAt;
    void session.speak(8000, 4);
    await eventually(() => packetLevels(client).filter((level) => level > 2000).length >= 25, 5000, "the bot's speech");
    // The bot sent its speech four times faster than it plays: most of it waits in the bridge.
    await eventually(() => bridgeStats.queuedSeconds("toClient") > 2, 5000, "seconds of speech queued");
    const interruptedAt = performance.now() - (Date.now() - session.interrupt());
    await eventually(() => arrivals.at(-1)! > interruptedAt + 500, 5000, "half a second of packets after it");

    const levels = packetLevels(client);
    const sent = sendTimes(client);
    const loudAfter = levels.filter((level, i) => level > 2000 && sent[i] > interruptedAt);
    const justBefore = (i: number) => sent[i] > interruptedAt - 200 && sent[i] <= interruptedAt;
    const loudBefore = levels.filter((level, i) => level > 2000 && justBefore(i));
    expect(loudBefore.length).toBeGreaterThanOrEqual(8);
    expect(loudAfter.length).toBeLessThanOrEqual(1);
    expect(bridgeStats.queuedSeconds("toClient")).toBe(0);
  }, 30_000);

  test("a live bot's burst of quiet audio drains faster than it plays, not into lasting latency", async () => {
    const testBot = await bridgeTo({ kind: "pipecat", echo: false }, { audioOutLive: true });
    await connectClient();
    const session = await testBot.nextSession();
    await session.speak(3000, 50, 0);
    await eventually(() => bridgeStats.queuedSeconds("toClient") > 2.5, 2000, "the burst queued");
    const start = performance.now();
    // The live sender skips quiet frames once a backlog has lasted 200 ms: 3 s of silence go in about 1.7 s.
    await eventually(() => bridgeStats.queuedSeconds("toClient") === 0, 2500, "the burst drained");
    expect(performance.now() - start).toBeLessThan(2500);
  }, 30_000);

  test("bare transcription and text frames reach the client as user-transcription and bot-output", async () => {
    const testBot = await bridgeTo({ kind: "pipecat" });
    const client = await connectClient();
    const session = await testBot.nextSession();
    const utf8 = (text: string) => [...new TextEncoder().encode(text)];
    // Written out from the schema: TranscriptionFrame (field 3) {text "hi", user_id "u1", timestamp "t0"},
    // TextFrame (field 1) {text "hello"}.
    session.sendBytes(Uint8Array.of(0x1a, 12, 0x1a, 2, ...utf8("hi"), 0x22, 2, ...utf8("u1"), 0x2a, 2, ...utf8("t0")));
    session.sendBytes(Uint8Array.of(0x0a, 7, 0x1a, 5, ...utf8("hello")));
    expect(await client.waitFor(rtvi("user-transcription"))).toMatchObject({
      data: { text: "hi", user_id: "u1", timestamp: "t0", final: true },
    });
    expect(await client.waitFor(rtvi("bot-output"))).toMatchObject({ data: { text: "hello" } });
    // A message the bot sends is passed on as it is, RTVI or not.
    session.sendMessage({ custom: [1, 2] });
    await client.waitFor((m) => JSON.stringify(m) === '{"custom":[1,2]}');
  }, 30_000);

  test("a client that leaves closes the bot's WebSocket with code 1000", async () => {
    const testBot = await bridgeTo({ kind: "pipecat" });
    const client = await connectClient();
    const session = await testBot.nextSession();
    await client.close();
    expect(await session.closed).toBe(1000);
    await eventually(() => bridgeStats.openSockets === 0, 5000, "no bot socket left open");
  }, 30_000);

  test("a bot that hangs up mid-call ends the session with peerLeft", async () => {
    const testBot = await bridgeTo({ kind: "pipecat" });
    const client = await connectClient();
    const session = await testBot.nextSession();
    void client.sendAudio(tone48k(3000));
    await eventually(() => session.audioFrames > 10, 5000, "audio at the bot");
    session.close(1000);
    await client.waitFor(PEER_LEFT);
    await eventually(async () => (await server!.request("/status").then((r) => r.json())).sessions === 0, 5000,
      "the session freed");
    expect(logLines.some((line) => line.includes("the bot closed the WebSocket"))).toBe(true);
  }, 30_000);
});

describe("a bot that cannot be reached", () => {
  const unreachable: [string, () => Promise<TestBotBehaviour | "nothing listening">, RegExp][] = [
    ["refuses the upgrade (HTTP 403)", async () => ({ kind: "refuse", status: 403 }), /answered HTTP 403/],
    ["is not listening", async () => "nothing listening", /connection failed/],
    ["never answers the upgrade", async () => ({ kind: "silent" }), /no answer within 1 s/],
  ];
  for (const [what, behaviour, reason] of unreachable) {
    test(`one that ${what}: the client gets a fatal RTVI error and peerLeft, the log one line`, async () => {
      const chosen = await behaviour();
      const failuresBefore = bridgeStats.failedConnects;
      if (chosen === "nothing listening") {
        // A port that was just free: bound, noted and closed again.
        const probe = await startTestBot({ kind: "silent" });
        const url = probe.url;
        await probe.stop();
        await bridgeTo({ kind: "pipecat" }, { url, connectTimeoutSecs: 1 });
      } else {
        await bridgeTo(chosen, { connectTimeoutSecs: 1 });
      }
      const client = await connectClient();
      const error = await client.waitFor(rtvi("error"));
      expect(error).toMatchObject({ data: { error: BOT_UNREACHABLE_MESSAGE, fatal: true } });
      await client.waitFor(PEER_LEFT);
      const lines = logLines.filter((line) => line.includes("ERROR"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(reason);
      expect(lines[0]).toContain("bridge: cannot reach the bot at ws://127.0.0.1:");
      expect(lines[0]).not.toContain("bot-secret");
      expect(bridgeStats.failedConnects).toBe(failuresBefore + 1);
      // The server is still serving.
      expect((await server!.request("/status")).status).toBe(200);
    }, 30_000);
  }
});

/**
 * Shrinks the kernel's TCP buffers, which would otherwise take in minutes of audio for a bot that does not read
 * before anything waits in the bridge. Only in a network namespace of the test's own (scripts/netns: lo alone), where
 * the setting ends with the namespace; restored when the test is done all the same.
 */
function smallTcpBuffers(): () => void {
  // /proc/self/net/dev lists this namespace's devices (unlike /sys, which shows the host's without a remount).
  const devices = readFileSync("/proc/self/net/dev", "utf8").split("\n").slice(2)
    .map((line) => line.split(":")[0].trim()).filter(Boolean);
  if (devices.join() !== "lo") {
    throw new Error(`run this test inside scripts/netns (network devices: ${devices.join(", ")})`);
  }
  const files = ["/proc/sys/net/ipv4/tcp_rmem", "/proc/sys/net/ipv4/tcp_wmem"];
  const saved = files.map((file) => readFileSync(file, "utf8"));
  for (const file of files) writeFileSync(file, "4096 8192 16384");
  return () => files.forEach((file, i) => writeFileSync(file, saved[i]));
}

describe("bounded queues", () => {
  test("a bot that stops reading: at most maxQueuedMs of client audio waits, the oldest dropped", async () => {
    const restoreBuffers = smallTcpBuffers();
    let sending = true;
    let talking: Promise<void> | undefined;
    try {
      await bridgeTo({ kind: "stalled" }, { maxQueuedMs: 500 });
      const client = await connectClient();
      const droppedBefore = bridgeStats.droppedSeconds("toBot");
      talking = (async () => {
        while (sending) await client.sendAudio(tone48k(1000));
      })();
      // The kernel's socket buffers fill first, then the bridge's queue, then drops begin.
      await eventually(() => bridgeStats.droppedSeconds("toBot") > droppedBefore + 0.5, 15_000, "client audio dropped");
      const dropped = bridgeStats.droppedSeconds("toBot");
      await consistently(() => bridgeStats.queuedSeconds("toBot") <= 0.5, 1000, "at most 500 ms of audio queued");
      expect(bridgeStats.droppedSeconds("toBot")).toBeGreaterThan(dropped + 0.5);
      const metrics = await (await server!.request("/metrics")).text();
      const counted = /smallwebrtc_bridge_dropped_audio_seconds_total\{direction="to_bot"\} (\S+)/.exec(metrics)?.[1];
      expect(Number(counted)).toBeGreaterThan(dropped);
    } finally {
      sending = false;
      await talking;
      restoreBuffers();
    }
  }, 45_000);

  test("a bot that floods its speech: at most maxQueuedMs of it waits, the oldest dropped and counted", async () => {
    const testBot = await bridgeTo({ kind: "pipecat", echo: false }, { maxQueuedMs: 1000 });
    await connectClient();
    const session = await testBot.nextSession();
    const droppedBefore = bridgeStats.droppedSeconds("toClient");
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, bridgeStats.queuedSeconds("toClient"))), 5);
    try {
      await session.speak(5000, 100);
      await eventually(() => bridgeStats.droppedSeconds("toClient") >= droppedBefore + 3.5, 5000, "speech dropped");
    } finally {
      clearInterval(watch);
    }
    expect(peak).toBeGreaterThan(0.8);
    expect(peak).toBeLessThanOrEqual(1);
  }, 30_000);
});
