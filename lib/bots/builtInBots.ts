/** The bots that ship in the binary, by the name `--bot` and the `bot` config key use. */
import type { BuiltInBotName } from "../config/botSpec.ts";
import type { Config } from "../config/schema.ts";
import { assistantBot } from "./assistant.ts";
import type { Bot } from "./bot.ts";
import { echoBot } from "./echo.ts";
import { mirrorBot } from "./mirror.ts";
import { parrotBot } from "./parrot.ts";

type Env = Record<string, string | undefined>;

/** Each built-in bot, made from the config (only the assistant has settings) at start-up. */
export const BUILT_IN_BOT_FUNCTIONS: Record<BuiltInBotName, (config: Config, env: Env) => Bot> = {
  echo: () => echoBot,
  parrot: () => parrotBot,
  mirror: () => mirrorBot,
  assistant: (config, env) => assistantBot(config.assistant, env),
};
