/**
 * The assistant and an ESP32 device: the aiortc peer shaped like the pipecat-esp32 firmware (test/interop) talks to
 * a server in ESP32 mode on a second host, whose services are the OpenAI stand-in on the device's side of the link.
 * The device's question is transcribed, and it hears the spoken answer and receives its bot-tts-text captions (which
 * pipecat-esp32 shows on its screen).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { findEcho, readWav, resample } from "../../scripts/support/audio.ts";
import { vadFixture } from "../../scripts/support/media.ts";
import { repoRoot } from "../../scripts/support/paths.ts";
import { type ServerProcess, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { OpenAIStandIn } from "../../scripts/support/openaiStandIn.ts";
import { createTwoHosts, type TwoHosts } from "../support/twoHosts.ts";
import { runAiortcPeer } from "./aiortcPeer.ts";

const QUESTION = "What is the capital of France?";
const ANSWER = ["Paris is the capital of France.", "It lies on the river Seine."];

let hosts: TwoHosts | undefined;
let standIn: OpenAIStandIn | undefined;
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop();
  await standIn?.stop();
  hosts?.close();
});

type Message = { label?: string; type?: string; data?: { text?: string } };

describe("assistant with a pipecat-esp32 device", () => {
  test("the device's question is answered: it hears the speech and gets the captions", async () => {
    hosts = createTwoHosts();
    standIn = new OpenAIStandIn({ hostname: hosts.clientIp });
    standIn.script.transcript = QUESTION;
    standIn.script.reply = () => ANSWER.join(" ");
    const env: Record<string, string> = { SMALLWEBRTC_ASSISTANT_GREETING: "" };
    for (const service of ["STT", "LLM", "TTS"]) env[`SMALLWEBRTC_ASSISTANT_${service}_BASE_URL`] = standIn.baseUrl;
    server = await startServerProcess({
      command: hosts.serverCommand([join(repoRoot, "node_modules/.bin/bun"), join(repoRoot, "main.ts")]),
      args: ["--host", hosts.serverIp, "--esp32", "--bot", "assistant"],
      env,
    });
    const baseUrl = server.url.replace("127.0.0.1", hosts.serverIp);
    // The fixture: 1 s of silence, the speech, 1.5 s of silence; then the device listens for the answer.
    const report = await runAiortcPeer({ baseUrl, wav: await vadFixture("speech"), seconds: 14, esp32: true, iceAddress: hosts.clientIp });
    expect(report.errors).toEqual([]);
    expect(report.connected).toBe(true);

    const received = report.dc_received as Message[];
    expect(received.every((m) => m.label === "rtvi-ai")).toBe(true);
    expect(received.find((m) => m.type === "user-transcription")?.data).toMatchObject({ text: QUESTION });
    expect(received.filter((m) => m.type === "bot-tts-text").map((m) => m.data!.text)).toEqual(ANSWER);
    // The device's audio reached speech to text as the turn's WAV; the LAN-style services got no key.
    expect(standIn.to("transcriptions")).toHaveLength(1);
    expect(standIn.requests.every((request) => request.authorization === null)).toBe(true);

    // The answer's speech is in what the device heard (at its 16 kHz), shaped like the stand-in's espeak speech.
    const heard = readWav(report.recording!).pcm;
    const firstSentence = resample(await standIn.speech(ANSWER[0]), 24000, 16000);
    expect(findEcho(firstSentence, heard, 16000).envelopeCorrelation).toBeGreaterThan(0.8);
  }, 60_000);
});
