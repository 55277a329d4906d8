/**
 * The pipeline every built-in bot shares: transport input, RTVI, the bot's own processors, transport output, with
 * the RTVI observer reporting speaking events, and the session ended when the client leaves.
 */
import type { FrameProcessor } from "../pipeline/frameProcessor.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { PipelineRunner } from "../pipeline/pipelineRunner.ts";
import { PipelineTask } from "../pipeline/pipelineTask.ts";
import { RTVIObserver } from "../rtvi/rtviObserver.ts";
import { RTVIProcessor } from "../rtvi/rtviProcessor.ts";
import type { RunnerArguments } from "./bot.ts";
import { SmallWebRTCTransport } from "../transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../transport/transportParams.ts";

export interface BotContext {
  transport: SmallWebRTCTransport;
  rtvi: RTVIProcessor;
}

export async function runBotPipeline(
  { webrtcConnection }: RunnerArguments,
  params: TransportParams,
  processors: (context: BotContext) => FrameProcessor[],
): Promise<void> {
  const transport = new SmallWebRTCTransport(webrtcConnection, params);
  const rtvi = new RTVIProcessor();
  const pipeline = new Pipeline([transport.input(), rtvi, ...processors({ transport, rtvi }), transport.output()]);
  const task = new PipelineTask(pipeline, { logger: webrtcConnection.logger, observers: [new RTVIObserver(rtvi)] });
  transport.on("clientDisconnected", () => task.cancel("client disconnected"));
  // The runner handles signals for the whole process; each bot must not install its own.
  await new PipelineRunner({ handleSignals: false }).run(task);
}
