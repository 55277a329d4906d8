// Sends an RTVI client-message ({t, d}) and logs the bot's server-response (or why there was none).
import type { PipecatClient } from "@pipecat-ai/client-js";
import type { MessageLog } from "./messageLog.ts";

const RESPONSE_TIMEOUT_MS = 5000;

export interface MessageForm {
  /** Sending needs a ready call. */
  setEnabled(enabled: boolean): void;
}

export function bindMessageForm(client: PipecatClient, form: HTMLFormElement, log: MessageLog): MessageForm {
  const type = form.elements.namedItem("t") as HTMLInputElement;
  const data = form.elements.namedItem("d") as HTMLInputElement;
  const send = form.querySelector("button") as HTMLButtonElement;

  data.addEventListener("input", () => data.setCustomValidity(""));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const parsed = parseData(data.value);
    if ("error" in parsed) {
      data.setCustomValidity(`d must be JSON: ${parsed.error}`);
      data.reportValidity();
      return;
    }
    const t = type.value.trim();
    log.add("out", "client-message", { t, d: parsed.value });
    try {
      log.add("in", "server-response", await client.sendClientRequest(t, parsed.value, RESPONSE_TIMEOUT_MS));
    } catch (error) {
      log.addError("no server-response", error);
    }
  });
  return { setEnabled: (enabled) => (send.disabled = !enabled) };
}

/** An empty box sends no `d` at all. */
function parseData(text: string): { value: unknown } | { error: string } {
  if (!text.trim()) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}
