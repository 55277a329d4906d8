/** The bot file `smallwebrtc init --bot bot.ts` writes: short, commented, and runnable as it is. */
export const STARTER_BOT = `/**
 * A smallwebrtc bot. Run it with \`smallwebrtc --bot bot.ts\`, open http://localhost:7860/client/ and speak: you hear
 * yourself, and the client gets a hello. \`smallwebrtc types\` lets your editor check this file, with no npm install.
 */
import {
  type Frame,
  type FrameDirection,
  FrameProcessor,
  InputAudioRawFrame,
  OutputAudioRawFrame,
  Pipeline,
  PipelineRunner,
  PipelineTask,
  RTVIObserver,
  RTVIProcessor,
  type RunnerArguments,
  SmallWebRTCTransport,
} from "smallwebrtc";

/** Processors see every frame that moves through the pipeline; this one says back what the user says. */
class Echo extends FrameProcessor {
  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InputAudioRawFrame) {
      // The user's audio: 20 ms of 16 kHz mono PCM. Bot audio may come at any rate; the transport encodes it.
      await this.pushFrame(new OutputAudioRawFrame(frame.audio, frame.sampleRate), direction);
    } else {
      await this.pushFrame(frame, direction); // anything else passes on
    }
  }
}

/** Runs once for each client that connects, for as long as its session lasts. */
export async function bot(args: RunnerArguments): Promise<void> {
  const transport = new SmallWebRTCTransport(args.webrtcConnection, { audioInEnabled: true, audioOutEnabled: true });
  const rtvi = new RTVIProcessor(); // speaks RTVI with the client: client-ready, client messages, ...
  const pipeline = new Pipeline([transport.input(), rtvi, new Echo(), transport.output()]);
  const task = new PipelineTask(pipeline, {
    logger: args.webrtcConnection.logger, // pipeline errors go to the server log, with this session's pcId
    observers: [new RTVIObserver(rtvi)], // tells the client when the user and the bot start and stop speaking
  });

  rtvi.events.on("clientReady", () => rtvi.sendServerMessage({ text: "Hello from bot.ts!" }));
  rtvi.events.on("clientMessage", (request) => rtvi.sendServerResponse(request, { received: request.data }));
  transport.on("clientDisconnected", () => task.cancel());

  // The server stops every session on Ctrl-C, so this runner leaves signals alone.
  await new PipelineRunner({ handleSignals: false }).run(task);
}
`;
