// Voice-to-voice latency as the user lives it: from the end of their speech to the first sound of the bot's answer.
// Both ends are measured here, on the audio itself, not taken from the bot's events: `user-stopped-speaking` comes
// only after the VAD has heard enough silence (stopSecs), and `bot-started-speaking` is sent before the audio has
// crossed the network and the jitter buffer. The event only says that a turn ended; the levels say when.

/** Linear RMS above which a level counts as sound: -40 dBFS, above a quiet room, below the tail of a word. */
export const SOUND_RMS = 0.01;

export class VoiceLatency {
  /** When the microphone last carried sound. */
  private lastVoiceAt: number | undefined;
  /** The end of the user's speech in the turn awaiting its answer. */
  private speechEndedAt: number | undefined;
  /** Whether the bot has been silent since the turn ended: only a rise in its audio is an answer. */
  private botWasQuiet = false;

  constructor(private readonly onMeasured: (ms: number) => void) {}

  /** One microphone level reading (linear RMS) taken at `at` (performance.now() time). */
  localLevel(rms: number, at: number): void {
    if (rms > SOUND_RMS) this.lastVoiceAt = at;
  }

  /** One level reading of the bot's audio; the first sound after a turn ends answers it. */
  remoteLevel(rms: number, at: number): void {
    if (rms <= SOUND_RMS) {
      this.botWasQuiet = true;
      return;
    }
    // A bot still talking over the end of the turn is not answering it.
    if (this.speechEndedAt === undefined || !this.botWasQuiet) return;
    const ms = at - this.speechEndedAt;
    this.speechEndedAt = undefined;
    this.onMeasured(ms);
  }

  /** The user spoke again before the bot answered: that turn goes on, or was given up. */
  userStartedSpeaking(): void {
    this.speechEndedAt = undefined;
  }

  /** The bot's VAD ended the turn; the speech itself ended at the last sound the microphone carried. */
  userStoppedSpeaking(): void {
    this.speechEndedAt = this.lastVoiceAt;
    this.botWasQuiet = false;
  }

  reset(): void {
    this.lastVoiceAt = undefined;
    this.speechEndedAt = undefined;
  }
}
