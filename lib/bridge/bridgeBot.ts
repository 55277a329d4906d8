/**
 * The bot every session runs when the server bridges to a remote Pipecat bot (`--bot ws://...` or `bridge.url`):
 * transport input -> BridgeProcessor -> transport output. The remote bot does everything a bot does, RTVI included
 * (it answers `client-ready` itself), so nothing here speaks RTVI except to report that the bot is unreachable.
 *
 * Lifecycle: the WebSocket opens when the client connects. A bot that cannot be reached ends the session with a fatal
 * RTVI `error` and one log line; a bot that closes its WebSocket ends it with `peerLeft`; a client that leaves closes
 * the WebSocket with code 1000.
 */
import { Pipeline } from "../pipeline/pipeline.ts";
import { PipelineRunner } from "../pipeline/pipelineRunner.ts";
import { PipelineTask } from "../pipeline/pipelineTask.ts";
import { OutputTransportMessageUrgentFrame } from "../pipeline/frames.ts";
import { rtviMessage } from "../rtvi/messages.ts";
import type { AudioFilter } from "../audio/filters/audioFilter.ts";
import { SmallWebRTCTransport } from "../transport/smallWebRTCTransport.ts";
import { BotUnreachableError, loggableUrl } from "./botSocket.ts";
import { BridgeProcessor } from "./bridgeProcessor.ts";
import { RequestDataTooLargeError, upgradeHeaders } from "./upgradeHeaders.ts";

export interface BridgeOptions {
  /** The bot's ws:// or wss:// URL. */
  url: string;
  /** Upgrade headers for the bot's auth; never logged. */
  headers: Record<string, string>;
  connectTimeoutSecs: number;
  /** Rate of the client audio sent to the bot. */
  audioInSampleRate: number;
  /** Rate the bot's audio mostly has: the encoder runs at it when the codec allows, saving a resampler. */
  audioOutSampleRate: number;
  /** The bot streams audio in real time rather than ahead of playback (TransportParams.audioOutLive). */
  audioOutLive: boolean;
  /** Most audio queued each way. */
  maxQueuedMs: number;
  /** Makes each session's filter on client audio (the config's `audio.inFilter`); none when absent. */
  audioInFilter?: () => AudioFilter;
}

/** What a bridged session needs from the runner (the runner's RunnerArguments fit it). */
export interface BridgeSessionArguments {
  webrtcConnection: ConstructorParameters<typeof SmallWebRTCTransport>[0];
  /** The offer's request data or the /start body, passed to the bot in the upgrade request. */
  body: unknown;
}

/** What the client is told; the reason stays in the server log, which may name hosts the client should not see. */
export const BOT_UNREACHABLE_MESSAGE = "The bot could not be reached; the server log has the details.";

export function bridgeBot(options: BridgeOptions): (args: BridgeSessionArguments) => Promise<void> {
  return async ({ webrtcConnection, body }) => {
    const transport = new SmallWebRTCTransport(webrtcConnection, {
      audioInEnabled: true,
      audioInSampleRate: options.audioInSampleRate,
      audioOutEnabled: true,
      audioOutSampleRate: options.audioOutSampleRate,
      audioOutLive: options.audioOutLive,
      audioInFilter: options.audioInFilter?.(),
    });
    const logger = transport.logger;
    const bridge = new BridgeProcessor({
      url: options.url,
      connectTimeoutMs: options.connectTimeoutSecs * 1000,
      maxQueuedMs: options.maxQueuedMs,
      logger,
      ...(options.audioOutLive ? { outputQueuedMs: () => transport.media.audioSender?.queuedMs ?? 0 } : {}),
    });
    // The remote bot decides when a quiet session is over, not an idle timer here.
    const task = new PipelineTask(new Pipeline([transport.input(), bridge, transport.output()]), {
      logger,
      idleTimeoutSecs: 0,
    });

    /** Ends a session that cannot be bridged: one log line, a fatal RTVI error for the client, then peerLeft. */
    const fail = async (reason: string, clientMessage: string) => {
      logger.error(`bridge: ${reason}`);
      const error = rtviMessage("error", { error: clientMessage, fatal: true });
      await task.queueFrame(new OutputTransportMessageUrgentFrame(error));
      await task.cancel("bridge failed");
    };
    transport.on("clientConnected", async () => {
      try {
        await bridge.connect(upgradeHeaders(options.headers, webrtcConnection.pcId, body));
        logger.debug("bridge: connected to the bot", { url: loggableUrl(options.url) });
      } catch (error) {
        if (error instanceof BotUnreachableError) await fail(error.message, BOT_UNREACHABLE_MESSAGE);
        else if (error instanceof RequestDataTooLargeError) await fail(error.message, error.message);
        else throw error;
      }
    });
    transport.on("clientDisconnected", () => task.cancel("client disconnected"));
    bridge.events.on("botLeft", (code, reason) => {
      logger.info("bridge: the bot closed the WebSocket", { code, reason });
      void task.cancel("bot left");
    });
    // The runner handles signals for the whole process; each session must not install its own.
    await new PipelineRunner({ handleSignals: false }).run(task);
  };
}
