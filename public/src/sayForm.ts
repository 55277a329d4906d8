// The text box: a typed turn, sent as RTVI `send-text` so that the bot's LLM answers it at once, spoken or not.
import type { PipecatClient } from "@pipecat-ai/client-js";
import type { Conversation } from "./conversation.ts";
import type { MessageLog } from "./messageLog.ts";

export interface SayForm {
  /** Sending needs a ready call. */
  setEnabled(enabled: boolean): void;
}

export function bindSayForm(client: PipecatClient, form: HTMLFormElement, conversation: Conversation,
  log: MessageLog): SayForm {
  const text = form.elements.namedItem("text") as HTMLInputElement;
  const speak = form.elements.namedItem("speak") as HTMLInputElement;
  const send = form.querySelector("button") as HTMLButtonElement;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = text.value.trim();
    if (!content || send.disabled) return;
    const options = { run_immediately: true, audio_response: speak.checked };
    text.value = "";
    conversation.userTyped(content);
    log.add("out", "send-text", { content, options });
    try {
      await client.sendText(content, options);
    } catch (error) {
      log.addError("send-text failed", error);
    }
  });
  return { setEnabled: (enabled) => (send.disabled = !enabled) };
}
