/**
 * The config's background sound (audio.mixer) for the built-in bots. The file is read and checked once, at start-up,
 * so a bad one stops the server with one line; each session gets a mixer of its own, with its own place in the sound.
 */
import { ConfigError } from "../config/layers.ts";
import type { Config } from "../config/schema.ts";
import type { AudioMixer } from "../media/audioMixer.ts";
import { WavError } from "../media/wav.ts";
import { readWavFile, WavLoopMixer } from "../media/wavLoopMixer.ts";

/** Makes a mixer per session, or undefined when no file is set. */
export function backgroundMixers({ file, volume }: Config["audio"]["mixer"]): (() => AudioMixer) | undefined {
  if (file === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = readWavFile(file);
  } catch (error) {
    if (error instanceof WavError) throw new ConfigError(`audio.mixer.file ${error.message}`);
    throw error;
  }
  return () => new WavLoopMixer(bytes, { volume });
}
