/**
 * TransportParams that shape the bot's audio track and the input's audio frames, seen from a real werift peer: what
 * goes on the wire while the bot is quiet, at the end of a session, and what of the client's audio reaches the
 * pipeline.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { DEFAULT_VAD_PARAMS, type VADAnalyzer, type VADState } from "../../lib/audio/vad/vadAnalyzer.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import {
  type Frame,
  InputAudioRawFrame,
  OutputAudioRawFrame,
  UserStartedSpeakingFrame,
} from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../../lib/transport/transportParams.ts";
import { rms } from "../../scripts/support/audio.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

/** 200 ms of a loud 440 Hz tone at 24 kHz: exactly ten 20 ms packets. */
const TONE = Int16Array.from({ length: 4800 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000)));
/** One second of the same tone at 48 kHz, as the client sends it. */
const SECOND = Int16Array.from({ length: 48000 }, (_, i) =>
  Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000))
);
/** Opus RTP timestamps run at 48 kHz: one 20 ms packet advances them by 960. */
const TICKS_PER_PACKET = 960;

interface Bot {
  task: PipelineTask;
  transport: SmallWebRTCTransport;
  /** When `task.run()` resolved (performance.now()). */
  endedAt?: number;
}

/** A bot with only the transport in its pipeline (plus `middle`), connected to a fresh peer. */
async function connectBot(params: TransportParams, middle: FrameProcessor[] = []): Promise<Bot> {
  let bot: Bot | undefined;
  let connected = false;
  server = startTestServer({}, async ({ webrtcConnection }) => {
    const transport = new SmallWebRTCTransport(webrtcConnection, params);
    const task = new PipelineTask(new Pipeline([transport.input(), ...middle, transport.output()]));
    bot = { task, transport };
    transport.on("clientConnected", () => void (connected = true));
    await task.run();
    bot.endedAt = performance.now();
  });
  peer = new TestClient();
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
  await eventually(() => connected, 5000, "the client connected to the bot");
  return bot!;
}

/** The bot's packets in sending order, each decoded, with its loudness and arrival time. */
function received() {
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const packets = peer.audioIn
    .map((packet, i) => ({ packet, at: peer.audioInAt[i] }))
    .sort((a, b) => a.packet.header.timestamp - b.packet.header.timestamp)
    .map(({ packet, at }) => ({
      header: packet.header,
      at,
      loud: rms(decoder.decode(packet.payload)) > 1000,
    }));
  decoder.free();
  return packets;
}

describe("audioOutAutoSilence", () => {
  async function twoUtterancesApart(params: TransportParams) {
    const bot = await connectBot({ audioOutEnabled: true, ...params });
    const task = bot.task;
    await task.queueFrame(new OutputAudioRawFrame(TONE, 24000));
    await eventually(() => received().filter((p) => p.loud).length >= 10, 5000, "the first utterance");
    const firstDoneAt = performance.now();
    await eventually(() => performance.now() - firstDoneAt > 400, 2000, "a pause between the utterances");
    await task.queueFrame(new OutputAudioRawFrame(TONE, 24000));
    await eventually(() => received().filter((p) => p.loud).length >= 20, 5000, "the second utterance");
    return { bot, packets: received() };
  }

  test("false: nothing is sent between utterances, and the second starts a new talk spurt", async () => {
    const { packets } = await twoUtterancesApart({ audioOutAutoSilence: false });
    // Both utterances arrived whole (the positive control), and not one packet between or around them.
    expect(packets.map((p) => p.loud)).toEqual(Array(20).fill(true));
    for (let i = 1; i < packets.length; i++) {
      expect(packets[i].header.sequenceNumber).toBe((packets[i - 1].header.sequenceNumber + 1) & 0xffff);
    }
    const gap = (packets[10].header.timestamp - packets[9].header.timestamp) / 48;
    expect(gap).toBeGreaterThan(400);
    expect(packets[0].header.marker).toBe(true);
    expect(packets[10].header.marker).toBe(true);
  }, 30_000);

  test("true (the default): the pause between utterances is filled with silence", async () => {
    const { bot, packets } = await twoUtterancesApart({});
    expect(bot.transport.params.audioOutAutoSilence).toBe(true);
    const firstLoud = packets.findIndex((p) => p.loud);
    const lastLoud = packets.findLastIndex((p) => p.loud);
    const between = packets.slice(firstLoud, lastLoud + 1);
    // Every 20 ms of the pause has its packet: timestamps advance one packet at a time.
    expect(between.filter((p) => !p.loud).length).toBeGreaterThan(15);
    for (let i = 1; i < between.length; i++) {
      expect(between[i].header.timestamp - between[i - 1].header.timestamp).toBe(TICKS_PER_PACKET);
    }
  }, 30_000);
});

describe("audioOutEndSilenceSecs", () => {
  test("an EndFrame is followed by that much silence before the session ends", async () => {
    const bot = await connectBot({ audioOutEnabled: true, audioOutAutoSilence: false, audioOutEndSilenceSecs: 0.4 });
    await bot.task.queueFrame(new OutputAudioRawFrame(TONE, 24000));
    await bot.task.stopWhenDone();
    await eventually(() => bot.endedAt !== undefined, 5000, "the pipeline to end");
    await eventually(() => received().length >= 30, 2000, "the utterance and the silence after it");

    const packets = received();
    // Ten packets of the tone, then 400 ms of silence straight after it, on the same clock, and then the end. The
    // first silent packet still decodes the tone's last milliseconds (Opus looks ahead), so it is not judged.
    expect(packets.length).toBe(30);
    expect(packets.slice(0, 10).every((p) => p.loud)).toBe(true);
    expect(packets.slice(11).some((p) => p.loud)).toBe(false);
    for (let i = 1; i < packets.length; i++) {
      expect(packets[i].header.timestamp - packets[i - 1].header.timestamp).toBe(TICKS_PER_PACKET);
    }
    expect(bot.endedAt! - packets[9].at).toBeGreaterThan(300);
  }, 30_000);

  test("0: the session ends once the audio has been sent", async () => {
    const bot = await connectBot({ audioOutEnabled: true, audioOutAutoSilence: false, audioOutEndSilenceSecs: 0 });
    expect(bot.transport.params.audioOutEndSilenceSecs).toBe(0);
    await bot.task.queueFrame(new OutputAudioRawFrame(TONE, 24000));
    await bot.task.stopWhenDone();
    await eventually(() => bot.endedAt !== undefined, 5000, "the pipeline to end");
    await eventually(() => received().length >= 10, 2000, "the utterance");
    expect(received().map((p) => p.loud)).toEqual(Array(10).fill(true));
  }, 30_000);

  test("the default is Pipecat's 2 s; a negative or non-finite value is refused with a clear error", async () => {
    const outcomes: string[] = [];
    server = startTestServer({}, ({ webrtcConnection }) => {
      outcomes.push(String(new SmallWebRTCTransport(webrtcConnection, {}).params.audioOutEndSilenceSecs));
      for (const audioOutEndSilenceSecs of [-1, Number.NaN]) {
        try {
          new SmallWebRTCTransport(webrtcConnection, { audioOutEndSilenceSecs });
        } catch (error) {
          outcomes.push((error as Error).message);
        }
      }
    });
    peer = new TestClient();
    await server.post("/api/offer", await peer.offer());
    await eventually(() => outcomes.length === 3, 5000, "the bot to try its params");
    expect(outcomes).toEqual([
      "2",
      "TransportParams audioOutEndSilenceSecs: must be a number of seconds >= 0, got -1",
      "TransportParams audioOutEndSilenceSecs: must be a number of seconds >= 0, got NaN",
    ]);
  }, 30_000);
});

/** Counts the frames it is handed and calls anything after its tenth frame speech. */
class CountingVAD implements VADAnalyzer {
  readonly params = DEFAULT_VAD_PARAMS;
  analyzed = 0;
  setSampleRate(): void {}
  analyze(): Promise<VADState> {
    return Promise.resolve(++this.analyzed > 10 ? "speaking" : "quiet");
  }
  reset(): void {}
}

/** Counts the client audio frames and user turns that reach it. */
class Counter extends FrameProcessor {
  audioFrames = 0;
  turns = 0;
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof InputAudioRawFrame) this.audioFrames++;
    if (frame instanceof UserStartedSpeakingFrame) this.turns++;
    await this.pushFrame(frame, direction);
  }
}

describe("audioInPassthrough", () => {

  test("false: client audio feeds the VAD but never reaches the pipeline; its turn frames do", async () => {
    const vad = new CountingVAD();
    const counter = new Counter();
    await connectBot({ audioInEnabled: true, audioInPassthrough: false, vadAnalyzer: vad }, [counter]);
    await peer.sendAudio(SECOND);
    await eventually(() => vad.analyzed >= 40, 5000, "the VAD to hear most of the second");
    await eventually(() => counter.turns === 1, 2000, "the user's turn");
    expect(counter.audioFrames).toBe(0);
  }, 30_000);

  test("true (the default): the same audio reaches the pipeline as InputAudioRawFrame", async () => {
    const vad = new CountingVAD();
    const counter = new Counter();
    const bot = await connectBot({ audioInEnabled: true, vadAnalyzer: vad }, [counter]);
    expect(bot.transport.params.audioInPassthrough).toBe(true);
    await peer.sendAudio(SECOND);
    await eventually(() => vad.analyzed >= 40, 5000, "the VAD to hear most of the second");
    await eventually(() => counter.audioFrames >= 40, 2000, "the audio in the pipeline");
  }, 30_000);
});

describe("audioInStreamOnStart", () => {

  test("false: client audio is held back until the bot starts streaming it, then flows", async () => {
    const vad = new CountingVAD();
    const counter = new Counter();
    const bot = await connectBot({ audioInEnabled: true, audioInStreamOnStart: false, vadAnalyzer: vad }, [counter]);
    expect(bot.transport.params.audioInStreamOnStart).toBe(false);
    // A second the bot does not listen to, then one it does: only the second one arrives (50 frames, not 100).
    await peer.sendAudio(SECOND);
    bot.transport.input().startAudioInStreaming();
    await peer.sendAudio(SECOND);
    await eventually(() => counter.audioFrames >= 40 && vad.analyzed >= 40, 5000, "the second second in the pipeline");
    expect(counter.audioFrames).toBeLessThanOrEqual(50);
    expect(vad.analyzed).toBeLessThanOrEqual(50);
  }, 30_000);
});
