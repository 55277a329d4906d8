/**
 * Pictures on request (UserImageRequestFrame) with real peers: a werift client streams its camera and its screen
 * share, and a bot that only asks for pictures gets one of the source it asked for, decoded from a keyframe it asked
 * the client for, with nothing decoded before or after. A request no picture can answer ends in bounded time.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { Vp8Encoder } from "../../lib/media/vp8.ts";
import { Vp8Packetiser } from "../../lib/media/vp8Rtp.ts";
import { warmUpVideoThread } from "../../lib/media/vp8Thread.ts";
import {
  type Frame,
  USER_IMAGE_REQUEST_TIMEOUT_MS,
  UserImageRawFrame,
  UserImageRequestFrame,
  type UserImageRequestInit,
  UserImageUnavailableFrame,
} from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor, UPSTREAM } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../../lib/transport/transportParams.ts";
import { syntheticRgb } from "../support/syntheticVideo.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { type ClientOptions, TestClient, type VideoTrackName } from "../../scripts/support/weriftClient.ts";
import { consistently, eventually } from "../support/eventually.ts";

let server: TestServer;
let peer: TestClient;
let streaming = false;
beforeAll(() => warmUpVideoThread());
afterEach(async () => {
  streaming = false;
  await peer?.close();
  await server?.close();
});

/** Sizes that tell the two sources apart. */
const CAMERA = [320, 240] as const;
const SCREEN = [480, 272] as const;

/** A vision bot's side of it: asks for pictures (pushed upstream, as in Pipecat) and keeps the answers. */
class PictureAsker extends FrameProcessor {
  readonly answers: (UserImageRawFrame | UserImageUnavailableFrame)[] = [];
  readonly streamed: UserImageRawFrame[] = [];

  ask(init: UserImageRequestInit): Promise<void> {
    return this.pushFrame(new UserImageRequestFrame(init), UPSTREAM);
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof UserImageUnavailableFrame || (frame instanceof UserImageRawFrame && frame.request)) {
      this.answers.push(frame);
    } else if (frame instanceof UserImageRawFrame) {
      this.streamed.push(frame);
    }
    await this.pushFrame(frame, direction);
  }
}

function askingBot(params: TransportParams = {}) {
  const asker = new PictureAsker();
  let transport: SmallWebRTCTransport | undefined;
  const bot = async ({ webrtcConnection }: RunnerArguments) => {
    transport = new SmallWebRTCTransport(webrtcConnection, params);
    await new PipelineTask(new Pipeline([transport.input(), asker, transport.output()])).run();
  };
  /** Frames handed to the video decoders so far, by source. */
  const decoded = () => {
    const { camera, screenVideo } = transport!.media.videoInStats;
    return { camera: camera.decodedFrames, screenVideo: screenVideo.decodedFrames };
  };
  return { asker, bot, decoded };
}

async function connect(options: ClientOptions = {}): Promise<TestClient> {
  peer = new TestClient({ videoCodecs: ["VP8"], ...options });
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
  return peer;
}

/**
 * A 2 s loop of packetised VP8 whose only keyframe is its first frame: looped, the stream holds a keyframe only when
 * the server asks for one (streamVideo restarts the loop then, as a browser answers a PLI).
 */
async function clip([width, height]: readonly [number, number]): Promise<Uint8Array[][]> {
  const encoder = await Vp8Encoder.create({ keyframeInterval: 1000 });
  const packetiser = new Vp8Packetiser();
  const frames: Uint8Array[][] = [];
  for (let i = 0; i < 30; i++) {
    for (const encoded of await encoder.encode(syntheticRgb(width, height, i), { timestampMs: i * 66 })) {
      frames.push(packetiser.packetise(encoded.data));
    }
  }
  encoder.close();
  return frames;
}

/**
 * Streams `track` at 15 fps until the test ends, and returns once the loop's first keyframe is past, as in a call in
 * progress: from then on a keyframe comes only when the server asks for one (or the loop comes round, 2 s later).
 */
async function stream(client: TestClient, track: VideoTrackName, size: readonly [number, number]): Promise<void> {
  const frames = await clip(size);
  streaming = true;
  let sent = 0;
  void client.streamVideo(frames, 15, () => (sent++, !streaming), track);
  await eventually(() => sent > 3, 5000, `the first ${track} frames sent`);
}

/** Waits until the server has received `count` more packets: the positive control for "nothing was decoded". */
async function morePackets(count: number): Promise<void> {
  const connection = server.sessions[0].webrtcConnection;
  const before = connection.traffic.packetsIn;
  await eventually(() => connection.traffic.packetsIn - before >= count, 10_000, `${count} more packets at the server`);
}

describe("pictures on request", () => {
  test("a bot that only asks gets one picture of the source it asked for, and nothing is decoded outside a request", async () => {
    const { asker, bot, decoded } = askingBot();
    server = startTestServer({}, bot);
    const client = await connect();
    await stream(client, "camera", CAMERA);
    await stream(client, "screenVideo", SCREEN);
    await morePackets(100);
    expect(decoded()).toEqual({ camera: 0, screenVideo: 0 });
    expect([client.cameraKeyframeRequests, client.screenKeyframeRequests]).toEqual([0, 0]);

    await asker.ask({ videoSource: "camera", context: { question: 1 } });
    await eventually(() => asker.answers.length === 1, 10_000, "the camera picture");
    const camera = asker.answers[0] as UserImageRawFrame;
    expect(camera).toBeInstanceOf(UserImageRawFrame);
    expect(camera).toMatchObject({ transportSource: "camera", size: CAMERA, format: "RGB" });
    expect(camera.userId).toBe(server.sessions[0].webrtcConnection.pcId);
    expect(camera.request?.context).toEqual({ question: 1 });
    // One frame decoded, the keyframe the server asked the camera for; the screen was left alone.
    expect(client.cameraKeyframeRequests).toBeGreaterThan(0);
    expect(decoded()).toEqual({ camera: 1, screenVideo: 0 });

    // Once the picture is out, decoding stops though the camera keeps sending.
    const afterAnswer = decoded();
    await morePackets(100);
    expect(decoded()).toEqual(afterAnswer);
    expect(asker.answers).toHaveLength(1);

    await asker.ask({ videoSource: "screenVideo", text: "what is on the screen?", appendToContext: true });
    await eventually(() => asker.answers.length === 2, 10_000, "the screen picture");
    const screen = asker.answers[1] as UserImageRawFrame;
    expect(screen).toMatchObject({ transportSource: "screenVideo", size: SCREEN, text: "what is on the screen?" });
    expect(screen.appendToContext).toBe(true);
    expect(client.screenKeyframeRequests).toBeGreaterThan(0);
    expect(decoded().camera).toBe(afterAnswer.camera);
    expect(asker.streamed).toHaveLength(0);
  }, 30_000);

  test("a source that sends nothing ends the request after the timeout with UserImageUnavailableFrame", async () => {
    const { asker, bot } = askingBot();
    server = startTestServer({}, bot);
    const client = await connect();
    await stream(client, "camera", CAMERA);
    await morePackets(30);
    const asked = performance.now();
    await asker.ask({ videoSource: "screenVideo", toolCallId: "call-1" });
    await eventually(() => asker.answers.length === 1, USER_IMAGE_REQUEST_TIMEOUT_MS + 2000, "the screen answer");
    const elapsed = performance.now() - asked;
    const answer = asker.answers[0] as UserImageUnavailableFrame;
    expect(answer).toBeInstanceOf(UserImageUnavailableFrame);
    expect(answer.reason).toBe("timeout");
    expect(answer.message).toBe(`no screenVideo picture within ${USER_IMAGE_REQUEST_TIMEOUT_MS} ms: no video arrived`);
    expect(answer.request.toolCallId).toBe("call-1");
    expect(elapsed).toBeGreaterThanOrEqual(USER_IMAGE_REQUEST_TIMEOUT_MS - 50);

    // Positive control: the camera, which does send, answers.
    await asker.ask({ videoSource: "camera" });
    await eventually(() => asker.answers.length === 2, 10_000, "the camera picture");
    expect(asker.answers[1]).toBeInstanceOf(UserImageRawFrame);
  }, 30_000);

  test("a source the client did not offer is refused at once", async () => {
    const { asker, bot } = askingBot();
    server = startTestServer({}, bot);
    await connect({ media: [{ kind: "audio", direction: "sendrecv" }, { kind: "video", direction: "sendrecv" }] });
    const asked = performance.now();
    await asker.ask({ videoSource: "screenVideo" });
    await eventually(() => asker.answers.length === 1, 2000, "the screen answer");
    expect(performance.now() - asked).toBeLessThan(1000);
    expect(asker.answers[0]).toMatchObject({
      reason: "notNegotiated",
      message: "no screenVideo picture: the client's offer has no screenVideo video we can decode",
    });
  }, 30_000);

  test("with videoInEnabled the stream goes on, and a request is answered by its next picture", async () => {
    const { asker, bot } = askingBot({ videoInEnabled: true });
    server = startTestServer({}, bot);
    const client = await connect();
    await stream(client, "camera", CAMERA);
    await eventually(() => asker.streamed.length > 0, 10_000, "streamed camera pictures");
    await asker.ask({ videoSource: "camera", context: "streamed" });
    await eventually(() => asker.answers.length === 1, 10_000, "the answer");
    expect(asker.answers[0]).toMatchObject({ transportSource: "camera", size: CAMERA });
    const streamedThen = asker.streamed.length;
    await eventually(() => asker.streamed.length > streamedThen, 10_000, "the stream going on");
    await consistently(() => asker.answers.length === 1, 200, "one answer per request");
  }, 30_000);

  test("a videoSource that is neither camera nor screenVideo is refused with one clear line", () => {
    expect(() => new UserImageRequestFrame({ videoSource: "screen" as never })).toThrow(
      'UserImageRequestFrame videoSource: must be "camera" or "screenVideo", got "screen"',
    );
  });
});
