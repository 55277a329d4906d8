/** The bots that ship in the binary, by the name `--bot` and the `bot` config key use. */
import type { BuiltInBotName } from "../config/botSpec.ts";
import type { Config } from "../config/schema.ts";
import { assistantBot } from "./assistant.ts";
import { backgroundMixers } from "./backgroundSound.ts";
import type { Bot, BuiltInBot } from "./bot.ts";
import { echoBot } from "./echo.ts";
import { mirrorBot } from "./mirror.ts";
import { parrotBot } from "./parrot.ts";

type Env = Record<string, string | undefined>;

/** Each built-in bot, made from the config (the assistant's settings, the background sound) at start-up. */
export const BUILT_IN_BOT_FUNCTIONS: Record<BuiltInBotName, (config: Config, env: Env) => Bot> = {
  echo: (config) => withConfigParams(config, echoBot),
  parrot: (config) => withConfigParams(config, parrotBot),
  mirror: (config) => withConfigParams(config, mirrorBot),
  assistant: (config, env) => withConfigParams(config, assistantBot(config.assistant, env)),
};

/** The bot, given the TransportParams the config sets for every built-in bot. */
function withConfigParams(config: Config, bot: BuiltInBot): Bot {
  const mixers = backgroundMixers(config.audio.mixer);
  return mixers ? (args) => bot(args, { audioOutMixer: mixers() }) : bot;
}
