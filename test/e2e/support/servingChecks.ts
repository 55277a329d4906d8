/** The checks every way of running the server must pass: Bun and Deno from source, and the binary. */
import { expect } from "bun:test";
import type { BrowserContext } from "playwright-core";
import { openProbePage, type ProbeResult, runProbe } from "./probe.ts";

/** Silence alone scores ~0; echoed speech scores well above this. */
export const ECHOED_SPEECH_ENERGY = 0.05;

/** The official client sends speech from the fake microphone; the echo bot's Opus audio comes back with energy. */
export async function expectSpeechEchoed(context: BrowserContext, baseUrl: string): Promise<ProbeResult> {
  const page = await openProbePage(context, { baseUrl });
  try {
    const result = await runProbe(page.page, { baseUrl, mode: "offer", connectTimeoutMs: 10_000 }, {
      what: "100 audio packets carrying the echoed speech",
      holds: ({ stats }) =>
        !!stats && stats.audioIn.packetsReceived > 100 && stats.audioIn.totalAudioEnergy > ECHOED_SPEECH_ENERGY,
    });
    expect(result.botReady, explainProbe(result)).toBe(true);
    const audio = result.stats!.audioIn;
    expect(audio.codec?.toLowerCase()).toContain("opus");
    expect(audio.packetsReceived).toBeGreaterThan(100);
    expect(audio.totalAudioEnergy).toBeGreaterThan(ECHOED_SPEECH_ENERGY);
    return result;
  } finally {
    await page.close();
  }
}

/** The test page is served at /client/. */
export async function expectTestPageServed(baseUrl: string): Promise<void> {
  const client = await fetch(`${baseUrl}/client/`);
  expect(client.status).toBe(200);
  expect(await client.text()).toContain("<html");
}

/** What went wrong with a probe, for assertion messages. */
export function explainProbe(result: Pick<ProbeResult, "errors" | "transportStates" | "requests">): string {
  return JSON.stringify({
    errors: result.errors,
    states: result.transportStates,
    requests: result.requests.map((r) => `${r.method} ${r.url} ${r.status}`),
  });
}
