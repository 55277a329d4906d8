/** The bots that ship in the binary, by the name `--bot` and the `bot` config key use. */
import type { AudioFilter } from "../audio/filters/audioFilter.ts";
import { RNNoiseFilter } from "../audio/filters/rnnoiseFilter.ts";
import type { BuiltInBotName } from "../config/botSpec.ts";
import type { Config } from "../config/schema.ts";
import type { TransportParams } from "../transport/transportParams.ts";
import { assistantBot } from "./assistant.ts";
import { backgroundMixers } from "./backgroundSound.ts";
import type { Bot, BuiltInBot } from "./bot.ts";
import { echoBot } from "./echo.ts";
import { mirrorBot } from "./mirror.ts";
import { parrotBot } from "./parrot.ts";

type Env = Record<string, string | undefined>;

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

/** The bot, given for each session the params the config sets: `audio.inFilter` and `audio.mixer`. */
function withConfiguredParams(bot: BuiltInBot, config: Config): Bot {
  const audioInFilter = configuredAudioInFilter(config);
  const mixers = backgroundMixers(config.audio.mixer);
  if (!audioInFilter && !mixers) return bot;
  return (args) => {
    const params: TransportParams = {};
    if (audioInFilter) params.audioInFilter = audioInFilter();
    if (mixers) params.audioOutMixer = mixers();
    return bot(args, params);
  };
}
