/** TransportParams videoOutWidth/videoOutHeight: bot pictures of any size reach the client at the configured size. */
import { afterEach, describe, expect, test } from "bun:test";
import type { RunnerArguments } from "../../lib/bots/bot.ts";
import { Vp8Decoder } from "../../lib/media/vp8.ts";
import { Vp8Depacketiser } from "../../lib/media/vp8Rtp.ts";
import { OutputImageRawFrame } from "../../lib/pipeline/frames.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { SmallWebRTCTransport } from "../../lib/transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../../lib/transport/transportParams.ts";
import { syntheticRgb } from "../support/syntheticVideo.ts";
import { startTestServer, type TestServer } from "../support/testServer.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

/** A bot that shows pictures of `sizes`, one after the other, as its video. */
function pictureBot(params: TransportParams, sizes: [number, number][]) {
  return async ({ webrtcConnection }: RunnerArguments) => {
    const transport = new SmallWebRTCTransport(webrtcConnection, { videoOutEnabled: true, videoOutFramerate: 10, ...params });
    const task = new PipelineTask(new Pipeline([transport.input(), transport.output()]));
    transport.on("clientConnected", async () => {
      for (const [i, [width, height]] of sizes.entries()) {
        const { data } = syntheticRgb(width, height, i);
        await task.queueFrame(new OutputImageRawFrame(data, [width, height]));
        await Bun.sleep(150); // each picture is shown for a while, as a bot's would be
      }
    });
    await task.run();
  };
}

/** Sizes of the pictures the client decoded from the bot's video so far. */
async function decodedSizes(client: TestClient): Promise<string[]> {
  const depacketiser = new Vp8Depacketiser();
  const decoder = await Vp8Decoder.create();
  const sizes: string[] = [];
  try {
    for (const rtp of client.videoIn) {
      const { frame } = depacketiser.push({ ...rtp.header, payload: rtp.payload });
      const image = frame && (await decoder.decode(frame.data));
      if (image) sizes.push(`${image.width}x${image.height}`);
    }
  } finally {
    decoder.close();
  }
  return sizes;
}

async function connectedClient(): Promise<TestClient> {
  peer = new TestClient({ videoCodecs: ["VP8"] });
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
  return peer;
}

/** Decoding everything received so far is costly: checked every 100 ms. */
function sizesOnceDecoded(client: TestClient, count: number): Promise<string[]> {
  return eventually(async () => {
    const sizes = await decodedSizes(client);
    return sizes.length >= count && sizes;
  }, 10_000, `${count} decoded pictures`, { pollMs: 100 });
}

describe("bot video size", () => {
  test("pictures of other sizes go out at videoOutWidth x videoOutHeight", async () => {
    server = startTestServer({}, pictureBot({ videoOutWidth: 160, videoOutHeight: 120 }, [[320, 240], [200, 90], [160, 120]]));
    const sizes = await sizesOnceDecoded(await connectedClient(), 3);
    expect(new Set(sizes)).toEqual(new Set(["160x120"]));
  });

  test("unset, each picture goes out at its own size", async () => {
    server = startTestServer({}, pictureBot({}, [[320, 240], [200, 90]]));
    const client = await connectedClient();
    await sizesOnceDecoded(client, 1);
    const shown = async () => (await decodedSizes(client)).includes("200x90");
    await eventually(shown, 10_000, "the 200x90 picture", { pollMs: 100 });
    expect(new Set(await decodedSizes(client))).toEqual(new Set(["320x240", "200x90"]));
  });

  test("a size that is half set or not a VP8 size is refused when the transport is made", () => {
    server = startTestServer({}, () => {});
    const connection = {} as RunnerArguments["webrtcConnection"];
    expect(() => new SmallWebRTCTransport(connection, { videoOutWidth: 640 })).toThrow(
      "TransportParams videoOutWidth/videoOutHeight: width and height must be whole numbers from 1 to 16383, got 640xundefined",
    );
    expect(() => new SmallWebRTCTransport(connection, { videoOutWidth: 20000, videoOutHeight: 480 })).toThrow("got 20000x480");
  });
});
