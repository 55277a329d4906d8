/**
 * The shipped AudioMixer (Pipecat's SoundfileMixer): a WAV file looped under the bot's audio at a volume that can
 * change mid-call, or one of several by name, switched mid-call. The files are decoded when the mixer is made, so a
 * bad file is an error before any call; they are resampled once, at start, to the rate of the audio they mix into.
 *
 *   const mixer = await WavLoopMixer.fromFile("office.wav", { volume: 0.3 });
 *   new SmallWebRTCTransport(connection, { audioOutEnabled: true, audioOutMixer: mixer });
 *   mixer.update({ volume: 0.1 });   // or push a MixerUpdateSettingsFrame down the pipeline
 */
import { readFile } from "node:fs/promises";
import { checkMixerSettings, type MixerSettings } from "../pipeline/mixerSettings.ts";
import type { AudioMixer } from "./audioMixer.ts";
import { Resampler } from "./resampler.ts";
import { type DecodedWav, decodeWav, WavError } from "./wav.ts";

/** A WAV file's bytes, or several by name (the `sound` setting switches between them). */
export type WavSounds = Uint8Array | Record<string, Uint8Array>;

export interface WavLoopMixerOptions extends MixerSettings {
  /** Mixing from the start (the default); false waits for a MixerEnableFrame or `enabled = true`. */
  enabled?: boolean;
}

/** The name of the sound when the mixer is given only one. */
const SINGLE = "default";
/** Pipecat's SoundfileMixer default. */
const DEFAULT_VOLUME = 0.4;
/** Audio borrowed from the other end of the file on each side when resampling, so the loop point stays seamless. */
const WRAP_MARGIN_SECS = 0.01;

export class WavLoopMixer implements AudioMixer {
  #sources?: Map<string, DecodedWav>;
  /** Every sound at the rate `start()` was given; undefined before start and after stop. */
  #resampled?: Map<string, Int16Array>;
  #name: string;
  #position = 0;
  #volume = DEFAULT_VOLUME;
  #loop = true;
  enabled: boolean;

  /**
   * Decodes the sounds; throws a WavError saying what is wrong with which, or a RangeError on options. The first
   * sound plays unless `options.sound` names another.
   */
  constructor(wav: WavSounds, options: WavLoopMixerOptions = {}) {
    const named = wav instanceof Uint8Array ? { [SINGLE]: wav } : wav;
    const sources = new Map<string, DecodedWav>();
    for (const [name, bytes] of Object.entries(named)) {
      try {
        sources.set(name, decodeWav(bytes));
      } catch (error) {
        if (!(error instanceof WavError) || wav instanceof Uint8Array) throw error;
        throw new WavError(`sound ${name}: ${error.message}`);
      }
    }
    if (sources.size === 0) throw new RangeError("WavLoopMixer: no sounds given");
    this.#sources = sources;
    this.#name = sources.keys().next().value!;
    const { enabled = true, ...settings } = options;
    this.update(settings);
    this.enabled = enabled;
  }

  /** Reads and decodes WAV files (one, or several by name); any problem is one error that names the file. */
  static async fromFile(
    paths: string | Record<string, string>,
    options: WavLoopMixerOptions = {},
  ): Promise<WavLoopMixer> {
    const named = typeof paths === "string" ? { [SINGLE]: paths } : paths;
    const sounds: Record<string, Uint8Array> = {};
    for (const [name, path] of Object.entries(named)) {
      try {
        sounds[name] = await readFile(path);
        // Decoded here too, to name the file in the error; cheap next to reading it.
        decodeWav(sounds[name]);
      } catch (error) {
        if (error instanceof WavError) throw new WavError(`${path}: ${error.message}`);
        throw new WavError(`${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
      }
    }
    return new WavLoopMixer(typeof paths === "string" ? sounds[SINGLE] : sounds, options);
  }

  get volume(): number {
    return this.#volume;
  }

  get loop(): boolean {
    return this.#loop;
  }

  /** The name of the sound playing ("default" when the mixer was given one). */
  get sound(): string {
    return this.#name;
  }

  get audible(): boolean {
    const sound = this.#resampled?.get(this.#name);
    return this.enabled && sound !== undefined && (this.#loop || this.#position < sound.length);
  }

  update(settings: MixerSettings): void {
    checkMixerSettings(settings);
    const { sound } = settings;
    if (sound !== undefined && this.#sources && !this.#sources.has(sound)) {
      const names = [...this.#sources.keys()].join(", ");
      throw new RangeError(`mixer sound: no sound named ${JSON.stringify(sound)} (this mixer has: ${names})`);
    }
    this.#volume = settings.volume ?? this.#volume;
    this.#loop = settings.loop ?? this.#loop;
    if (sound !== undefined) {
      this.#name = sound;
      this.#position = 0;
    }
  }

  start(sampleRate: number): void {
    if (!this.#sources) return;
    const previous = this.#resampled?.get(this.#name);
    const resampled = new Map<string, Int16Array>();
    for (const [name, { samples, sampleRate: rate }] of this.#sources) {
      resampled.set(name, loopResampled(samples, rate, sampleRate));
    }
    // A new rate mid-call (a renegotiated codec) carries on from the same point in the sound.
    const length = resampled.get(this.#name)!.length;
    this.#position = previous ? Math.floor((this.#position / previous.length) * length) : 0;
    this.#resampled = resampled;
  }

  mix(frame: Int16Array): void {
    const sound = this.#resampled?.get(this.#name);
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
    this.#sources = undefined;
    this.#resampled = undefined;
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
