/**
 * A custom bot: greets the client with a beep when it connects, counts the client's messages, and answers RTVI
 * client requests named "count" with the number so far. Run it with:
 *
 *   bun examples/countdown.ts -t webrtc
 *
 * then open http://localhost:7860/client/ (every runner flag works: --host, --port, --ice-servers, --config, ...).
 */
import {
  type Frame,
  type FrameDirection,
  FrameProcessor,
  InputTransportMessageFrame,
  OutputAudioRawFrame,
  OutputTransportMessageUrgentFrame,
  Pipeline,
  PipelineRunner,
  PipelineTask,
  RTVIObserver,
  RTVIProcessor,
  runMain,
  type RunnerArguments,
  SmallWebRTCTransport,
} from "../lib/mod.ts";

/** Counts application messages and tells the client the running total. */
class MessageCounter extends FrameProcessor {
  count = 0;

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InputTransportMessageFrame) {
      this.count++;
      await this.pushFrame(new OutputTransportMessageUrgentFrame({ type: "count", count: this.count }), direction);
      return;
    }
    await this.pushFrame(frame, direction);
  }
}

/** 300 ms of a 660 Hz tone at 24 kHz: the bot's "hello". */
function beep(): OutputAudioRawFrame {
  const rate = 24000;
  const audio = Int16Array.from({ length: rate * 0.3 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 660 * i) / rate)));
  return new OutputAudioRawFrame(audio, rate);
}

export async function bot(args: RunnerArguments): Promise<void> {
  const transport = new SmallWebRTCTransport(args.webrtcConnection, { audioInEnabled: true, audioOutEnabled: true });
  const rtvi = new RTVIProcessor();
  const counter = new MessageCounter();
  const task = new PipelineTask(new Pipeline([transport.input(), rtvi, counter, transport.output()]), {
    observers: [new RTVIObserver(rtvi)],
  });

  rtvi.events.on("clientMessage", (request) => {
    if (request.type === "count") void rtvi.sendServerResponse(request, { count: counter.count });
    else void rtvi.sendErrorResponse(request, `unknown request ${request.type}`);
  });
  transport.on("clientConnected", () => task.queueFrame(beep()));
  transport.on("clientDisconnected", () => task.cancel());

  await new PipelineRunner({ handleSignals: false }).run(task);
}

if (import.meta.main) await runMain(bot);
