/**
 * What the `bot` setting names: a built-in bot, a bot file that the server loads at start-up, or the WebSocket URL of
 * a remote Pipecat bot that every session is bridged to. One classification, shared by config validation and the
 * runner, so the two cannot disagree about what a value means.
 */

/** Names of the bots in lib/bots, listed here so that config validation knows them without importing the bots. */
export const BUILT_IN_BOTS = ["echo", "parrot", "mirror", "assistant"] as const;
export type BuiltInBotName = (typeof BUILT_IN_BOTS)[number];

/** File extensions a bot file may have. */
export const BOT_FILE_EXTENSIONS = [".ts", ".js", ".mjs"] as const;

export type BotSpec =
  | { kind: "builtIn"; name: BuiltInBotName }
  | { kind: "file"; path: string }
  | { kind: "bridge"; url: string };

/** What `value` names, or undefined when it is none of the three. */
export function parseBotSpec(value: string): BotSpec | undefined {
  if ((BUILT_IN_BOTS as readonly string[]).includes(value)) return { kind: "builtIn", name: value as BuiltInBotName };
  if (/^wss?:\/\/\S+$/i.test(value)) return { kind: "bridge", url: value };
  const lower = value.toLowerCase();
  if (BOT_FILE_EXTENSIONS.some((extension) => lower.endsWith(extension))) return { kind: "file", path: value };
  return undefined;
}

export const BOT_SPEC_HELP =
  `a built-in bot (${BUILT_IN_BOTS.join(", ")}), a bot file (${BOT_FILE_EXTENSIONS.join(", ")}) or the ws:// or ` +
  "wss:// URL of a remote Pipecat bot";
