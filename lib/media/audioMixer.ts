/**
 * A sound mixed under the bot's audio (TransportParams audioOutMixer; Pipecat's BaseAudioMixer). The audio sender
 * calls it on its packet clock, so the sound goes on while the bot is silent, and an interruption, which only drops
 * the bot's queued speech, leaves it playing.
 */
import type { MixerSettings } from "../pipeline/mixerSettings.ts";

export interface AudioMixer {
  /**
   * Called before the first `mix()` with the rate of the audio it will mix into, and again should that rate change
   * (a renegotiated codec). Work that can fail belongs before this, where the mixer is made: not in the middle of a
   * call.
   */
  start(sampleRate: number): void;
  /** Adds the sound to one packet of mono PCM at the start rate, in place, saturating at the 16-bit limits. */
  mix(frame: Int16Array): void;
  /** Whether `mix()` adds anything now; while false, a quiet bot's track is what it would be without a mixer. */
  readonly audible: boolean;
  /** Mixing on or off (MixerEnableFrame). */
  enabled: boolean;
  /** New settings (MixerUpdateSettingsFrame), for the next packet on. Throws a RangeError on a bad value. */
  update(settings: MixerSettings): void;
  /** The session is over: release the sound. `mix()` adds nothing afterwards. */
  stop(): void;
}
