/**
 * Bot audio out: PCM at any rate -> one queue at the encoder's rate -> a 20 ms packet every 20 ms on a monotonic
 * clock. When the queue is empty the track keeps going with silence, so the client's jitter buffer never starves and
 * a new utterance starts without a gap; with `autoSilence: false` it sends nothing instead, and the next utterance
 * starts a new talk spurt. `clear()` drops everything queued at once (an interruption), so the bot
 * goes quiet within one packet. A mixer adds its sound to every packet on the same clock, the silent ones included,
 * and is untouched by `clear()`.
 */
import { type AudioEncoder, createAudioEncoder, FRAME_MS, type RtpAudioCodec } from "./audioCodecs.ts";
import type { AudioMixer } from "./audioMixer.ts";
import { type Clock, realClock } from "./clock.ts";
import { Pacer, type Tick } from "./pacer.ts";
import { Resampler } from "./resampler.ts";
import { SampleQueue } from "./sampleQueue.ts";
import { TickAligner } from "./tickAligner.ts";

export interface OutgoingRtp {
  payload: Uint8Array;
  sequenceNumber: number;
  timestamp: number;
  /** First packet of a talk spurt (RFC 3551 section 4.1). */
  marker: boolean;
}

export interface AudioSenderOptions {
  codec: RtpAudioCodec;
  /** Rate the bot mostly produces; the encoder runs at it when the codec allows, saving a resampler. */
  preferredRate: number;
  bitrate?: number;
  send: (packet: OutgoingRtp) => void;
  /** Audio started (true) or the queue ran dry (false). */
  onPlaying?: (playing: boolean) => void;
  clock?: Clock;
  /** `write()` waits while more than this much audio is queued: back-pressure for the producer. */
  maxQueuedMs?: number;
  /** A hard bound on queued audio, for producers that hand over one huge frame; the excess is dropped. */
  maxBufferedSecs?: number;
  /** The source is live (see LIVE_TARGET_MS): keep latency low instead of holding the producer back. */
  live?: boolean;
  /** Send silence while the queue is empty (the default), rather than no packets at all. */
  autoSilence?: boolean;
  /** A sound under the bot's audio; while it is audible, packets carry it even when the bot is quiet. */
  mixer?: AudioMixer;
}

/** Process-wide, for /metrics: bot audio packets never sent because the process stalled past the pacer's limit. */
export const audioSenderStats = { skippedPackets: 0 };

/** Silent frames encoded before the cached silence packet is reused (the encoder settles within a few frames). */
const SILENCE_SETTLE_FRAMES = 5;
/**
 * A live source (an echo, a relay of another call) writes in real time, so whatever queue builds up behind a burst of
 * input (a reorder wait, network jitter) never drains by itself and becomes permanent latency. In live mode, once the
 * queue has stayed above the target for 200 ms, quiet frames are skipped until it is back; a bulk source (TTS)
 * never loses a frame and is slowed by back-pressure instead.
 */
const LIVE_TARGET_MS = 20;
const EXCESS_FOR_MS = 200;
const QUIET_RMS = 300;

export class AudioSender {
  readonly #options: AudioSenderOptions;
  readonly #encoder: AudioEncoder;
  readonly #pacer: Pacer;
  readonly #clock: Clock;
  readonly #resamplers = new Map<number, Resampler>();
  readonly #silence: Int16Array;
  readonly #queue: SampleQueue;
  /** The frame being encoded: reused, since the encoder copies it straight into its own memory. */
  readonly #frame: Int16Array;
  #sequenceNumber = randomUint(16);
  readonly #timestampBase = randomUint(32);
  #playing = false;
  #silentFrames = 0;
  #silencePacket?: Uint8Array;
  #waiters: { maxSamples: number; resolve: () => void }[] = [];
  #excessSince?: number;
  /** Silent packets still owed to `drainedThenSilence()`, sent even without auto silence, and who waits for them. */
  #owedSilence = 0;
  #silenceSent?: () => void;
  /** The previous tick sent nothing: the next packet starts a talk spurt. */
  #paused = false;
  readonly #aligner = new TickAligner(FRAME_MS);
  #closed = false;

  constructor(options: AudioSenderOptions) {
    this.#options = options;
    this.#encoder = createAudioEncoder(options.codec, options.preferredRate, options.bitrate);
    this.#silence = new Int16Array(this.#encoder.frameSamples);
    this.#frame = new Int16Array(this.#encoder.frameSamples);
    this.#queue = new SampleQueue(this.#encoder.sampleRate);
    this.#clock = options.clock ?? realClock;
    this.#pacer = new Pacer({ intervalMs: FRAME_MS, clock: this.#clock, onTick: (tick) => this.#tick(tick) });
    options.mixer?.start(this.#encoder.sampleRate);
  }

  /** Rate of the audio this sender encodes. */
  get sampleRate(): number {
    return this.#encoder.sampleRate;
  }

  get queuedMs(): number {
    return (this.#queue.length / this.#encoder.sampleRate) * 1000;
  }

  get playing(): boolean {
    return this.#playing;
  }

  start(): void {
    if (!this.#closed) this.#pacer.start();
  }

  /** Queues mono PCM at `sampleRate`; resolves once the queue is below the back-pressure mark. */
  async write(pcm: Int16Array, sampleRate: number): Promise<void> {
    if (this.#closed || pcm.length === 0) return;
    const resampled = sampleRate === this.#encoder.sampleRate ? pcm : this.#resampler(sampleRate).process(pcm);
    const room = (this.#options.maxBufferedSecs ?? 60) * this.#encoder.sampleRate - this.#queue.length;
    const audio = resampled.length > room ? resampled.subarray(0, Math.max(0, room)) : resampled;
    this.#queue.push(audio);
    if (this.#options.live) return this.#alignTicksToInput();
    const maxMs = this.#options.maxQueuedMs ?? 100;
    await this.#whenQueuedBelow((maxMs * this.#encoder.sampleRate) / 1000);
  }

  /** Resolves when everything queued so far has been sent. */
  drained(): Promise<void> {
    return this.#whenQueuedBelow(1);
  }

  /**
   * Resolves once everything queued so far has been sent, followed by `ms` of silence: the end of a session, so the
   * client's jitter buffer plays out the tail before the connection goes.
   */
  drainedThenSilence(ms: number): Promise<void> {
    if (this.#closed || !this.#pacer.running || ms <= 0) return this.drained();
    // Owed silence is taken only by ticks that find the queue empty, so it follows whatever is queued now.
    this.#silenceSent?.();
    this.#owedSilence = Math.ceil(ms / FRAME_MS);
    return new Promise((resolve) => (this.#silenceSent = resolve));
  }

  /** Drops all queued audio now. */
  clear(): void {
    this.#queue.clear();
    this.#release();
  }

  close(): void {
    this.#closed = true;
    this.#pacer.stop();
    this.clear();
    this.#owedSilence = 0;
    this.#silenceSent?.();
    for (const resampler of this.#resamplers.values()) resampler.free();
    this.#encoder.free();
  }

  #tick(tick: Tick): void {
    const frame = this.#trimLiveLatency(tick.scheduledAt) ?? this.#takeFrame();
    const wasPlaying = this.#playing;
    this.#playing = frame !== undefined;
    if (this.#playing !== wasPlaying) this.#options.onPlaying?.(this.#playing);
    const owedSilence = !frame && this.#takeOwedSilence();
    const mixer = this.#options.mixer?.audible ? this.#options.mixer : undefined;
    if (!frame && !owedSilence && !mixer && this.#options.autoSilence === false) {
      // Nothing is sent; the next packet's timestamp and marker tell the client where the new talk spurt starts.
      this.#paused = true;
      this.#release();
      return;
    }
    const payload = mixer ? this.#encodeMixed(mixer, frame) : frame ? this.#encodeAudio(frame) : this.#encodeSilence();
    // Ticks skipped by a stall take no audio. With auto silence they were packets, which the client counts as lost;
    // without it they are simply not sent, and the timestamp alone shows the gap.
    const lost = this.#options.autoSilence === false ? 0 : tick.skipped;
    audioSenderStats.skippedPackets += lost;
    this.#sequenceNumber = (this.#sequenceNumber + 1 + lost) & 0xffff;
    this.#options.send({
      payload,
      sequenceNumber: this.#sequenceNumber,
      timestamp: (this.#timestampBase + tick.index * this.#encoder.rtpTimestampStep) >>> 0,
      marker: (this.#playing && !wasPlaying) || this.#paused,
    });
    this.#paused = false;
    this.#release();
  }

  /** Counts one silent packet against `drainedThenSilence()`; true while some were owed. */
  #takeOwedSilence(): boolean {
    if (this.#owedSilence === 0) return false;
    if (--this.#owedSilence === 0) {
      this.#silenceSent?.();
      this.#silenceSent = undefined;
    }
    return true;
  }

  #encodeAudio(frame: Int16Array): Uint8Array {
    this.#silentFrames = 0;
    this.#silencePacket = undefined;
    return this.#encoder.encode(frame);
  }

  /** The mixer's sound over the bot's frame, or alone (over silence) while the bot is quiet. */
  #encodeMixed(mixer: AudioMixer, frame: Int16Array | undefined): Uint8Array {
    const pcm = frame ?? this.#frame.fill(0);
    mixer.mix(pcm);
    return this.#encodeAudio(pcm);
  }

  /** Silence costs nothing once the encoder has settled on it: the same few-byte packet is sent again. */
  #encodeSilence(): Uint8Array {
    if (this.#silencePacket && this.#silentFrames >= SILENCE_SETTLE_FRAMES) return this.#silencePacket;
    this.#silentFrames++;
    this.#silencePacket = this.#encoder.encode(this.#silence);
    return this.#silencePacket;
  }

  /** For a live source whose queue stayed too deep: skips one quiet frame and returns the one after it. */
  #trimLiveLatency(now: number): Int16Array | undefined {
    if (!this.#options.live || this.queuedMs <= LIVE_TARGET_MS) {
      this.#excessSince = undefined;
      return undefined;
    }
    this.#excessSince ??= now;
    if (now - this.#excessSince < EXCESS_FOR_MS) return undefined;
    const frame = this.#takeFrame()!;
    if (rmsOf(frame) >= QUIET_RMS) return frame;
    return this.#takeFrame();
  }

  /** A live sender's ticks follow its input's arrival (tickAligner.ts). */
  #alignTicksToInput(): void {
    if (!this.#pacer.running) return;
    const shift = this.#aligner.observe(this.#clock.now(), this.#pacer.msUntilNextTick);
    if (shift !== undefined) this.#pacer.shift(shift);
  }

  /** One frame from the queue; the end of an utterance is padded with silence. */
  #takeFrame(): Int16Array | undefined {
    if (this.#queue.length === 0) return undefined;
    this.#queue.shiftInto(this.#frame);
    return this.#frame;
  }

  #whenQueuedBelow(maxSamples: number): Promise<void> {
    if (this.#closed || this.#queue.length < maxSamples) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ maxSamples, resolve }));
  }

  #release(): void {
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!this.#closed && this.#queue.length >= waiter.maxSamples) return true;
      waiter.resolve();
      return false;
    });
  }

  #resampler(inputRate: number): Resampler {
    let resampler = this.#resamplers.get(inputRate);
    if (!resampler) {
      resampler = new Resampler({ inputRate, outputRate: this.#encoder.sampleRate, channels: 1 });
      this.#resamplers.set(inputRate, resampler);
    }
    return resampler;
  }
}

function randomUint(bits: 16 | 32): number {
  const value = crypto.getRandomValues(new Uint32Array(1))[0];
  return bits === 16 ? value & 0xffff : value;
}

function rmsOf(pcm: Int16Array): number {
  let sum = 0;
  for (const sample of pcm) sum += sample * sample;
  return Math.sqrt(sum / pcm.length);
}
