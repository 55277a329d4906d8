/**
 * TransportParams audioInFilter through the public API, with a real werift peer sending noise: the bot and its VAD
 * get the filtered audio, FilterEnableFrame switches the filter mid-call, and the filter is stopped (its RNNoise state
 * freed) when the session ends. The config's audio.inFilter gives built-in bots and bridged sessions the same.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { BUILT_IN_BOT_FUNCTIONS } from "../../lib/bots/builtInBots.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import {
  DEFAULT_VAD_PARAMS,
  FilterEnableFrame,
  type Frame,
  type FrameDirection,
  FrameProcessor,
  InputAudioRawFrame,
  Pipeline,
  PipelineTask,
  RNNoiseFilter,
  SmallWebRTCTransport,
  type TransportParams,
  type VADAnalyzer,
  type VADState,
} from "../../lib/mod.ts";
import { resolveBot } from "../../lib/runner/resolveBot.ts";
import { readWav, rms } from "../../scripts/support/audio.ts";
import { pinkNoiseWav } from "../../scripts/support/media.ts";
import { startTestBot } from "../../scripts/support/pipecatTestBot.ts";
import { TestClient } from "../../scripts/support/weriftClient.ts";
import { eventually } from "../support/eventually.ts";
import { startTestServer, type TestServer, testConfig } from "../support/testServer.ts";

let server: TestServer;
let peer: TestClient;
afterEach(async () => {
  await peer?.close();
  await server?.close();
});

const decibels = (pcm: Int16Array) => 20 * Math.log10(Math.max(rms(pcm), 1e-3) / 32768);

/** Level in dBFS of each 20 ms frame that reached it, in order. */
class LevelRecorder extends FrameProcessor {
  readonly levels: number[] = [];
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof InputAudioRawFrame) this.levels.push(decibels(frame.audio));
    await this.pushFrame(frame, direction);
  }
}

/** A VAD that only records the level of what it is given. */
class LevelVAD implements VADAnalyzer {
  readonly params = DEFAULT_VAD_PARAMS;
  readonly levels: number[] = [];
  setSampleRate(): void {}
  analyze(pcm: Int16Array): Promise<VADState> {
    this.levels.push(decibels(pcm));
    return Promise.resolve("quiet");
  }
  reset(): void {}
}

/** Mean level of frames `from` to `to` (20 ms each). */
const meanLevel = (levels: number[], from: number, to: number) =>
  levels.slice(from, to).reduce((sum, level) => sum + level, 0) / (to - from);

/** Two seconds of the pink noise fixture. */
async function noise(): Promise<Int16Array> {
  return readWav(await pinkNoiseWav()).pcm.subarray(0, 2 * 48000);
}

/** Sends the noise to `bot` and returns the level of the loudest second that came back (however it was delayed). */
async function echoedNoiseLevel(bot: Parameters<typeof startTestServer>[1]): Promise<number> {
  await connect(bot);
  await peer.sendAudio(await noise());
  await eventually(() => peer.audioIn.length >= 100, 5000, "the echo");
  const decoder = new OpusDecoder({ sampleRate: 48000, channels: 1 });
  const packets = [...peer.audioIn].sort((a, b) => a.header.timestamp - b.header.timestamp);
  const levels = packets.map((packet) => decibels(decoder.decode(packet.payload)));
  decoder.free();
  await peer.close();
  await server.close();
  return Math.max(...levels.slice(0, levels.length - 50).map((_, i) => meanLevel(levels, i, i + 50)));
}

async function connect(bot: Parameters<typeof startTestServer>[1]): Promise<void> {
  server = startTestServer({}, bot);
  peer = new TestClient();
  const { body: answer } = await server.post("/api/offer", await peer.offer());
  await peer.accept(answer);
  await peer.channelOpen();
}

describe("audioInFilter", () => {
  test("RNNoiseFilter: the bot and its VAD hear noise 20 dB quieter until a FilterEnableFrame ends it", async () => {
    const noise = readWav(await pinkNoiseWav()).pcm;
    const filter = new RNNoiseFilter();
    const recorder = new LevelRecorder();
    const vad = new LevelVAD();
    let task: PipelineTask | undefined;
    await connect(async ({ webrtcConnection }) => {
      const params: TransportParams = { audioInEnabled: true, audioInFilter: filter, vadAnalyzer: vad };
      const transport = new SmallWebRTCTransport(webrtcConnection, params);
      task = new PipelineTask(new Pipeline([transport.input(), recorder, transport.output()]));
      transport.on("clientDisconnected", () => task!.cancel("client disconnected"));
      await task.run();
    });
    // 4 s of noise: filtered for the first 2 s, then not.
    await peer.sendAudio(noise, (index) => {
      if (index === 100) void task!.queueFrame(new FilterEnableFrame(false));
    });
    await eventually(() => recorder.levels.length >= 190 && vad.levels.length >= 190, 5000, "the noise in the bot");
    const input = decibels(noise);
    // The second second (RNNoise has heard the first) against the fourth (the filter is off since the third).
    const [on, off] = [meanLevel(recorder.levels, 50, 100), meanLevel(recorder.levels, 150, 190)];
    console.log(`noise sent at ${input.toFixed(1)} dBFS; heard ${on.toFixed(1)} filtered, ${off.toFixed(1)} not`);
    // Unfiltered it is the noise sent, less what Opus and the 16 kHz pipeline rate leave out (the top octave).
    expect(off).toBeGreaterThan(input - 8);
    expect(on).toBeLessThan(off - 20);
    expect(meanLevel(vad.levels, 50, 100)).toBeLessThan(meanLevel(vad.levels, 150, 190) - 20);
    expect(filter.enabled).toBe(false);

    // The session's end stops the filter: its RNNoise state is freed, and it takes no more audio.
    await peer.close();
    await eventually(() => {
      try {
        filter.filter(new Int16Array(320));
        return false;
      } catch (error) {
        return (error as Error).message === "RNNoiseFilter.filter before start()";
      }
    }, 10_000, "the filter stopped with the session");
  }, 30_000);

  test('config audio.inFilter "rnnoise": the built-in echo sends noise back filtered, "none" as it came', async () => {
    const level = (inFilter: "none" | "rnnoise") =>
      echoedNoiseLevel(BUILT_IN_BOT_FUNCTIONS.echo(testConfig({ audio: { inFilter } }), {}));
    const [unfiltered, filtered] = [await level("none"), await level("rnnoise")];
    console.log(`echoed noise: ${unfiltered.toFixed(1)} dBFS with inFilter none, ${filtered.toFixed(1)} with rnnoise`);
    expect(unfiltered).toBeGreaterThan(decibels(await noise()) - 10);
    expect(filtered).toBeLessThan(unfiltered - 15);
  }, 30_000);

  test('config audio.inFilter "rnnoise" reaches bridged sessions: the remote bot hears noise filtered', async () => {
    const level = async (inFilter: "none" | "rnnoise") => {
      const remote = await startTestBot({ kind: "pipecat" });
      try {
        const config = testConfig({ audio: { inFilter } });
        return await echoedNoiseLevel(await resolveBot({ kind: "bridge", url: remote.url }, config, {}));
      } finally {
        await remote.stop();
      }
    };
    const [unfiltered, filtered] = [await level("none"), await level("rnnoise")];
    console.log(`bridged bot's echo: ${unfiltered.toFixed(1)} dBFS with none, ${filtered.toFixed(1)} with rnnoise`);
    expect(unfiltered).toBeGreaterThan(decibels(await noise()) - 10);
    expect(filtered).toBeLessThan(unfiltered - 15);
  }, 30_000);
});
