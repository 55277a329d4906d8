/**
 * The built-in echo bot, the default: what you say comes straight back, and so does every message you send that is
 * not RTVI. RTVI client requests get their own data back as the server response. It proves the whole path (decode,
 * pipeline, encode, pacing, RTVI) with no API keys and no internet.
 */
import {
  type Frame,
  InputAudioRawFrame,
  InputTransportMessageFrame,
  OutputAudioRawFrame,
  OutputTransportMessageUrgentFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import type { TransportParams } from "../transport/transportParams.ts";
import type { RunnerArguments } from "./bot.ts";
import { runBotPipeline } from "./botPipeline.ts";

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

/** `params` are laid over the echo's own: the config's `audio.inFilter` and `audio.mixer` come this way. */
export function echoBot(args: RunnerArguments, params: TransportParams = {}): Promise<void> {
  return runBotPipeline(
    args,
    // Echoed audio is 16 kHz already: sending at that rate needs no resampler.
    { audioInEnabled: true, audioOutEnabled: true, audioOutSampleRate: 16000, audioOutLive: true, ...params },
    ({ rtvi }) => {
      rtvi.events.on("clientMessage", (request) => rtvi.sendServerResponse(request, request.data));
      return [new EchoProcessor()];
    },
  );
}
