/** The paced audio track, on a virtual clock: timing, silence fill, back-pressure, interruption and the mixer. */
import { describe, expect, test } from "bun:test";
import { AudioSender, type OutgoingRtp } from "../../lib/media/audioSender.ts";
import { OpusDecoder } from "../../lib/media/opus.ts";
import { encodeWav } from "../../lib/media/wav.ts";
import { WavLoopMixer } from "../../lib/media/wavLoopMixer.ts";
import { rms, toneAmplitude } from "../../scripts/support/audio.ts";
import { consistently, eventually } from "../support/eventually.ts";
import { seededRandom, VirtualClock } from "../support/virtualClock.ts";

const OPUS = { mimeType: "audio/opus", clockRate: 48000, channels: 2 };

function tone(ms: number, rate = 16000, amplitude = 8000): Int16Array {
  return Int16Array.from({ length: (rate * ms) / 1000 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / rate)));
}

function setup(live = false, autoSilence?: boolean) {
  const clock = new VirtualClock();
  const sent: (OutgoingRtp & { at: number })[] = [];
  const playing: [number, boolean][] = [];
  const sender = new AudioSender({
    codec: OPUS,
    preferredRate: 16000,
    live,
    autoSilence,
    clock,
    send: (packet) => sent.push({ ...packet, at: clock.now() }),
    onPlaying: (on) => playing.push([clock.now(), on]),
  });
  // Packets are decoded in the order they are checked: every test checks them in send order.
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const level = (packet: OutgoingRtp) => rms(decoder.decode(packet.payload));
  const loud = (packet: OutgoingRtp) => level(packet) > 500;
  return { clock, sender, sent, playing, loud, level };
}

describe("AudioSender", () => {
  test("one 20 ms packet every 20 ms, silence when idle, continuous sequence numbers and timestamps", () => {
    const { clock, sender, sent, loud } = setup();
    sender.start();
    clock.advance(1000);
    expect(sent.length).toBe(51);
    expect(sent.every((p) => !loud(p))).toBe(true);
    for (let i = 1; i < sent.length; i++) {
      expect(sent[i].at - sent[i - 1].at).toBe(20);
      expect((sent[i].sequenceNumber - sent[i - 1].sequenceNumber) & 0xffff).toBe(1);
      expect((sent[i].timestamp - sent[i - 1].timestamp) >>> 0).toBe(960);
    }
    sender.close();
  });

  test("queued audio plays in order and the marker bit starts the talk spurt", () => {
    const { clock, sender, sent, loud, playing } = setup();
    sender.start();
    clock.advance(100);
    void sender.write(tone(200), 16000);
    clock.advance(400);
    const spurt = sent.filter(loud);
    expect(spurt.length).toBeGreaterThanOrEqual(10);
    expect(spurt.length).toBeLessThanOrEqual(11);
    expect(sent.filter((p) => p.marker).length).toBe(1);
    expect(sent.find((p) => p.marker)!.at).toBe(spurt[0].at);
    expect(playing.map(([, on]) => on)).toEqual([true, false]);
    sender.close();
  });

  test("clear() silences the bot from the next packet on (at most 20 ms later)", () => {
    const { clock, sender, sent, level } = setup();
    sender.start();
    void sender.write(tone(2000), 16000);
    clock.advance(505);
    const clearedAt = clock.now();
    sender.clear();
    clock.advance(200);
    const levels = sent.map((p) => ({ at: p.at, level: level(p) }));
    const before = levels.filter((p) => p.at <= clearedAt);
    const after = levels.filter((p) => p.at > clearedAt);
    expect(after[0].at - clearedAt).toBeLessThanOrEqual(20);
    // The first packet after clear() is silence, but its decoded audio still carries the codec's 6.5 ms look-ahead
    // of the tone: well below a full frame. From then on it is silent.
    expect(after[0].level).toBeLessThan(before.at(-1)!.level * 0.75);
    expect(after.slice(1).every((p) => p.level < 100)).toBe(true);
    sender.close();
  });

  test("write() applies back-pressure and drained() waits for the queue to empty", async () => {
    const { clock, sender } = setup();
    sender.start();
    let written = false;
    void sender.write(tone(1000), 16000).then(() => (written = true));
    let drained = false;
    void sender.drained().then(() => (drained = true));
    // The clock is virtual: while it stands still, the sender cannot drain.
    await consistently(() => !written, 50, "write() held back by 1 s of queued audio");
    clock.advance(950);
    await eventually(() => written, 1000, "write() to resolve once the queue is below the mark");
    expect(drained).toBe(false);
    clock.advance(100);
    await eventually(() => drained, 1000, "drained() to resolve once the queue is empty");
    sender.close();
  });

  test("a live source's extra latency is trimmed back in quiet frames; a bulk source loses nothing", async () => {
    // Live: 20 ms written every 20 ms, after a 100 ms burst (as after a reorder wait): mostly quiet speech.
    const live = setup(true);
    live.sender.start();
    const quietThenTone = (i: number) => (i % 10 < 7 ? new Int16Array(320) : tone(20));
    void live.sender.write(new Int16Array(1600), 16000);
    for (let i = 0; i < 200; i++) {
      void live.sender.write(quietThenTone(i), 16000);
      live.clock.advance(20);
    }
    expect(live.sender.queuedMs).toBeLessThanOrEqual(40);
    live.sender.close();

    // Bulk: a TTS-like producer that waits on back-pressure; every frame of its pauses is played.
    const bulk = setup();
    bulk.sender.start();
    const speech = new Int16Array(16000 * 3).map((_, i) => (Math.floor(i / 3200) % 2 ? 0 : 8000 * Math.sin(i / 5)));
    let done = false;
    void bulk.sender.write(speech, 16000).then(() => (done = true));
    for (let t = 0; t < 3400; t += 20) {
      bulk.clock.advance(20);
      await Bun.sleep(0); // lets the producer, released by that tick, write on
    }
    await eventually(() => done, 1000, "the bulk write to finish");
    const audible = bulk.sent.filter((p) => p.at > 0 && p.at <= 3020);
    expect(audible.length).toBeGreaterThanOrEqual(150);
    bulk.sender.close();
  });

  // Unaligned, a frame arriving just after a tick waits ~18 ms for the next one. Clients that start streaming as the
  // session starts arrive right at the ticks: some just before, some just after.
  for (const [arrivals, offset, spread] of [["1-3 ms after the ticks", 1, 2], ["around the ticks", -0.5, 1]] as const) {
    test(`a live sender moves its ticks to just after its input, arriving ${arrivals}`, () => {
      const random = seededRandom(3);
      const { clock, sender, sent } = setup(true);
      sender.start();
      const writes: number[] = [];
      let backlogged = 0;
      // Three seconds of quiet (where a live sender trims what queued up before it moved), then speech.
      for (let i = 0; i < 200; i++) {
        clock.advance(Math.max(0, 20 * i + offset + random() * spread - clock.now()));
        if (i >= 150 && sender.queuedMs > 0) backlogged++;
        if (i >= 150) writes.push(clock.now());
        void sender.write(i < 150 ? new Int16Array(320) : tone(20), 16000);
      }
      clock.advance(40);
      const latencies = writes.map((at) => sent.find((packet) => packet.at >= at)!.at - at);
      expect(backlogged).toBe(0);
      expect(Math.max(...latencies)).toBeLessThanOrEqual(8);
      // Timestamps stay continuous across the move: only the send times changed.
      for (let i = 1; i < sent.length; i++) expect((sent[i].timestamp - sent[i - 1].timestamp) >>> 0).toBe(960);
      sender.close();
    });
  }

  test("a live sender leaves its ticks alone for irregular input, and follows a slow clock by a frame at most", () => {
    const random = seededRandom(5);
    const jittery = setup(true);
    jittery.sender.start();
    // Arrival times spread over 15 ms (a loaded server): no phase to follow.
    for (let i = 0; i < 500; i++) {
      jittery.clock.advance(Math.max(0, 20 * i + random() * 15 - jittery.clock.now()));
      void jittery.sender.write(tone(20), 16000);
    }
    expect(jittery.sent.every((packet, i) => packet.at === i * 20)).toBe(true);
    jittery.sender.close();

    // A client clock 500 ppm slow: after 100 s its frames arrive 50 ms late; the ticks follow, by a frame at most.
    const slow = setup(true);
    slow.sender.start();
    for (let i = 0; i < 5000; i++) {
      slow.clock.advance(1 + 20.01 * i - slow.clock.now());
      void slow.sender.write(tone(20), 16000);
    }
    const behind = slow.sent.map((packet, i) => packet.at - i * 20);
    expect(Math.max(...behind)).toBeLessThanOrEqual(20);
    expect(Math.max(...behind)).toBeGreaterThan(10);
    slow.sender.close();
  });

  test("without auto silence nothing is sent while idle, even across a stall; each utterance is a talk spurt", () => {
    const { clock, sender, sent, loud } = setup(false, false);
    sender.start();
    clock.advance(200);
    expect(sent.length).toBe(0);
    void sender.write(tone(100), 16000);
    clock.advance(120);
    clock.stall(300);
    void sender.write(tone(100), 16000);
    clock.advance(300);
    // The positive control: both utterances went out whole, and nothing around them.
    expect(sent.length).toBe(10);
    expect(sent.every(loud)).toBe(true);
    expect(sent.map((p) => p.marker)).toEqual([true, false, false, false, false, true, false, false, false, false]);
    for (let i = 1; i < sent.length; i++) {
      expect((sent[i].sequenceNumber - sent[i - 1].sequenceNumber) & 0xffff).toBe(1);
    }
    // The pause shows in the timestamps alone: 300 ms from the end of the first utterance.
    expect((sent[5].timestamp - sent[4].timestamp) >>> 0).toBeGreaterThanOrEqual(15 * 960);
    sender.close();
  });

  test("drainedThenSilence() waits for the queue, then that much silence, with or without auto silence", async () => {
    for (const autoSilence of [true, false]) {
      const { clock, sender, sent, loud } = setup(false, autoSilence);
      sender.start();
      void sender.write(tone(100), 16000);
      let done = false;
      void sender.drainedThenSilence(200).then(() => (done = true));
      // Five packets of audio (0-80 ms), then ten of silence (100-280 ms).
      clock.advance(270);
      await Promise.resolve();
      expect(done).toBe(false);
      clock.advance(20);
      await eventually(() => done, 1000, "the end silence to have been sent");
      // The five of the tone and the ten after them; the first silent one still decodes the tone's tail (look-ahead).
      const levels = sent.map(loud);
      expect(levels.length).toBe(15);
      expect(levels.slice(0, 5)).toEqual(Array(5).fill(true));
      expect(levels.slice(6)).toEqual(Array(9).fill(false));
      sender.close();
    }
  });

  test("queued audio is hard-bounded even when handed over in one frame", () => {
    const clock = new VirtualClock();
    const sender = new AudioSender({ codec: OPUS, preferredRate: 16000, clock, send: () => {}, maxBufferedSecs: 2 });
    void sender.write(tone(5000), 16000);
    expect(sender.queuedMs).toBe(2000);
    sender.close();
  });

  test("audio at another rate is resampled, and a partial last frame is padded", () => {
    const { clock, sender, sent, loud } = setup();
    sender.start();
    void sender.write(tone(110, 48000), 48000);
    clock.advance(300);
    expect(sent.filter(loud).length).toBe(6);
    sender.close();
  });
});

describe("AudioSender with a mixer", () => {
  /** The background: a 1 kHz tone at 8000, looped; the bot's audio is tone() at 440 Hz. */
  const BACKGROUND_HZ = 1000;

  function mixed(volume: number, autoSilence?: boolean) {
    const clock = new VirtualClock();
    const sent: (OutgoingRtp & { at: number })[] = [];
    const background = Int16Array.from({ length: 1600 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * i) / 16)));
    const mixer = new WavLoopMixer(encodeWav(background, 16000), { volume });
    const sender = new AudioSender({
      codec: OPUS,
      preferredRate: 16000,
      autoSilence,
      mixer,
      clock,
      send: (packet) => sent.push({ ...packet, at: clock.now() }),
    });
    const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
    /** Each packet's decoded level at the background's pitch and the bot's, in send order (decode once, in order). */
    const levels: { at: number; background: number; bot: number; marker: boolean }[] = [];
    const measure = () => {
      for (const packet of sent.slice(levels.length)) {
        const pcm = decoder.decode(packet.payload);
        levels.push({
          at: packet.at,
          background: toneAmplitude(pcm, BACKGROUND_HZ, 16000),
          bot: toneAmplitude(pcm, 440, 16000),
          marker: packet.marker,
        });
      }
      return levels;
    };
    return { clock, sender, sent, mixer, measure };
  }

  test("the sound goes out while the bot is quiet, and the bot's audio on top of it", () => {
    const { clock, sender, measure } = mixed(0.5);
    sender.start();
    clock.advance(200);
    void sender.write(tone(200), 16000);
    clock.advance(300);
    const levels = measure();
    // Skip the encoder's first packets, while it settles.
    const quiet = levels.filter((p) => p.at >= 60 && p.at < 200);
    const speaking = levels.filter((p) => p.at >= 240 && p.at < 380);
    expect(quiet.length).toBe(7);
    for (const p of quiet) {
      expect(p.background).toBeGreaterThan(3000);
      expect(p.background).toBeLessThan(5000);
      expect(p.bot).toBeLessThan(300);
    }
    for (const p of speaking) {
      expect(p.background).toBeGreaterThan(3000);
      expect(p.bot).toBeGreaterThan(6000);
    }
    sender.close();

    // The positive control: without the mixer the quiet packets carry no 1 kHz at all.
    const plain = setup();
    plain.sender.start();
    plain.clock.advance(200);
    const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
    const plainLevels = plain.sent.map((p) => toneAmplitude(decoder.decode(p.payload), BACKGROUND_HZ, 16000));
    expect(Math.max(...plainLevels)).toBeLessThan(100);
    plain.sender.close();
  });

  test("clear() (an interruption) stops the bot's audio but not the sound", () => {
    const { clock, sender, measure } = mixed(0.5);
    sender.start();
    void sender.write(tone(2000), 16000);
    clock.advance(300);
    sender.clear();
    clock.advance(300);
    const levels = measure();
    const before = levels.filter((p) => p.at >= 100 && p.at < 300);
    const after = levels.filter((p) => p.at >= 340);
    expect(before.every((p) => p.bot > 6000 && p.background > 3000)).toBe(true);
    expect(after.length).toBe(14);
    expect(after.every((p) => p.bot < 300 && p.background > 3000)).toBe(true);
    sender.close();
  });

  test("a volume change is heard from the next packet", () => {
    const { clock, sender, mixer, measure } = mixed(0.5);
    sender.start();
    clock.advance(210);
    mixer.update({ volume: 0.1 });
    clock.advance(100);
    const levels = measure();
    const changedAt = levels.findIndex((p) => p.at > 210);
    const before = levels[changedAt - 1].background;
    expect(before).toBeGreaterThan(3000);
    // The first packet after the change still decodes the codec's look-ahead of the louder one; then it is a fifth.
    expect(levels[changedAt].background).toBeLessThan(before * 0.6);
    for (const p of levels.slice(changedAt + 1)) {
      expect(p.background / before).toBeGreaterThan(0.15);
      expect(p.background / before).toBeLessThan(0.25);
    }
    sender.close();
  });

  test("without auto silence the sound keeps the track going; disabled, the track pauses, resumes with a marker", () => {
    const { clock, sender, mixer, sent, measure } = mixed(0.5, false);
    sender.start();
    clock.advance(200);
    expect(sent.length).toBe(11);
    mixer.enabled = false;
    clock.advance(200);
    expect(sent.length).toBe(11);
    mixer.enabled = true;
    clock.advance(100);
    const levels = measure();
    expect(levels.length).toBe(16);
    expect(levels.map((p) => p.marker)).toEqual([false, ...Array(10).fill(false), true, false, false, false, false]);
    expect(levels.slice(13).every((p) => p.background > 3000)).toBe(true);
    sender.close();
  });

  test("drainedThenSilence() sends the bot's last audio, then the end silence with the sound in it", async () => {
    const { clock, sender, measure } = mixed(0.5, false);
    sender.start();
    void sender.write(tone(100), 16000);
    let done = false;
    void sender.drainedThenSilence(200).then(() => (done = true));
    clock.advance(270);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(20);
    await eventually(() => done, 1000, "the end silence to have been sent");
    const levels = measure();
    expect(levels.slice(0, 5).every((p) => p.bot > 6000)).toBe(true);
    expect(levels.slice(6).every((p) => p.bot < 300 && p.background > 3000)).toBe(true);
    sender.close();
  });
});
