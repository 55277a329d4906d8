/**
 * The shipped AudioMixer (Pipecat's SoundfileMixer): a WAV file looped under the bot's audio at a volume that can
 * change mid-call, or one of several by name, switched mid-call. The files are decoded when the mixer is made, so a
 * bad file is an error before any call (mixers made from the same bytes share one decoding). The sound is resampled
 * to the output's rate as it plays, a packet at a time: a long file costs no pause at the start of a call, and the
 * resampler reads through the loop point as through any other, so the loop has no seam.
 *
 *   const mixer = await WavLoopMixer.fromFile("office.wav", { volume: 0.3 });
 *   new SmallWebRTCTransport(connection, { audioOutEnabled: true, audioOutMixer: mixer });
 *   mixer.update({ volume: 0.1 });   // or push a MixerUpdateSettingsFrame down the pipeline
 */
import { readFileSync } from "node:fs";
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
/** Audio fed to a new resampler ahead of where the sound resumes, so the filter starts full instead of on silence. */
const LEAD_SECS = 0.01;
/** Decodings by the bytes they came from, so every session's mixer of one config file shares one. */
const decodings = new WeakMap<Uint8Array, DecodedWav>();

/**
 * Reads a WAV file and checks that it decodes (the decoding is kept for the mixers made from the bytes); throws a
 * WavError that names the file, whether it cannot be read or is not a WAV file this mixer plays.
 */
export function readWavFile(path: string): Uint8Array {
  try {
    const bytes = readFileSync(path);
    decoded(bytes);
    return bytes;
  } catch (error) {
    if (error instanceof WavError) throw new WavError(`${path}: ${error.message}`);
    throw new WavError(`${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

export class WavLoopMixer implements AudioMixer {
  #sources?: Map<string, DecodedWav>;
  /** The sound playing, read at the rate `start()` was given; undefined before start and after stop. */
  #cursor?: SoundCursor;
  #outputRate?: number;
  #name: string;
  #volume = DEFAULT_VOLUME;
  #loop = true;
  /** The sound's samples for the packet being mixed: reused, sized to the largest packet seen. */
  #scratch = new Int16Array(0);
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
        sources.set(name, decoded(bytes));
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
    for (const [name, path] of Object.entries(named)) sounds[name] = readWavFile(path);
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
    return this.enabled && this.#cursor !== undefined && !this.#cursor.ended(this.#loop);
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
      if (this.#outputRate !== undefined) this.#play(0);
    }
  }

  start(sampleRate: number): void {
    this.#outputRate = sampleRate;
    // A new rate mid-call (a renegotiated codec) carries on from the same point in the sound.
    this.#play(this.#cursor?.position ?? 0);
  }

  mix(frame: Int16Array): void {
    const cursor = this.#cursor;
    if (!cursor || !this.enabled) return;
    if (this.#scratch.length < frame.length) this.#scratch = new Int16Array(frame.length);
    const sound = this.#scratch;
    const count = cursor.read(sound.subarray(0, frame.length), this.#loop);
    const volume = this.#volume;
    for (let i = 0; i < count; i++) {
      const mixed = frame[i] + Math.round(sound[i] * volume);
      // Int16Array would wrap an overflow around to the other sign: a loud click instead of a clipped peak.
      frame[i] = mixed > 32767 ? 32767 : mixed < -32768 ? -32768 : mixed;
    }
  }

  stop(): void {
    this.#cursor?.free();
    this.#cursor = undefined;
    this.#sources = undefined;
  }

  #play(position: number): void {
    const source = this.#sources?.get(this.#name);
    if (!source || this.#outputRate === undefined) return;
    this.#cursor?.free();
    this.#cursor = new SoundCursor(source, this.#outputRate, position, this.#loop);
  }
}

/** One sound read at the output's rate, a packet at a time, through its loop point when it loops. */
class SoundCursor {
  readonly #samples: Int16Array;
  readonly #resampler?: Resampler;
  /** The next sample of the sound to read (at its own rate). */
  #position: number;
  /** Read and resampled, not yet mixed. */
  #pending: Int16Array = EMPTY;
  #pendingStart = 0;
  /** Resampled samples still to drop: the output for the lead fed ahead of the starting position. */
  #discard = 0;

  constructor({ samples, sampleRate }: DecodedWav, outputRate: number, position: number, loop: boolean) {
    this.#samples = samples;
    this.#position = position;
    if (sampleRate === outputRate) return;
    this.#resampler = new Resampler({ inputRate: sampleRate, outputRate });
    // The filter needs the audio before the position to produce it: before the start of a loop comes its end.
    const lead = Math.ceil(sampleRate * LEAD_SECS);
    const length = samples.length;
    this.#pending = this.#resampler.process(Int16Array.from({ length: lead }, (_, i) => {
      const index = position - lead + i;
      return index >= 0 ? samples[index] : loop ? samples[((index % length) + length) % length] : 0;
    }));
    this.#discard = Math.round((lead * outputRate) / sampleRate);
  }

  get position(): number {
    return this.#position;
  }

  ended(loop: boolean): boolean {
    return !loop && this.#position === this.#samples.length && this.#pendingStart === this.#pending.length;
  }

  /** Fills `into` with the sound's next samples; returns how many (fewer once a sound that does not loop ends). */
  read(into: Int16Array, loop: boolean): number {
    let filled = 0;
    while (filled < into.length) {
      const available = this.#pending.length - this.#pendingStart;
      if (available === 0) {
        const input = this.#nextInput(into.length - filled, loop);
        if (input.length === 0) break;
        this.#pending = this.#resampler ? this.#resampler.process(input) : input;
        this.#pendingStart = 0;
      } else if (this.#discard > 0) {
        const dropped = Math.min(this.#discard, available);
        this.#pendingStart += dropped;
        this.#discard -= dropped;
      } else {
        const count = Math.min(into.length - filled, available);
        into.set(this.#pending.subarray(this.#pendingStart, this.#pendingStart + count), filled);
        this.#pendingStart += count;
        filled += count;
      }
    }
    return filled;
  }

  free(): void {
    this.#resampler?.free();
  }

  /** About as much of the sound as makes `wanted` samples of output, up to its end; at the end, its start again. */
  #nextInput(wanted: number, loop: boolean): Int16Array {
    const samples = this.#samples;
    if (this.#position === samples.length) {
      if (!loop) return EMPTY;
      this.#position = 0;
    }
    const ratio = this.#resampler ? this.#resampler.inputRate / this.#resampler.outputRate : 1;
    const end = Math.min(samples.length, this.#position + Math.max(1, Math.ceil(wanted * ratio)));
    const input = samples.subarray(this.#position, end);
    this.#position = end;
    return input;
  }
}

const EMPTY = new Int16Array(0);

/** The decoding of `bytes`, made once per bytes object. */
function decoded(bytes: Uint8Array): DecodedWav {
  let decoding = decodings.get(bytes);
  if (!decoding) decodings.set(bytes, (decoding = decodeWav(bytes)));
  return decoding;
}
