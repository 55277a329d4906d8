/** The bots that ship in the binary, by the name `--bot` and the `bot` config key use. */
import type { AudioFilter } from "../audio/filters/audioFilter.ts";
import { RNNoiseFilter } from "../audio/filters/rnnoiseFilter.ts";
import type { BuiltInBotName } from "../config/botSpec.ts";
import type { Config } from "../config/schema.ts";
import type { TransportParams } from "../transport/transportParams.ts";
import { assistantBot } from "./assistant.ts";
import type { Bot, RunnerArguments } from "./bot.ts";
import { echoBot } from "./echo.ts";
import { mirrorBot } from "./mirror.ts";
import { parrotBot } from "./parrot.ts";

type Env = Record<string, string | undefined>;
type BuiltInBot = (args: RunnerArguments, params: TransportParams) => Promise<void>;

/** Each built-in bot, made from the config at start-up, with the transport params the config sets for each session. */
export const BUILT_IN_BOT_FUNCTIONS: Record<BuiltInBotName, (config: Config, env: Env) => Bot> = {
  echo: (config) => withConfiguredParams(echoBot, config),
  parrot: (config) => withConfiguredParams(parrotBot, config),
  mirror: (config) => withConfiguredParams(mirrorBot, config),
  assistant: (config, env) => withConfiguredParams(assistantBot(config.assistant, env), config),
};

/**
 * A maker of the filter `audio.inFilter` names, for one session each (a filter holds its session's state), or
 * undefined for none. Built-in bots and the bridge use it; a bot file sets its own TransportParams.
 */
export function configuredAudioInFilter(config: Config): (() => AudioFilter) | undefined {
  return config.audio.inFilter === "rnnoise" ? () => new RNNoiseFilter() : undefined;
}

function withConfiguredParams(bot: BuiltInBot, config: Config): Bot {
  const audioInFilter = configuredAudioInFilter(config);
  return (args) => bot(args, audioInFilter ? { audioInFilter: audioInFilter() } : {});
}
