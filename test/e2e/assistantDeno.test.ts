/**
 * The assistant under Deno (`deno task start -- --bot assistant`), against the OpenAI stand-in, with a werift client:
 * a spoken turn is answered in speech with its captions, and a typed turn sent while the answer plays cuts it off,
 * aborting its speech requests. Cancelling work on an interruption rests on AsyncLocalStorage, which each runtime
 * implements itself; this is where Deno's is shown to do the job.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readWav } from "../../scripts/support/audio.ts";
import { vadFixture } from "../../scripts/support/media.ts";
import { OpenAIStandIn } from "../../scripts/support/openaiStandIn.ts";
import { type ServerProcess, SOURCE_COMMANDS, startServerProcess } from "../../scripts/support/serverProcess.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

const ANSWER = ["Paris is the capital of France.", "It lies on the river Seine.", "Would you like to know more?"];

let standIn: OpenAIStandIn;
let server: ServerProcess;
let client: TestClient;

beforeAll(async () => {
  standIn = new OpenAIStandIn();
  standIn.script.transcript = "What is the capital of France?";
  standIn.script.reply = () => ANSWER.join(" ");
  // Speech streams slower than it plays, so the answer is still being fetched when the typed turn cuts it off.
  standIn.script.chunkDelayMs = 150;
  // A long stopSecs: the pause between the fixture's two sentences must not end the turn.
  const env: Record<string, string> = {
    SMALLWEBRTC_ASSISTANT_GREETING: "",
    SMALLWEBRTC_ASSISTANT_VAD_STOP_SECS: "1.2",
  };
  for (const service of ["STT", "LLM", "TTS"]) env[`SMALLWEBRTC_ASSISTANT_${service}_BASE_URL`] = standIn.baseUrl;
  server = await startServerProcess({ command: SOURCE_COMMANDS.deno, args: ["--bot", "assistant"], env });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await server?.stop();
  await standIn?.stop();
});

type Rtvi = { label?: string; type?: string; data?: { text?: string; spoken?: boolean } };
const ofType = (type: string) => (client.received as Rtvi[]).filter((m) => m?.label === "rtvi-ai" && m.type === type);

describe("the assistant under Deno", () => {
  test("answers a spoken turn in speech, and a typed turn cuts that answer off", async () => {
    client = new TestClient();
    const offer = await fetch(`${server.url}/api/offer`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(await client.offer()),
    });
    await client.accept(await offer.json());
    await client.channelOpen();

    const speech = readWav(await vadFixture("speech")).pcm;
    await client.sendAudio(Int16Array.from({ length: speech.length * 3 }, (_, i) => speech[Math.floor(i / 3)]));
    await eventually(() => ofType("bot-tts-text").length >= 1 && ofType("bot-started-speaking").length >= 1, 20_000,
      "the answer starting to play");
    expect(ofType("user-transcription")[0].data).toMatchObject({ text: "What is the capital of France?" });
    expect(ofType("bot-tts-text")[0].data!.text).toBe(ANSWER[0]);

    const typed = { content: "Never mind.", options: { audio_response: false } };
    client.send({ label: "rtvi-ai", type: "send-text", data: typed });
    // The typed turn is answered; the spoken answer it cut off never finishes (no bot-llm-stopped of its own).
    await eventually(() => ofType("bot-llm-stopped").length === 1, 10_000, "the typed turn answered");
    await eventually(() => ofType("bot-output").some((m) => m.data!.spoken === false), 5000, "the typed answer shown");
    expect(standIn.to("chat")).toHaveLength(2);
    // The spoken answer's speech requests still streaming were aborted, and the typed answer made none.
    expect(standIn.to("speech").some((request) => request.aborted)).toBe(true);
    expect(standIn.to("speech").length).toBeLessThanOrEqual(ANSWER.length);
  }, 60_000);
});
