// The conversation as the user follows it: what they said (or typed), the bot's reply as its LLM streams it, how far
// its speech has got (`bot-tts-text` arrives as each part is spoken), and each spoken turn's voice-to-voice latency.
// Each line is an <li> with data-role "user" or "bot"; the tests read the data attributes.
import { type BotOutputData, type PipecatClient, RTVIEvent, type TranscriptData } from "@pipecat-ai/client-js";

export class Conversation {
  /** The bot line that the bot's next text belongs to; a new user turn starts a new one. */
  private reply: BotLine | undefined;
  /** The line of a transcript still in progress (`final: false`), replaced in place as it grows. */
  private partial: HTMLLIElement | undefined;

  constructor(private readonly list: HTMLOListElement) {}

  clear(): void {
    this.list.replaceChildren();
    this.reply = undefined;
    this.partial = undefined;
  }

  userTranscript({ text, final }: Pick<TranscriptData, "text" | "final">): void {
    const line = this.partial ?? this.addUser(text, "voice");
    line.textContent = text;
    line.toggleAttribute("data-partial", !final);
    this.partial = final ? undefined : line;
  }

  userTyped(text: string): void {
    this.addUser(text, "typed");
  }

  /** Whatever the bot says after the user's turn ended answers that turn. */
  userTurnEnded(): void {
    this.reply = undefined;
  }

  botLlmStarted(): void {
    if (!this.reply?.isEmpty) this.reply = this.addBot();
    this.reply.streaming = true;
  }

  botLlmText(text: string): void {
    this.currentReply().appendLlmText(text);
  }

  botLlmStopped(): void {
    if (this.reply) this.reply.streaming = false;
  }

  botTtsText(text: string): void {
    this.currentReply().spoke(text);
  }

  /** Only unspoken output is news: spoken output is shown by bot-tts-text as it is heard. */
  botOutput({ text, will_be_spoken }: Pick<BotOutputData, "text" | "will_be_spoken">): void {
    if (will_be_spoken === false) this.currentReply().showUnspoken(text);
  }

  voiceToVoice(ms: number): void {
    this.currentReply().showLatency(ms);
  }

  private currentReply(): BotLine {
    this.reply ??= this.addBot();
    return this.reply;
  }

  private addUser(text: string, source: "voice" | "typed"): HTMLLIElement {
    const line = document.createElement("li");
    line.dataset.role = "user";
    line.dataset.source = source;
    line.textContent = text;
    this.append(line);
    this.reply = undefined;
    return line;
  }

  private addBot(): BotLine {
    const line = new BotLine();
    this.append(line.element);
    return line;
  }

  private append(line: HTMLLIElement): void {
    // Follow new lines only while the reader is at the bottom; scrolling up to read stays put.
    const following = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.append(line);
    if (following) this.list.scrollTop = this.list.scrollHeight;
  }
}

/** One reply of the bot: its text, the part already spoken, and the turn's latency. */
class BotLine {
  readonly element = document.createElement("li");
  private readonly spokenPart = document.createElement("span");
  private readonly unspokenPart = document.createElement("span");
  private text = "";
  private spokenLength = 0;
  private streamedByLlm = false;

  constructor() {
    this.element.dataset.role = "bot";
    this.spokenPart.dataset.spoken = "";
    this.unspokenPart.dataset.unspoken = "";
    this.element.append(this.spokenPart, this.unspokenPart);
  }

  get isEmpty(): boolean {
    return this.text === "";
  }

  set streaming(streaming: boolean) {
    this.element.toggleAttribute("data-streaming", streaming);
  }

  appendLlmText(text: string): void {
    this.streamedByLlm = true;
    this.text += text;
    this.render();
  }

  /** Marks `text` as spoken: the next place it occurs in the reply, or, for speech the LLM did not stream (a
   * greeting), the text itself. TTS may normalise what it reads, so a part not found still moves the mark on. */
  spoke(text: string): void {
    const part = text.trim();
    const at = this.text.indexOf(part, this.spokenLength);
    if (at >= 0) {
      this.spokenLength = at + part.length;
    } else if (!this.streamedByLlm) {
      this.text = joinWords(this.text, part);
      this.spokenLength = this.text.length;
    } else {
      this.spokenLength = Math.min(this.text.length, this.spokenLength + part.length);
    }
    this.render();
  }

  /** A reply that will not be spoken. Its LLM tokens, when they came, already show its text. */
  showUnspoken(text: string): void {
    this.element.dataset.textOnly = "";
    if (this.streamedByLlm) return;
    this.text = joinWords(this.text, text.trim());
    this.render();
  }

  showLatency(ms: number): void {
    if (this.element.querySelector("[data-latency-ms]")) return;
    const latency = document.createElement("small");
    latency.dataset.latencyMs = String(Math.round(ms));
    latency.title = "Voice to voice: from the end of your speech to the bot's first audio";
    latency.textContent = `${Math.round(ms)} ms`;
    this.element.append(latency);
  }

  private render(): void {
    this.spokenPart.textContent = this.text.slice(0, this.spokenLength);
    this.unspokenPart.textContent = this.text.slice(this.spokenLength);
  }
}

function joinWords(text: string, more: string): string {
  return text && more ? `${text} ${more}` : text + more;
}

/** Shows the client's conversation events in `conversation` (the latency comes from `VoiceLatency`). */
export function showConversation(client: PipecatClient, conversation: Conversation): void {
  client.on(RTVIEvent.UserTranscript, (data: TranscriptData) => conversation.userTranscript(data));
  client.on(RTVIEvent.UserStoppedSpeaking, () => conversation.userTurnEnded());
  client.on(RTVIEvent.BotLlmStarted, () => conversation.botLlmStarted());
  client.on(RTVIEvent.BotLlmText, ({ text }: { text: string }) => conversation.botLlmText(text));
  client.on(RTVIEvent.BotLlmStopped, () => conversation.botLlmStopped());
  client.on(RTVIEvent.BotTtsText, ({ text }: { text: string }) => conversation.botTtsText(text));
  client.on(RTVIEvent.BotOutput, (data: BotOutputData) => conversation.botOutput(data));
}
