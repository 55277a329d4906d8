/**
 * Where a service lives and how to reach it. The same shape serves OpenAI and the OpenAI-compatible servers on a LAN
 * (Ollama, llama.cpp's server, vLLM, speaches, whisper.cpp's server, Kokoro-FastAPI), which usually need no key.
 */

export interface ServiceConfig {
  /** The API root, e.g. "https://api.openai.com/v1" or "http://192.168.1.20:11434/v1". */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer <key>` exactly when set. */
  apiKey?: string;
  /** The longest wait for the server: for the response to begin, and between two pieces of a streamed body. */
  timeoutSecs?: number;
}

export const DEFAULT_TIMEOUT_SECS = 30;

/** A configuration that cannot work, found before any request is made. */
export class ServiceConfigError extends Error {
  override readonly name = "ServiceConfigError";
}

const OPENAI_HOST = "api.openai.com";

/** Whether `baseUrl` is OpenAI's own API, which always needs a key. */
export function isOpenAI(baseUrl: string): boolean {
  return URL.canParse(baseUrl) && new URL(baseUrl).hostname === OPENAI_HOST;
}

/**
 * Throws when `config` points at OpenAI's own API without a key: every request would fail with 401, so the server
 * should refuse to start instead. Servers on a LAN need no key and pass.
 */
export function requireKeyForOpenAI(service: string, config: ServiceConfig): void {
  if (!config.apiKey && isOpenAI(config.baseUrl)) {
    throw new ServiceConfigError(`${service}: ${config.baseUrl} is OpenAI's API and needs an API key (none is set)`);
  }
}

/** Checks what can be checked before the first request, each problem in one line naming the service. */
export function validateServiceConfig(service: string, config: ServiceConfig): void {
  let url: URL;
  try {
    url = new URL(config.baseUrl);
  } catch {
    throw new ServiceConfigError(`${service}: baseUrl ${JSON.stringify(config.baseUrl)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ServiceConfigError(`${service}: baseUrl must be http or https, not ${url.protocol}`);
  }
  if (typeof config.model !== "string" || !config.model) throw new ServiceConfigError(`${service}: model is empty`);
  const timeout = config.timeoutSecs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw new ServiceConfigError(`${service}: timeoutSecs must be a positive number, not ${timeout}`);
  }
  requireKeyForOpenAI(service, config);
}
