/**
 * The pipeline every built-in bot shares: transport input, RTVI, the bot's own processors, transport output (then
 * any processors that must see what was played, such as the assistant's context aggregator), with the RTVI observer
 * reporting speaking events, and the session ended when the client leaves.
 */
import type { FrameProcessor } from "../pipeline/frameProcessor.ts";
import type { StartParams } from "../pipeline/frames.ts";
import { Pipeline } from "../pipeline/pipeline.ts";
import { PipelineRunner } from "../pipeline/pipelineRunner.ts";
import { PipelineTask } from "../pipeline/pipelineTask.ts";
import { RTVIObserver } from "../rtvi/rtviObserver.ts";
import { RTVIProcessor, type RTVIProcessorOptions } from "../rtvi/rtviProcessor.ts";
import type { RunnerArguments } from "./bot.ts";
import { SmallWebRTCTransport } from "../transport/smallWebRTCTransport.ts";
import type { TransportParams } from "../transport/transportParams.ts";

export interface BotContext {
  transport: SmallWebRTCTransport;
  rtvi: RTVIProcessor;
}

export interface BotPipelineOptions {
  rtvi?: RTVIProcessorOptions;
  /** Processors after the output transport: they see what reached the client. */
  afterOutput?: FrameProcessor[];
  /** The pipeline's start parameters (enableMetrics, ...). */
  params?: Partial<StartParams>;
}

export async function runBotPipeline(
  { webrtcConnection }: RunnerArguments,
  params: TransportParams,
  processors: (context: BotContext) => FrameProcessor[],
  options: BotPipelineOptions = {},
): Promise<void> {
  const transport = new SmallWebRTCTransport(webrtcConnection, params);
  const rtvi = new RTVIProcessor(options.rtvi);
  const output = transport.output();
  const pipeline = new Pipeline([
    transport.input(),
    rtvi,
    ...processors({ transport, rtvi }),
    output,
    ...(options.afterOutput ?? []),
  ]);
  const observers = [new RTVIObserver(rtvi, { output })];
  const task = new PipelineTask(pipeline, { logger: webrtcConnection.logger, observers, params: options.params });
  transport.on("clientDisconnected", () => task.cancel("client disconnected"));
  // The runner handles signals for the whole process; each bot must not install its own.
  await new PipelineRunner({ handleSignals: false }).run(task);
}
