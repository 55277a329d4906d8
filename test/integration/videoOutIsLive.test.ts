/** TransportParams videoOutIsLive through the public API: a still picture is refreshed, live pictures are sent once. */
import { afterEach, describe, expect, test } from "bun:test";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { OutputImageRawFrame } from "../../lib/pipeline/frames.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import { syntheticRgb } from "../support/syntheticVideo.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { consistently, eventually } from "../support/eventually.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

/** A bot at 20 fps whose `show(i)` pushes one picture as its video. */
function pictureBot(live: boolean) {
  let task: PipelineTask | undefined;
  const bot = async ({ webrtcConnection }: RunnerArguments) => {
    const params = { videoOutEnabled: true, videoOutFramerate: 20, videoOutIsLive: live };
    const transport = new SmallWebRTCTransport(webrtcConnection, params);
    task = new PipelineTask(new Pipeline([transport.input(), transport.output()]));
    await task.run();
  };
  const show = (i: number) => task!.queueFrame(new OutputImageRawFrame(syntheticRgb(160, 120, i).data, [160, 120]));
  return { bot, show };
}

async function connect(): Promise<TestClient> {
  peer = new TestClient({ videoCodecs: ["VP8"] });
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
  return peer;
}

/** The RTP timestamp of each complete video frame the client received (one marker each). */
const frameTimestamps = (client: TestClient) =>
  client.videoIn.filter((rtp) => rtp.header.marker).map((rtp) => rtp.header.timestamp);
const framesReceived = (client: TestClient) => frameTimestamps(client).length;

describe("videoOutIsLive", () => {
  test("false (the default): an unchanged picture is re-sent once a second, and a new one on the next tick", async () => {
    const { bot, show } = pictureBot(false);
    server = startTestServer({}, bot);
    const client = await connect();
    await show(0);
    await eventually(() => frameTimestamps(client).length >= 3, 10_000, "the first frame and two refreshes");
    // Right after a refresh, so the new picture's tick comes long before the next refresh would.
    await show(1);
    await eventually(() => frameTimestamps(client).length >= 4, 10_000, "the new picture");
    // Steps of the 90 kHz RTP clock (which may wrap): a second is 20 ticks of 4500 at 20 fps; a repeat on every tick
    // would step 4500.
    const steps = frameTimestamps(client).slice(1, 4).map((stamp, i) => (stamp - frameTimestamps(client)[i]) >>> 0);
    expect(steps.slice(0, 2)).toEqual([90_000, 90_000]);
    expect(steps[2]).toBeLessThan(90_000 / 2);
  });

  test("true: each picture is sent once, and the last one is not repeated", async () => {
    const { bot, show } = pictureBot(true);
    server = startTestServer({}, bot);
    const client = await connect();
    await show(0);
    await eventually(() => framesReceived(client) === 1, 10_000, "the first frame");
    // Twenty frame periods: a repeating sender would have sent about twenty more.
    await consistently(() => framesReceived(client) === 1, 1000, "one frame only");
    await show(1);
    await show(2);
    await eventually(() => framesReceived(client) === 3, 10_000, "the next two pictures");
    await consistently(() => framesReceived(client) === 3, 500, "three frames only");
  });
});
