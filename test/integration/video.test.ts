/**
 * The video path with real peers: camera RTP (VP8, or H.264 when that is all the client offers) arrives in the
 * pipeline as RGB pictures, and OutputImageRawFrames leave as VP8 the client can decode. Only what the transport
 * asks for is touched: a camera the bot does not read is never decoded.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { H264Packetizer } from "werift";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { MirrorProcessor } from "../../lib/bots/mirror.ts";
import { Vp8Decoder, Vp8Encoder } from "../../lib/media/vp8.ts";
import { Vp8Depacketiser, Vp8Packetiser } from "../../lib/media/vp8Rtp.ts";
import { type RgbImage, rgbToI420 } from "../../lib/media/yuv.ts";
import { type Frame, UserImageRawFrame } from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../../lib/transport/transportParams.ts";
import { accessUnits, h264Fixture } from "../support/h264Fixture.ts";
import { psnrY, syntheticRgb } from "../support/syntheticVideo.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { sleep, TestClient, type VideoRtp } from "../../scripts/support/weriftClient.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

class ImageRecorder extends FrameProcessor {
  constructor(private readonly images: UserImageRawFrame[]) {
    super();
  }
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof UserImageRawFrame) this.images.push(frame);
    await this.pushFrame(frame, direction);
  }
}

function videoBot(params: TransportParams, images: UserImageRawFrame[]) {
  return async ({ webrtcConnection }: RunnerArguments) => {
    const transport = new SmallWebRTCTransport(webrtcConnection, params);
    const pipeline = new Pipeline([transport.input(), new ImageRecorder(images), new MirrorProcessor(), transport.output()]);
    await new PipelineTask(pipeline).run();
  };
}

async function connect(videoCodecs?: ("VP8" | "H264")[]) {
  peer = new TestClient({ videoCodecs });
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
}

async function vp8Frames(sources: RgbImage[]): Promise<VideoRtp[][]> {
  const encoder = await Vp8Encoder.create();
  const packetiser = new Vp8Packetiser();
  const frames: VideoRtp[][] = [];
  for (const [i, image] of sources.entries()) {
    for (const encoded of await encoder.encode(image, { timestampMs: i * 66 })) {
      const payloads = packetiser.packetise(encoded.data);
      frames.push(payloads.map((payload, k) => ({ payload, timestamp: i * 6000, marker: k === payloads.length - 1 })));
    }
  }
  encoder.close();
  return frames;
}

describe("video over real peers", () => {
  test("VP8 camera in as RGB pictures, mirrored back as VP8 the client decodes", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ videoInEnabled: true, videoOutEnabled: true, videoOutFramerate: 15 }, images));
    await connect();
    const sources = Array.from({ length: 30 }, (_, i) => syntheticRgb(320, 240, i));
    await peer.sendVideo(await vp8Frames(sources), 15);
    await sleep(500);

    expect(images.length).toBeGreaterThan(20);
    const last = images.at(-1)!;
    expect(last).toMatchObject({ size: [320, 240], transportSource: "camera", format: "RGB" });
    expect(last.userId).toBe(server.sessions[0].webrtcConnection.pcId);
    const quality = psnrY(rgbToI420({ format: "RGB", width: 320, height: 240, data: last.image }), rgbToI420(sources.at(-1)!));
    expect(quality).toBeGreaterThan(30);

    // What came back decodes into pictures of the same size.
    const depacketiser = new Vp8Depacketiser();
    const decoder = await Vp8Decoder.create();
    let decoded = 0;
    for (const rtp of peer.videoIn) {
      const { frame } = depacketiser.push({ ...rtp.header, payload: rtp.payload });
      const image = frame && (await decoder.decode(frame.data));
      if (image) {
        decoded++;
        expect([image.width, image.height]).toEqual([320, 240]);
      }
    }
    decoder.close();
    expect(decoded).toBeGreaterThan(10);
  }, 30_000);

  test("H.264-only camera is decoded into the pipeline", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ videoInEnabled: true }, images));
    await connect(["H264"]);
    const packetizer = new H264Packetizer({ maxPayloadSize: 1100 });
    const frames = accessUnits(h264Fixture).map((unit, i) =>
      packetizer.packetize(Buffer.from(unit), i * 3000).map((p) => ({ payload: p.payload, timestamp: p.header.timestamp, marker: p.header.marker }))
    );
    await peer.sendVideo(frames, 30);
    await sleep(300);
    expect(images.length).toBeGreaterThan(20);
    expect(images.at(-1)!.size).toEqual([320, 180]);
  }, 30_000);

  test("a camera the bot does not read is never decoded", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ audioInEnabled: true }, images));
    await connect();
    await peer.sendVideo(await vp8Frames(Array.from({ length: 10 }, (_, i) => syntheticRgb(320, 240, i))), 30);
    await sleep(300);
    expect(images).toEqual([]);
  }, 30_000);

  test("trackStatus disabling the camera stops its pictures", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ videoInEnabled: true }, images));
    await connect();
    peer.send({ type: "signalling", message: { type: "trackStatus", receiver_index: 1, enabled: false } });
    await sleep(100);
    await peer.sendVideo(await vp8Frames(Array.from({ length: 10 }, (_, i) => syntheticRgb(320, 240, i))), 30);
    await sleep(300);
    expect(images).toEqual([]);
  }, 30_000);

  test("RTP senders keep packets for retransmission only when the codec was negotiated with NACK", async () => {
    server = startTestServer({}, videoBot({ videoInEnabled: true, videoOutEnabled: true, videoOutFramerate: 15 }, []));
    await connect(["VP8"]);
    await Promise.all([
      peer.sendVideo(await vp8Frames(Array.from({ length: 10 }, (_, i) => syntheticRgb(320, 240, i))), 15),
      peer.sendAudio(new Int16Array(48000 / 2).fill(1000)),
    ]);
    const cached = (kind: string) => {
      const sender = peer.pc.getTransceivers().find((transceiver) => transceiver.kind === kind)!.sender;
      return (sender as unknown as { rtpCache: unknown[] }).rtpCache.filter(Boolean).length;
    };
    // Opus (no NACK in werift's or browsers' offers) keeps none of its 25 packets; VP8 with NACK keeps its history.
    expect(cached("audio")).toBe(0);
    expect(cached("video")).toBeGreaterThan(10);
  }, 30_000);
});
