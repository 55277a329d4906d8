/** What a MixerUpdateSettingsFrame can change in the output's background sound (Pipecat's mixer settings). */
export interface MixerSettings {
  /** 0 (silent) to 1 (the sound as recorded). */
  volume?: number;
  /** Start the sound over at its end (true), or play it to the end once (false). */
  loop?: boolean;
  /** Switch to another of the mixer's sounds, by name, from its start. */
  sound?: string;
}

/** Throws a RangeError naming the setting when `settings` holds a value no mixer can take. */
export function checkMixerSettings(settings: MixerSettings): void {
  const { volume, loop, sound } = settings;
  if (volume !== undefined && !(typeof volume === "number" && volume >= 0 && volume <= 1)) {
    throw new RangeError(`mixer volume: must be a number from 0 to 1, got ${volume}`);
  }
  if (loop !== undefined && typeof loop !== "boolean") {
    throw new RangeError(`mixer loop: must be true or false, got ${JSON.stringify(loop)}`);
  }
  if (sound !== undefined && typeof sound !== "string") {
    throw new RangeError(`mixer sound: must be a sound's name, got ${JSON.stringify(sound)}`);
  }
}
