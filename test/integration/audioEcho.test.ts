/**
 * The media path end to end with two werift peers: speech sent as Opus RTP arrives in the pipeline as 20 ms frames
 * at 16 kHz, the echo bot sends it back, and the client decodes speech that matches what it sent.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { EchoProcessor } from "../../lib/bots/echo.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import {
  type Frame,
  InputAudioRawFrame,
  OutputAudioRawFrame,
  OutputTransportMessageFrame,
  OutputTransportMessageUrgentFrame,
} from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import { speechWav } from "../../scripts/support/media.ts";
import { alignEcho, decimate, findEcho, readWav, rms } from "../../scripts/support/audio.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

/** Keeps every input audio frame it passes on. */
class Recorder extends FrameProcessor {
  constructor(private readonly frames: InputAudioRawFrame[]) {
    super();
  }
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof InputAudioRawFrame) this.frames.push(frame);
    await this.pushFrame(frame, direction);
  }
}

describe("audio echo over real peers", () => {
  test("speech in, 16 kHz frames in the pipeline, the same speech back out", async () => {
    const frames: InputAudioRawFrame[] = [];
    server = startTestServer({}, async ({ webrtcConnection }) => {
      const transport = new SmallWebRTCTransport(webrtcConnection, {
        audioInEnabled: true,
        audioOutEnabled: true,
        audioOutSampleRate: 16000,
      });
      const pipeline = new Pipeline([transport.input(), new Recorder(frames), new EchoProcessor(), transport.output()]);
      await new PipelineTask(pipeline).run();
    });
    peer = new TestClient();
    const { body: answer } = await server.post("/api/offer", await peer.offer());
    await peer.accept(answer);
    await peer.channelOpen();

    const speech = readWav(await speechWav()).pcm.subarray(0, 48000 * 3);
    await peer.sendAudio(speech);
    await eventually(() => frames.length > 140, 5000, "the speech's 20 ms frames in the pipeline");

    expect(frames.every((f) => f.sampleRate === 16000 && f.audio.length === 320 && f.numChannels === 1)).toBe(true);
    const heard = new Int16Array(frames.length * 320);
    frames.forEach((f, i) => heard.set(f.audio, i * 320));
    const reference16k = decimate(speech, 3);
    const inbound = findEcho(reference16k, heard, 16000);
    expect(inbound.envelopeCorrelation).toBeGreaterThan(0.9);

    // What came back: decode the bot's packets in order and look for the speech in it, until all of it is there.
    await eventually(() => {
      const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
      const packets = [...peer.audioIn].sort((a, b) => a.header.timestamp - b.header.timestamp);
      const echoed = new Int16Array(packets.length * 320);
      packets.forEach((p, i) => echoed.set(decoder.decode(p.payload), i * 320));
      decoder.free();
      expect(rms(echoed)).toBeGreaterThan(rms(reference16k) * 0.3);
      // Where the sender had no frame in time it sent silence, and the rest of the speech comes one frame later.
      const { lag } = findEcho(reference16k, echoed, 16000);
      const outbound = findEcho(reference16k, alignEcho(reference16k, echoed, 16000, lag), 16000);
      expect(outbound.envelopeCorrelation).toBeGreaterThan(0.9);
      expect(outbound.waveformCorrelation).toBeGreaterThan(0.6);
      return true;
    }, 5000, "the speech echoed back");
  }, 30_000);
});

describe("output message ordering", () => {
  test("an OutputTransportMessageFrame waits for the audio queued before it; an urgent one does not", async () => {
    let task: PipelineTask | undefined;
    server = startTestServer({}, async ({ webrtcConnection }) => {
      const transport = new SmallWebRTCTransport(webrtcConnection, { audioOutEnabled: true });
      task = new PipelineTask(new Pipeline([transport.input(), transport.output()]));
      await task.run();
    });
    peer = new TestClient();
    const { body: answer } = await server.post("/api/offer", await peer.offer());
    await peer.accept(answer);
    await peer.channelOpen();
    // The bot's audio track sends silence from the start: once it arrives, the output is running.
    await eventually(() => task && peer.audioIn.length > 0, 5000, "the bot's audio output to start");

    const second = Int16Array.from({ length: 24000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000)));
    const sentAt = performance.now();
    const arrivals: Record<string, number> = {};
    void peer.waitFor((m) => (m as { kind?: string }).kind === "after-audio").then(() => (arrivals.ordered = performance.now() - sentAt));
    void peer.waitFor((m) => (m as { kind?: string }).kind === "urgent").then(() => (arrivals.urgent = performance.now() - sentAt));
    await task!.queueFrames([
      new OutputAudioRawFrame(second, 24000),
      new OutputTransportMessageFrame({ kind: "after-audio" }),
      new OutputTransportMessageUrgentFrame({ kind: "urgent" }),
    ]);
    await peer.waitFor((m) => (m as { kind?: string }).kind === "after-audio", 5000);

    // One second of audio plays before the ordered message; the urgent one overtakes it.
    expect(arrivals.ordered).toBeGreaterThan(900);
    expect(arrivals.urgent).toBeLessThan(200);
  }, 30_000);
});
