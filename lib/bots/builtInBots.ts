/** The bots that ship in the binary, by the name `--bot` and the `bot` config key use. */
import type { BuiltInBotName } from "../config/botSpec.ts";
import type { Bot } from "./bot.ts";
import { echoBot } from "./echo.ts";
import { mirrorBot } from "./mirror.ts";
import { parrotBot } from "./parrot.ts";

export const BUILT_IN_BOT_FUNCTIONS: Record<BuiltInBotName, Bot> = {
  echo: echoBot,
  parrot: parrotBot,
  mirror: mirrorBot,
};
