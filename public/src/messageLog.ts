// The RTVI traffic of the call, newest at the bottom: what the bot sent (bot-ready, speaking events, server-message,
// errors, ...), what the page sent, and the transport's state changes for context.
import { type PipecatClient, RTVIEvent, type RTVIMessage } from "@pipecat-ai/client-js";

export type EntryKind = "in" | "out" | "state" | "error";

const MAX_ENTRIES = 300;

/** Inbound RTVI messages, which the client turns into events, shown under their wire names (docs/protocol.md §4). */
const RTVI_EVENTS: [RTVIEvent, string][] = [
  [RTVIEvent.BotReady, "bot-ready"],
  [RTVIEvent.UserStartedSpeaking, "user-started-speaking"],
  [RTVIEvent.UserStoppedSpeaking, "user-stopped-speaking"],
  [RTVIEvent.BotStartedSpeaking, "bot-started-speaking"],
  [RTVIEvent.BotStoppedSpeaking, "bot-stopped-speaking"],
  [RTVIEvent.UserMuteStarted, "user-mute-started"],
  [RTVIEvent.UserMuteStopped, "user-mute-stopped"],
  [RTVIEvent.UserTranscript, "user-transcription"],
  [RTVIEvent.BotOutput, "bot-output"],
  [RTVIEvent.BotLlmStarted, "bot-llm-started"],
  [RTVIEvent.BotLlmText, "bot-llm-text"],
  [RTVIEvent.BotLlmStopped, "bot-llm-stopped"],
  [RTVIEvent.BotTtsStarted, "bot-tts-started"],
  [RTVIEvent.BotTtsText, "bot-tts-text"],
  [RTVIEvent.BotTtsStopped, "bot-tts-stopped"],
  [RTVIEvent.ServerMessage, "server-message"],
  [RTVIEvent.Metrics, "metrics"],
];

export class MessageLog {
  constructor(private readonly list: HTMLOListElement) {}

  add(kind: EntryKind, type: string, data?: unknown): void {
    const time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    const name = document.createElement("b");
    name.textContent = type;
    const item = document.createElement("li");
    item.dataset.kind = kind;
    item.dataset.type = type;
    item.append(time, name);
    if (data !== undefined) {
      const code = document.createElement("code");
      code.textContent = JSON.stringify(data);
      item.append(code);
    }
    // Follow new entries only while the reader is at the bottom; scrolling up to read stays put.
    const following = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.append(item);
    while (this.list.childElementCount > MAX_ENTRIES) this.list.firstElementChild?.remove();
    if (following) this.list.scrollTop = this.list.scrollHeight;
  }

  addError(type: string, error: unknown): void {
    this.add("error", type, describe(error));
  }
}

export function logRtviEvents(client: PipecatClient, log: MessageLog): void {
  for (const [event, type] of RTVI_EVENTS) client.on(event, (data?: unknown) => log.add("in", type, data));
  client.on(RTVIEvent.Error, (message: RTVIMessage) => log.add("error", "error", message.data));
  client.on(RTVIEvent.MessageError, (message: RTVIMessage) => log.add("error", "error-response", message.data));
  client.on(RTVIEvent.BotDisconnected, () => log.add("in", "peerLeft"));
  client.on(RTVIEvent.DeviceError, (error: Error) => log.addError("device-error", error));
}

/** Client errors come as Errors, rejected requests as RTVI messages, failed fetches as Responses. */
function describe(error: unknown): unknown {
  if (error instanceof Error) return error.message;
  if (error instanceof Response) return `HTTP ${error.status} ${error.url}`;
  if (error && typeof error === "object" && "data" in error) return error.data;
  return String(error);
}
