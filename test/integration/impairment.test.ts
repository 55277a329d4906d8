/**
 * A call over a bad network: 5 % loss and 30 ms of jitter each way (a userspace relay: this kernel has no netem).
 * The call must go on, with lost packets concealed so the pipeline still gets a gapless 20 ms frame stream, and the
 * echo delay is measured from tone bursts and reported (p50/p95).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { type Frame, InputAudioRawFrame } from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { EchoProcessor } from "../../lib/bots/echo.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import { rms } from "../../scripts/support/audio.ts";
import { type LossyLink, openLossyLink, throughLink } from "../support/lossyLink.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient, withoutCandidates } from "../../scripts/support/weriftClient.ts";

let server: TestServer;
let peer: TestClient;
let link: LossyLink;
afterEach(async () => {
  await peer?.close();
  await server?.close();
  link?.close();
});

class FrameCounter extends FrameProcessor {
  frames = 0;
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof InputAudioRawFrame) this.frames++;
    await this.pushFrame(frame, direction);
  }
}

/** 10 s of 100 ms tone bursts every 500 ms, starting at 0.5 s; returns the audio and the burst start frames. */
function bursts(): { pcm: Int16Array; startFrames: number[] } {
  const pcm = new Int16Array(48000 * 10);
  const startFrames: number[] = [];
  for (let start = 0.5; start < 9.5; start += 0.5) {
    startFrames.push(Math.round((start * 1000) / 20));
    const offset = Math.round(start * 48000);
    for (let i = 0; i < 4800; i++) pcm[offset + i] = Math.round(10000 * Math.sin((2 * Math.PI * 1000 * i) / 48000));
  }
  return { pcm, startFrames };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe("impaired network", () => {
  test("5 % loss and 30 ms jitter: audio keeps flowing, losses are concealed, echo delay reported", async () => {
    const counter = new FrameCounter();
    server = startTestServer({}, async ({ webrtcConnection }) => {
      const transport = new SmallWebRTCTransport(webrtcConnection, { audioInEnabled: true, audioOutEnabled: true, audioOutSampleRate: 16000, audioOutLive: true });
      await new PipelineTask(new Pipeline([transport.input(), counter, new EchoProcessor(), transport.output()])).run();
    });
    peer = new TestClient();
    // No client candidates: the server can only learn the client through the relay.
    const { body: answer } = await server.post("/api/offer", { sdp: withoutCandidates((await peer.offer()).sdp).sdp, type: "offer" });
    const { serverPort } = throughLink(answer.sdp, 0);
    // The link degrades once the call is up: werift's DTLS handshake is fragile under loss (see weriftPatches.ts).
    link = await openLossyLink(serverPort);
    await peer.accept({ sdp: throughLink(answer.sdp, link.port).sdp });
    await peer.channelOpen(15_000);
    link.impair({ loss: 0.05, delayMs: 20, jitterMs: 30, seed: 42 });

    const { pcm, startFrames } = bursts();
    const sentAt = new Map<number, number>();
    const framesBefore = counter.frames;
    const started = performance.now();
    await peer.sendAudio(pcm, (index, at) => sentAt.set(index, at));
    const elapsedFrames = Math.round((performance.now() - started) / 20);

    // Each burst's echo: the first loud packet after it was sent, within 450 ms. The last burst starts 1 s before the
    // audio ends, so every echo that counts has arrived by now.
    const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
    const loud = peer.audioIn
      .map((packet, i) => ({ at: peer.audioInAt[i], level: rms(decoder.decode(packet.payload)) }))
      .filter(({ level }) => level > 2000);
    decoder.free();
    const delays: number[] = [];
    for (const frame of startFrames) {
      const sent = sentAt.get(frame)!;
      const echo = loud.find(({ at }) => at > sent);
      if (echo && echo.at - sent < 450) delays.push(echo.at - sent);
    }
    const p50 = percentile(delays, 50);
    const p95 = percentile(delays, 95);
    console.log(`impaired echo delay: p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms over ${delays.length} bursts; ${link.stats.dropped} of ${link.stats.dropped + link.stats.forwarded} datagrams dropped`);
    // The pipeline saw a gapless stream: every 20 ms had a frame, lost ones concealed.
    expect(link.stats.dropped).toBeGreaterThan(20);
    expect(counter.frames - framesBefore).toBeGreaterThan(elapsedFrames * 0.9);
    expect(delays.length).toBeGreaterThanOrEqual(startFrames.length - 3);
    expect(p95).toBeLessThan(400);
  }, 60_000);
});
