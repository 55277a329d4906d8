/**
 * The bot each connection runs, from the `bot` setting (botSpec.ts). Anything wrong with it is found here, at
 * start-up, and reported as one line (ConfigError), never at the first call.
 */
import type { Bot } from "../bots/bot.ts";
import { BUILT_IN_BOT_FUNCTIONS, configuredAudioInFilter } from "../bots/builtInBots.ts";
import type { BotSpec } from "../config/botSpec.ts";
import { ConfigError } from "../config/layers.ts";
import type { Config } from "../config/schema.ts";
import { bridgeBot } from "../bridge/bridgeBot.ts";
import { loggableUrl } from "../bridge/botSocket.ts";
import { loadBotFile } from "./botFile.ts";

export async function resolveBot(spec: BotSpec, config: Config, env: Record<string, string | undefined>): Promise<Bot> {
  switch (spec.kind) {
    case "builtIn":
      return BUILT_IN_BOT_FUNCTIONS[spec.name](config, env);
    case "file":
      return loadBotFile(spec.path);
    case "bridge":
      if (!URL.canParse(spec.url)) throw new ConfigError(`bot: ${loggableUrl(spec.url)} is not a valid WebSocket URL`);
      return bridgeBot({ ...config.bridge, url: spec.url, audioInFilter: configuredAudioInFilter(config) });
  }
}
