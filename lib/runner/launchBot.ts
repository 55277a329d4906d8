import type { Bot } from "../bots/bot.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";

/**
 * Starts `bot` for a new connection. It runs after the answer has been returned, as in Pipecat's runner, and a bot
 * that fails ends only its own session: the error is logged with the session's pc_id and the client gets peerLeft.
 */
export function launchBot(bot: Bot, connection: SmallWebRTCConnection, body: unknown): void {
  queueMicrotask(() => {
    bot({ webrtcConnection: connection, body }).catch((error) => {
      connection.logger.error("bot failed", { error: error instanceof Error ? error.stack ?? error.message : error });
      void connection.disconnect();
    });
  });
}
