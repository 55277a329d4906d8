import type { Bot, RunnerArguments } from "../bots/bot.ts";
import { rtviMessage } from "../rtvi/messages.ts";

/**
 * What the client of a failed bot is told. The error itself stays in the server log: its message may carry what
 * the client should not see (a key in a URL, a path on the server).
 */
export const BOT_FAILED_MESSAGE = "The bot stopped with an error; the server log has the details.";

/**
 * Starts `bot` for a new connection. It runs after the answer has been returned, as in Pipecat's runner, and a bot
 * that fails ends only its own session: the log gets the error with its stack and the session's pc_id, and the
 * client gets a fatal RTVI `error` (docs/protocol.md §4), then `peerLeft`.
 */
export function launchBot(bot: Bot, args: RunnerArguments): void {
  const connection = args.webrtcConnection;
  queueMicrotask(async () => {
    try {
      await bot(args);
    } catch (error) {
      connection.logger.exception("bot failed", error);
      connection.sendAppMessage(rtviMessage("error", { error: BOT_FAILED_MESSAGE, fatal: true }));
      await connection.disconnect();
    }
  });
}
