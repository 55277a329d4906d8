/** TransportParams videoOutIsLive through the public API: a still picture is repeated, live pictures are sent once. */
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

/** Complete video frames the client received: one RTP marker each. */
const framesReceived = (client: TestClient) => client.videoIn.filter((rtp) => rtp.header.marker).length;

describe("videoOutIsLive", () => {
  test("false (the default): one picture becomes a steady stream at videoOutFramerate", async () => {
    const { bot, show } = pictureBot(false);
    server = startTestServer({}, bot);
    const client = await connect();
    await show(0);
    await eventually(() => framesReceived(client) >= 1, 10_000, "the first frame");
    const firstAt = performance.now();
    await eventually(() => framesReceived(client) >= 11, 10_000, "ten repeats");
    // Ten repeats at 20 fps take about half a second; far less than the once-a-second refresh would give.
    expect(performance.now() - firstAt).toBeLessThan(2000);
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
