/**
 * The shipped AudioMixer (Pipecat's SoundfileMixer): a WAV file looped under the bot's audio at a volume that can
 * change mid-call. The file is decoded when the mixer is made, so a bad file is an error before any call; it is
 * resampled once, at start, to the rate of the audio it mixes into.
 *
 *   const mixer = await WavLoopMixer.fromFile("office.wav", { volume: 0.3 });
 *   new SmallWebRTCTransport(connection, { audioOutEnabled: true, audioOutMixer: mixer });
 *   mixer.update({ volume: 0.1 });   // or push a MixerUpdateSettingsFrame down the pipeline
 */
import { readFile } from "node:fs/promises";
import { checkMixerSettings, type MixerSettings } from "../pipeline/mixerSettings.ts";
import type { AudioMixer } from "./audioMixer.ts";
import { Resampler } from "./resampler.ts";
import { decodeWav, WavError } from "./wav.ts";

export interface WavLoopMixerOptions extends MixerSettings {
  /** Mixing from the start (the default); false waits for a MixerEnableFrame or `enabled = true`. */
  enabled?: boolean;
}

/** Pipecat's SoundfileMixer default. */
const DEFAULT_VOLUME = 0.4;
/** Audio borrowed from the other end of the file on each side when resampling, so the loop point stays seamless. */
const WRAP_MARGIN_SECS = 0.01;

export class WavLoopMixer implements AudioMixer {
  #source?: { samples: Int16Array; sampleRate: number };
  /** The sound at the rate `start()` was given; undefined before start and after stop. */
  #sound?: Int16Array;
  #position = 0;
  #volume = DEFAULT_VOLUME;
  #loop = true;
  enabled: boolean;

  /** Decodes `wav` (a WAV file's bytes); throws a WavError saying what is wrong with it, or a RangeError on options. */
  constructor(wav: Uint8Array, options: WavLoopMixerOptions = {}) {
    const { enabled = true, ...settings } = options;
    this.update(settings);
    this.#source = decodeWav(wav);
    this.enabled = enabled;
  }

  /** Reads and decodes a WAV file; any problem is one error that names the file. */
  static async fromFile(path: string, options: WavLoopMixerOptions = {}): Promise<WavLoopMixer> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new WavError(`${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    try {
      return new WavLoopMixer(bytes, options);
    } catch (error) {
      if (error instanceof WavError) throw new WavError(`${path}: ${error.message}`);
      throw error;
    }
  }

  get volume(): number {
    return this.#volume;
  }

  get loop(): boolean {
    return this.#loop;
  }

  get audible(): boolean {
    return this.enabled && this.#sound !== undefined && (this.#loop || this.#position < this.#sound.length);
  }

  update(settings: MixerSettings): void {
    checkMixerSettings(settings);
    this.#volume = settings.volume ?? this.#volume;
    this.#loop = settings.loop ?? this.#loop;
  }

  start(sampleRate: number): void {
    const source = this.#source;
    if (!source) return;
    const previous = this.#sound;
    const sound = loopResampled(source.samples, source.sampleRate, sampleRate);
    // A new rate mid-call (a renegotiated codec) carries on from the same point in the sound.
    this.#position = previous ? Math.floor((this.#position / previous.length) * sound.length) : 0;
    this.#sound = sound;
  }

  mix(frame: Int16Array): void {
    const sound = this.#sound;
    if (!sound || !this.enabled) return;
    const volume = this.#volume;
    let position = this.#position;
    for (let i = 0; i < frame.length; i++) {
      if (position === sound.length) {
        if (!this.#loop) break;
        position = 0;
      }
      const mixed = frame[i] + Math.round(sound[position++] * volume);
      // Int16Array would wrap an overflow around to the other sign: a loud click instead of a clipped peak.
      frame[i] = mixed > 32767 ? 32767 : mixed < -32768 ? -32768 : mixed;
    }
    this.#position = position;
  }

  stop(): void {
    this.#source = undefined;
    this.#sound = undefined;
  }
}

/**
 * `samples` at `outputRate`, resampled as the endless loop it is played as: the filter sees the file's end before its
 * start and its start after its end, so the last sample leads into the first without the click that resampling a
 * lone copy (silence on both sides) would put at the loop point.
 */
function loopResampled(samples: Int16Array, inputRate: number, outputRate: number): Int16Array {
  if (inputRate === outputRate) return samples.slice();
  const length = samples.length;
  const margin = Math.ceil(inputRate * WRAP_MARGIN_SECS);
  const padded = new Int16Array(length + 2 * margin);
  for (let i = 0; i < padded.length; i++) padded[i] = samples[(((i - margin) % length) + length) % length];
  const resampler = new Resampler({ inputRate, outputRate });
  try {
    const resampled = resampler.process(padded);
    const start = Math.round((margin * outputRate) / inputRate);
    return resampled.slice(start, start + Math.max(1, Math.round((length * outputRate) / inputRate)));
  } finally {
    resampler.free();
  }
}
