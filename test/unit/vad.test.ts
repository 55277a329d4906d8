/** Silero VAD on espeak-ng/sox fixtures: when speech starts and stops, and that silence and noise never start it. */
import { describe, expect, test } from "bun:test";
import { SileroVADAnalyzer } from "../../lib/audio/vad/sileroVadAnalyzer.ts";
import { type VADState, WindowedVADAnalyzer } from "../../lib/audio/vad/vadAnalyzer.ts";
import { envelope, readWav } from "../../scripts/support/audio.ts";
import { vadFixture } from "../../scripts/support/media.ts";

/** Feeds the file in 20 ms chunks (as the transport does) and returns the times the state entered speaking/quiet. */
async function transitions(pcm: Int16Array, sampleRate: number, analyzer: SileroVADAnalyzer) {
  analyzer.setSampleRate(sampleRate);
  const chunk = sampleRate / 50;
  const events: { state: VADState; at: number }[] = [];
  let last: VADState = "quiet";
  for (let offset = 0; offset + chunk <= pcm.length; offset += chunk) {
    const state = await analyzer.analyze(pcm.subarray(offset, offset + chunk));
    if ((state === "speaking" || state === "quiet") && state !== last) {
      events.push({ state, at: (offset + chunk) / sampleRate });
      last = state;
    }
  }
  return events;
}

/** First and last 10 ms window louder than -40 dBFS: where the speech really is. */
function speechSpan(pcm: Int16Array, sampleRate: number): [number, number] {
  const levels = envelope(pcm, sampleRate / 100);
  const loud = [...levels].map((level, i) => [level, i] as const).filter(([level]) => level > 328).map(([, i]) => i);
  return [loud[0] / 100, (loud.at(-1)! + 1) / 100];
}

describe("SileroVADAnalyzer", () => {
  test("speech starts after startSecs of voice and stops after stopSecs of silence", async () => {
    const { pcm, sampleRate } = readWav(await vadFixture("speech"));
    const [speechStart, speechEnd] = speechSpan(pcm, sampleRate);
    const analyzer = await SileroVADAnalyzer.create({ startSecs: 0.2, stopSecs: 0.8 });
    const events = await transitions(pcm, sampleRate, analyzer);

    expect(events[0].state).toBe("speaking");
    expect(events[0].at).toBeGreaterThan(speechStart + 0.1);
    expect(events[0].at).toBeLessThan(speechStart + 0.45);
    expect(events.at(-1)!.state).toBe("quiet");
    expect(events.at(-1)!.at).toBeGreaterThan(speechEnd + 0.6);
    expect(events.at(-1)!.at).toBeLessThan(speechEnd + 1.1);
    // One utterance with short pauses must stay one: stopSecs bridges the gaps between words.
    expect(events.length).toBe(2);
  });

  test("silence and loud white noise never count as speech", async () => {
    for (const kind of ["silence", "noise"] as const) {
      const { pcm, sampleRate } = readWav(await vadFixture(kind));
      const events = await transitions(pcm, sampleRate, await SileroVADAnalyzer.create());
      expect(events, kind).toEqual([]);
    }
  });

  test("works at other pipeline rates through resampling (24 kHz) and natively at 8 kHz", async () => {
    const { pcm } = readWav(await vadFixture("speech"));
    for (const rate of [8000, 24000]) {
      const resampled = new Int16Array(Math.floor((pcm.length * rate) / 16000));
      for (let i = 0; i < resampled.length; i++) resampled[i] = pcm[Math.floor((i * 16000) / rate)];
      const events = await transitions(resampled, rate, await SileroVADAnalyzer.create({ stopSecs: 0.8 }));
      expect(events.map((e) => e.state), `${rate} Hz`).toEqual(["speaking", "quiet"]);
    }
  });

  test("minVolume gates quiet speech", async () => {
    const { pcm, sampleRate } = readWav(await vadFixture("speech"));
    const whisper = pcm.map((sample) => sample / 1000);
    expect(await transitions(whisper, sampleRate, await SileroVADAnalyzer.create())).toEqual([]);
  });
});

describe("WindowedVADAnalyzer", () => {
  /** A model that calls every window voice, counting its calls and resets. */
  class CountingAnalyzer extends WindowedVADAnalyzer {
    calls = 0;
    resets = 0;
    protected windowSize() {
      return 512;
    }
    protected voiceConfidence() {
      this.calls++;
      return Promise.resolve(1);
    }
    protected resetModel() {
      this.resets++;
    }
  }

  test("windows too quiet to be voice never reach the model, which starts afresh when sound returns", async () => {
    const vad = new CountingAnalyzer({ startSecs: 0.064 });
    const resetsAtStart = vad.resets;
    expect(await vad.analyze(new Int16Array(512 * 10))).toBe("quiet");
    expect(vad.calls).toBe(0);
    const loud = Int16Array.from({ length: 512 * 12 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
    expect(await vad.analyze(loud)).toBe("speaking");
    // The volume is smoothed: the gate opens on the fifth loud window, and from there every window reaches the model.
    expect(vad.calls).toBe(8);
    expect(vad.resets - resetsAtStart).toBe(1);
  });
});
