/**
 * The video path with real peers: camera RTP (VP8, or H.264 when that is all the client offers) arrives in the
 * pipeline as RGB pictures, and OutputImageRawFrames leave as VP8 the client can decode. Only what the transport
 * asks for is touched: a camera the bot does not read is never decoded.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { H264Packetizer } from "werift";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { MirrorProcessor } from "../../lib/bots/mirror.ts";
import { Vp8Decoder, Vp8Encoder } from "../../lib/media/vp8.ts";
import { Vp8Depacketiser, Vp8Packetiser } from "../../lib/media/vp8Rtp.ts";
import { warmUpVideoThread } from "../../lib/media/vp8Thread.ts";
import { i420ByteLength, type I420Image, type RgbImage, rgbToI420 } from "../../lib/media/yuv.ts";
import { type Frame, UserImageRawFrame } from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../../lib/transport/transportParams.ts";
import { accessUnits, h264Fixture } from "../support/h264Fixture.ts";
import { psnrY, syntheticRgb } from "../support/syntheticVideo.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient, type VideoRtp } from "../../scripts/support/weriftClient.ts";
import { consistently, eventually } from "../support/eventually.ts";

let server: TestServer;
let peer: TestClient;
// As the server does for the mirror bot: a cold codec thread would fall behind the first pictures and drop them until
// a keyframe, which this client never sends when asked.
beforeAll(() => warmUpVideoThread());
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

/**
 * Packetised VP8 of `sources`, with a keyframe every 5 frames: this client does not answer keyframe requests, so a
 * server that drops frames while its codec thread is busy (a loaded machine) picks the stream up again by itself.
 */
async function vp8Frames(sources: RgbImage[]): Promise<VideoRtp[][]> {
  const encoder = await Vp8Encoder.create({ keyframeInterval: 5 });
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

/**
 * Sends 10 VP8 frames on the camera and waits until the server has received at least that many packets: the positive
 * control for tests that show what the pipeline did not do with them.
 */
async function sendVideoToServer(): Promise<void> {
  const frames = await vp8Frames(Array.from({ length: 10 }, (_, i) => syntheticRgb(320, 240, i)));
  const connection = server.sessions[0].webrtcConnection;
  const before = connection.traffic.packetsIn;
  await peer.sendVideo(frames, 30);
  const packets = frames.flat().length;
  await eventually(() => connection.traffic.packetsIn - before >= packets, 5000, `${packets} video packets at the server`);
}

describe("video over real peers", () => {
  test("VP8 camera in as RGB pictures, mirrored back as VP8 the client decodes", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ videoInEnabled: true, videoOutEnabled: true, videoOutFramerate: 15 }, images));
    await connect();
    const sources = Array.from({ length: 30 }, (_, i) => syntheticRgb(320, 240, i));
    await peer.sendVideo(await vp8Frames(sources), 15);
    // The last picture sent is the last to arrive: once it is there, every earlier one that made it is too.
    const lastSent = rgbToI420(sources.at(-1)!);
    const quality = (image: UserImageRawFrame) =>
      psnrY(rgbToI420({ format: "RGB", width: image.size[0], height: image.size[1], data: image.image }), lastSent);
    await eventually(() => images.length > 0 && quality(images.at(-1)!) > 30, 10_000, "the last camera picture");

    // Most of the 30 pictures: on a loaded machine the codec thread may fall behind, and the receiver then drops
    // frames up to the next keyframe rather than queue them.
    expect(images.length).toBeGreaterThan(10);
    const last = images.at(-1)!;
    expect(last).toMatchObject({ size: [320, 240], transportSource: "camera", format: "RGB" });
    expect(last.userId).toBe(server.sessions[0].webrtcConnection.pcId);

    // What came back decodes into pictures of the same size.
    await eventually(() => peer.videoIn.filter((rtp) => rtp.header.marker).length > 10, 10_000, "10 mirrored pictures");
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

  test("videoInFormat I420: pictures arrive as the codec decoded them, and mirror back without RGB", async () => {
    const images: UserImageRawFrame[] = [];
    const params: TransportParams = { videoInEnabled: true, videoInFormat: "I420", videoOutEnabled: true };
    server = startTestServer({}, videoBot({ ...params, videoOutFramerate: 15 }, images));
    await connect(["VP8"]);
    const sources = Array.from({ length: 20 }, (_, i) => syntheticRgb(321, 179, i));
    await peer.sendVideo(await vp8Frames(sources), 15);
    const lastSent = rgbToI420(sources.at(-1)!);
    const asI420 = (frame: UserImageRawFrame): I420Image => ({
      format: "I420",
      width: frame.size[0],
      height: frame.size[1],
      data: frame.image,
    });
    const lastArrived = () => images.length > 0 && psnrY(asI420(images.at(-1)!), lastSent) > 30;
    await eventually(lastArrived, 10_000, "the last picture");
    expect(images.at(-1)).toMatchObject({ size: [321, 179], format: "I420" });
    expect(images.at(-1)!.image.length).toBe(i420ByteLength(321, 179));

    // The I420 pictures went out as they came: the client decodes the last one.
    const lastMirrored = async () => {
      const depacketiser = new Vp8Depacketiser();
      const decoder = await Vp8Decoder.create();
      let last: I420Image | undefined;
      try {
        for (const rtp of peer.videoIn) {
          const { frame } = depacketiser.push({ ...rtp.header, payload: rtp.payload });
          if (frame) last = (await decoder.decode(frame.data)) ?? last;
        }
      } finally {
        decoder.close();
      }
      return last !== undefined && last.width === 321 && psnrY(last, lastSent) > 30;
    };
    await eventually(lastMirrored, 10_000, "the last picture mirrored back", { pollMs: 250 });
  }, 30_000);

  test("H.264-only camera is decoded into the pipeline", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ videoInEnabled: true }, images));
    await connect(["H264"]);
    const clip = accessUnits(h264Fixture);
    const packetizer = new H264Packetizer({ maxPayloadSize: 1100 });
    // The clip repeats, as a camera keeps sending (it has a keyframe every 15 frames): frames that arrive while the
    // decoder is still starting are dropped until the next keyframe, and this client does not answer keyframe requests.
    const enough = () => images.length > 20;
    const streaming = (async () => {
      for (let round = 0; round < 20 && !enough(); round++) {
        const frames = clip.map((unit, i) =>
          packetizer.packetize(Buffer.from(unit), (round * clip.length + i) * 3000)
            .map((p) => ({ payload: p.payload, timestamp: p.header.timestamp, marker: p.header.marker }))
        );
        await peer.sendVideo(frames, 30);
      }
    })();
    await eventually(enough, 20_000, "20 decoded H.264 pictures");
    await streaming;
    expect(images.at(-1)!.size).toEqual([320, 180]);
  }, 30_000);

  test("a camera the bot does not read is never decoded", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ audioInEnabled: true }, images));
    await connect();
    await sendVideoToServer();
    await consistently(() => images.length === 0, 300, "no camera picture in the pipeline");
  }, 30_000);

  test("trackStatus disabling the camera stops its pictures, enabling it brings them back", async () => {
    const images: UserImageRawFrame[] = [];
    server = startTestServer({}, videoBot({ videoInEnabled: true }, images));
    await connect();
    peer.send({ type: "signalling", message: { type: "trackStatus", receiver_index: 1, enabled: false } });
    const connection = server.sessions[0].webrtcConnection;
    await eventually(() => !connection.isTrackEnabled(1), 5000, "the camera to be disabled");
    await sendVideoToServer();
    await consistently(() => images.length === 0, 300, "no camera picture in the pipeline");

    // Enabled again, the same camera reaches the pipeline: it was the disabling that kept it out.
    peer.send({ type: "signalling", message: { type: "trackStatus", receiver_index: 1, enabled: true } });
    await eventually(() => connection.isTrackEnabled(1), 5000, "the camera to be enabled");
    await sendVideoToServer();
    await eventually(() => images.length > 0, 5000, "a camera picture after enabling");
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
