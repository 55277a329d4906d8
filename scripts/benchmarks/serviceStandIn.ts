/**
 * The OpenAI stand-in (scripts/support/openaiStandIn.ts) as a process of its own, for `scripts/bench assistant`: each
 * endpoint answers after the same fixed delay, and speech is a quiet tone as long as espeak-ng would speak the reply,
 * so the stand-in costs little next to the server it serves. Prints "listening on <base URL>".
 */
import { OpenAIStandIn } from "../support/openaiStandIn.ts";

const delayMs = Number(process.argv[2] ?? 100);
const standIn = new OpenAIStandIn({ remember: 0 });
Object.assign(standIn.script, {
  transcript: "What is on the menu today?",
  reply: () => "Soup and bread. Would you like some?",
  firstChunkDelayMs: delayMs,
  realSpeech: false,
});
console.log(`listening on ${standIn.baseUrl}`);
