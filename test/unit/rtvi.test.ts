/** RTVI message shapes, as the official client and Pipecat's server send them (docs/protocol.md §4). */
import { describe, expect, test } from "bun:test";
import {
  BotStartedSpeakingFrame,
  type Frame,
  InputTransportMessageFrame,
  OutputTransportMessageUrgentFrame,
  TranscriptionFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
} from "../../lib/pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../../lib/pipeline/frameProcessor.ts";
import { Pipeline } from "../../lib/pipeline/pipeline.ts";
import { PipelineTask } from "../../lib/pipeline/pipelineTask.ts";
import { RTVIObserver } from "../../lib/rtvi/rtviObserver.ts";
import { RTVIProcessor } from "../../lib/rtvi/rtviProcessor.ts";
import { consistently, eventually } from "../support/eventually.ts";

/** Stands in for the output transport: keeps what would be sent to the client. */
class Outbox extends FrameProcessor {
  readonly sent: unknown[] = [];
  readonly passed: Frame[] = [];
  protected override async processFrame(frame: Frame, direction: FrameDirection) {
    if (frame instanceof OutputTransportMessageUrgentFrame) this.sent.push(frame.message);
    else this.passed.push(frame);
    await this.pushFrame(frame, direction);
  }
}

async function withRtvi(run: (context: { rtvi: RTVIProcessor; outbox: Outbox; task: PipelineTask; send: (m: unknown) => Promise<void> }) => Promise<void>) {
  const rtvi = new RTVIProcessor();
  const outbox = new Outbox();
  const task = new PipelineTask(new Pipeline([rtvi, outbox]), { idleTimeoutSecs: 0, observers: [new RTVIObserver(rtvi)] });
  const running = task.run();
  await run({ rtvi, outbox, task, send: (message) => task.queueFrame(new InputTransportMessageFrame(message)) });
  await task.cancel();
  await running;
}

describe("RTVI", () => {
  test("client-ready from a 2.x client gets bot-ready with its id and version 2.1.0", async () => {
    await withRtvi(async ({ outbox, send }) => {
      await send({ label: "rtvi-ai", type: "client-ready", id: "a1b2c3d4", data: { version: "2.1.0", about: { library: "@pipecat-ai/client-js" } } });
      expect(outbox.sent).toEqual([
        {
          label: "rtvi-ai",
          type: "bot-ready",
          id: "a1b2c3d4",
          data: { version: "2.1.0", about: { library: "smallwebrtc", library_version: expect.any(String) } },
        },
      ]);
    });
  });

  test("a 1.x client gets its own version back; one without a version (ESP32) gets a warning, then bot-ready", async () => {
    await withRtvi(async ({ outbox, send }) => {
      await send({ label: "rtvi-ai", type: "client-ready", id: "v1", data: { version: "1.0.0" } });
      await send({ label: "rtvi-ai", type: "client-ready", id: "7" });
      expect(outbox.sent).toEqual([
        expect.objectContaining({ type: "bot-ready", id: "v1", data: expect.objectContaining({ version: "1.0.0" }) }),
        { label: "rtvi-ai", type: "error-response", id: "7", data: { error: "Client version unknown" } },
        expect.objectContaining({ type: "bot-ready", id: "7", data: expect.objectContaining({ version: "2.1.0" }) }),
      ]);
    });
  });

  test("client-message reaches the bot, which answers with server-response", async () => {
    await withRtvi(async ({ rtvi, outbox, send }) => {
      rtvi.events.on("clientMessage", (request) => rtvi.sendServerResponse(request, { got: request.data }));
      await send({ label: "rtvi-ai", type: "client-message", id: "m1", data: { t: "hello", d: { n: 1 } } });
      await eventually(() => outbox.sent.length > 0, 1000, "the server-response");
      expect(outbox.sent).toEqual([{ label: "rtvi-ai", type: "server-response", id: "m1", data: { t: "hello", d: { got: { n: 1 } } } }]);
      await rtvi.sendServerMessage({ any: "thing" });
      expect(outbox.sent.at(-1)).toEqual({ label: "rtvi-ai", type: "server-message", data: { any: "thing" } });
    });
  });

  test("unknown RTVI types get error-response; messages that are not RTVI pass through untouched", async () => {
    await withRtvi(async ({ outbox, send }) => {
      await send({ label: "rtvi-ai", type: "frobnicate", id: "x9" });
      await send({ hello: "world" });
      expect(outbox.sent).toEqual([{ label: "rtvi-ai", type: "error-response", id: "x9", data: { error: "Unsupported type frobnicate" } }]);
      const passed = outbox.passed.filter((f): f is InputTransportMessageFrame => f instanceof InputTransportMessageFrame);
      expect(passed.map((f) => f.message)).toEqual([{ hello: "world" }]);
    });
  });

  test("disconnect-bot ends the pipeline gracefully", async () => {
    const rtvi = new RTVIProcessor();
    const task = new PipelineTask(new Pipeline([rtvi, new Outbox()]), { idleTimeoutSecs: 0 });
    const running = task.run();
    await task.queueFrame(new InputTransportMessageFrame({ label: "rtvi-ai", type: "disconnect-bot", data: {} }));
    expect(await running).toBe("ended");
  });

  test("the observer reports speaking and transcriptions once each, in Pipecat's shapes", async () => {
    await withRtvi(async ({ outbox, task }) => {
      await task.queueFrames([
        new UserStartedSpeakingFrame(),
        new UserStoppedSpeakingFrame(),
        new TranscriptionFrame("hello there", "pc-1", "2026-11-24T00:00:00.000Z"),
        new BotStartedSpeakingFrame(),
      ]);
      await eventually(() => outbox.sent.length >= 4, 1000, "four reports");
      await consistently(() => outbox.sent.length === 4, 50, "no report sent twice");
      expect(outbox.sent).toEqual([
        { label: "rtvi-ai", type: "user-started-speaking" },
        { label: "rtvi-ai", type: "user-stopped-speaking" },
        { label: "rtvi-ai", type: "user-transcription", data: { text: "hello there", user_id: "pc-1", timestamp: "2026-11-24T00:00:00.000Z", final: true } },
        { label: "rtvi-ai", type: "bot-started-speaking" },
      ]);
    });
  });
});
