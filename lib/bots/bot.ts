import type { TransportParams } from "../transport/transportParams.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";

/** What the runner hands to a bot for each new connection (Pipecat's SmallWebRTCRunnerArguments). */
export interface RunnerArguments {
  webrtcConnection: SmallWebRTCConnection;
  /** The offer's `request_data`/`requestData`, or the `body` given to `/start`. */
  body: unknown;
  /** The `/start` session the offer came through, or the `?session_id=` of a direct `/api/offer`. */
  sessionId?: string;
  /** The command-line arguments the runner was started with (without the program and script names). */
  cliArgs: readonly string[];
}

/** A bot runs once per connection; the promise settles when the bot is done with it. */
export type Bot = (args: RunnerArguments) => Promise<void>;

/** A built-in bot: `params` are added to its own TransportParams (such as the config's background sound). */
export type BuiltInBot = (args: RunnerArguments, params?: TransportParams) => Promise<void>;
