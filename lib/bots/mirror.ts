/**
 * The mirror bot: your camera comes back as the bot's video (and your voice as its audio, like the echo bot). It
 * proves the video path end to end: VP8 (or H.264) decode, image frames in the pipeline, VP8 encode, paced RTP.
 * Pictures pass through unchanged, so they stay in the codec's I420 layout: no conversion to RGB and back.
 */
import { type Frame, OutputImageRawFrame, UserImageRawFrame } from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import type { TransportParams } from "../transport/transportParams.ts";
import type { RunnerArguments } from "./bot.ts";
import { runBotPipeline } from "./botPipeline.ts";
import { EchoProcessor } from "./echo.ts";

/** Turns camera pictures into bot video; screen shares are left alone. */
export class MirrorProcessor extends FrameProcessor {
  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof UserImageRawFrame && frame.transportSource === "camera") {
      await this.pushFrame(new OutputImageRawFrame(frame.image, frame.size, frame.format), direction);
      return;
    }
    await this.pushFrame(frame, direction);
  }
}

/** `params` are laid over the mirror's own: the config's `audio.inFilter` and `audio.mixer` come this way. */
export function mirrorBot(args: RunnerArguments, params: TransportParams = {}): Promise<void> {
  return runBotPipeline(
    args,
    {
      audioInEnabled: true,
      audioOutEnabled: true,
      audioOutSampleRate: 16000,
      audioOutLive: true,
      videoInEnabled: true,
      videoInFormat: "I420",
      videoOutEnabled: true,
      videoOutFramerate: 30,
      // The camera is a stream: each picture goes back once, none repeated.
      videoOutIsLive: true,
      ...params,
    },
    () => [new MirrorProcessor(), new EchoProcessor()],
  );
}
