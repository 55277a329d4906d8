/**
 * The built-in echo bot, the default: what you say comes straight back, and so does every message you send that is
 * not RTVI. It proves the whole path (decode, pipeline, encode, pacing, RTVI) with no API keys and no internet.
 */
import {
  type Frame,
  InputAudioRawFrame,
  InputTransportMessageFrame,
  OutputAudioRawFrame,
  OutputTransportMessageUrgentFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { PipelineRunner } from "../pipeline/pipelineRunner.ts";
import { PipelineTask } from "../pipeline/pipelineTask.ts";
import { RTVIProcessor } from "../rtvi/rtviProcessor.ts";
import type { RunnerArguments } from "../runner/runnerArguments.ts";
import { SmallWebRTCTransport } from "../transport/smallWebRTCTransport.ts";

/** Turns client audio into bot audio and client messages into bot messages. */
export class EchoProcessor extends FrameProcessor {
  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof InputAudioRawFrame) {
      await this.pushFrame(new OutputAudioRawFrame(frame.audio, frame.sampleRate, frame.numChannels), direction);
    } else if (frame instanceof InputTransportMessageFrame) {
      await this.pushFrame(new OutputTransportMessageUrgentFrame(frame.message), direction);
    } else {
      await this.pushFrame(frame, direction);
    }
  }
}

export async function echoBot({ webrtcConnection }: RunnerArguments): Promise<void> {
  const transport = new SmallWebRTCTransport(webrtcConnection, {
    audioInEnabled: true,
    audioOutEnabled: true,
    // Echoed audio is 16 kHz already: sending at that rate needs no resampler.
    audioOutSampleRate: 16000,
  });
  const task = new PipelineTask(new Pipeline([transport.input(), new RTVIProcessor(), new EchoProcessor(), transport.output()]), {
    logger: webrtcConnection.logger,
  });
  transport.on("clientDisconnected", () => task.cancel("client disconnected"));
  await new PipelineRunner({ handleSignals: false }).run(task);
}
