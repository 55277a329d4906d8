/**
 * The output side of a SmallWebRTCTransport: OutputAudioRawFrame (any rate, mono) becomes paced Opus, an
 * InterruptionFrame silences the bot within one packet, messages go out in order behind the audio queued before
 * them (or at once when urgent), and bot started/stopped speaking frames report what is actually being played.
 * Mixer frames go to TransportParams audioOutMixer, which the sender mixes in on its own clock.
 */
import {
  BotSpeakingFrame,
  BotStartedSpeakingFrame,
  BotStoppedSpeakingFrame,
  EndFrame,
  type Frame,
  InterruptionFrame,
  MixerEnableFrame,
  MixerUpdateSettingsFrame,
  OutputAudioRawFrame,
  OutputImageRawFrame,
  OutputTransportMessageFrame,
  OutputTransportMessageUrgentFrame,
  StartFrame,
} from "../pipeline/frames.ts";
import { DOWNSTREAM, type FrameDirection, FrameProcessor, UPSTREAM } from "../pipeline/frameProcessor.ts";
import { recordStageLatency } from "../pipeline/stageLatency.ts";
import type { SmallWebRTCClient } from "./smallWebRTCClient.ts";

/** Silence after audio before the bot counts as stopped: bridges the small gaps between TTS chunks. */
const BOT_STOP_DELAY_MS = 350;
/** How often BotSpeakingFrame is emitted while the bot talks. */
const BOT_SPEAKING_INTERVAL_MS = 200;

export class SmallWebRTCOutputTransport extends FrameProcessor {
  readonly #client: SmallWebRTCClient;
  #sampleRate = 24000;
  #botSpeaking = false;
  /** When the first frame of the audio about to start playing was made: the start of bot_audio_to_rtp. */
  #startingAudioMadeAt?: number;
  #stopTimer?: ReturnType<typeof setTimeout>;
  #speakingTimer?: ReturnType<typeof setInterval>;

  constructor(client: SmallWebRTCClient) {
    super({ name: "SmallWebRTCOutputTransport" });
    this.#client = client;
  }

  get sampleRate(): number {
    return this.#sampleRate;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    const media = this.#client.media;
    if (frame instanceof StartFrame) {
      this.#start(frame);
      await this.pushFrame(frame, direction);
      this.#client.processorStarted("output");
    } else if (frame instanceof InterruptionFrame) {
      media.audioSender?.clear();
      // As in Pipecat, live video queued for the interrupted moment goes too.
      media.videoSender?.clear();
      this.#startingAudioMadeAt = undefined;
      this.#setBotSpeaking(false);
      await this.pushFrame(frame, direction);
    } else if (frame instanceof OutputAudioRawFrame) {
      await this.#writeAudio(frame);
    } else if (frame instanceof MixerUpdateSettingsFrame && this.#client.params.audioOutMixer) {
      this.#client.params.audioOutMixer.update(frame.settings);
    } else if (frame instanceof MixerEnableFrame && this.#client.params.audioOutMixer) {
      this.#client.params.audioOutMixer.enabled = frame.enable;
    } else if (frame instanceof OutputImageRawFrame) {
      const [width, height] = frame.size;
      media.videoSender?.setImage({ format: frame.format, width, height, data: frame.image });
    } else if (frame instanceof OutputTransportMessageUrgentFrame) {
      this.#client.sendMessage(frame.message);
    } else if (frame instanceof OutputTransportMessageFrame) {
      await media.audioSender?.drained();
      this.#client.sendMessage(frame.message);
    } else if (frame instanceof EndFrame) {
      // Let the bot finish its sentence, and the client's jitter buffer play it out, before the session ends.
      await media.audioSender?.drainedThenSilence(this.#client.params.audioOutEndSilenceSecs * 1000);
      await this.pushFrame(frame, direction);
    } else {
      await this.pushFrame(frame, direction);
    }
  }

  protected override async cleanup(): Promise<void> {
    this.#setBotSpeaking(false);
    clearTimeout(this.#stopTimer);
    try {
      await this.#client.processorStopped("output");
    } finally {
      this.#client.params.audioOutMixer?.stop();
    }
  }

  #start(frame: StartFrame): void {
    const params = this.#client.params;
    this.#sampleRate = params.audioOutSampleRate ?? frame.params.audioOutSampleRate;
    if (params.audioOutEnabled) {
      this.#client.media.sendAudio({
        preferredRate: this.#sampleRate,
        bitrate: params.audioOutBitrate,
        // Back-pressure keeps about two chunks queued: enough to never run dry, little to discard on interruption.
        maxQueuedMs: params.audioOut10msChunks * 10 * 2,
        live: params.audioOutLive,
        autoSilence: params.audioOutAutoSilence,
        mixer: params.audioOutMixer,
        onPlaying: (playing) => this.#onPlaying(playing),
      });
    }
    if (params.videoOutEnabled) {
      this.#client.media.sendVideo({
        framerate: params.videoOutFramerate,
        bitrate: params.videoOutBitrate,
        live: params.videoOutIsLive,
        width: params.videoOutWidth,
        height: params.videoOutHeight,
      });
    }
  }

  async #writeAudio(frame: OutputAudioRawFrame): Promise<void> {
    const sender = this.#client.media.audioSender;
    if (!sender) return;
    if (!sender.playing) this.#startingAudioMadeAt ??= frame.createdAt;
    const mono = frame.numChannels === 1 ? frame.audio : downmix(frame.audio, frame.numChannels);
    await sender.write(mono, frame.sampleRate);
  }

  #onPlaying(playing: boolean): void {
    // Called as the sender takes the first frame of new audio, just before encoding and sending it.
    if (playing && this.#startingAudioMadeAt !== undefined) {
      recordStageLatency("bot_audio_to_rtp", performance.now() - this.#startingAudioMadeAt);
      this.#startingAudioMadeAt = undefined;
    }
    clearTimeout(this.#stopTimer);
    if (playing) this.#setBotSpeaking(true);
    else this.#stopTimer = setTimeout(() => this.#setBotSpeaking(false), BOT_STOP_DELAY_MS);
  }

  #setBotSpeaking(speaking: boolean): void {
    if (speaking === this.#botSpeaking) return;
    this.#botSpeaking = speaking;
    clearInterval(this.#speakingTimer);
    this.#pushBothWays(() => (speaking ? new BotStartedSpeakingFrame() : new BotStoppedSpeakingFrame()));
    if (speaking) {
      this.#speakingTimer = setInterval(() => this.#pushBothWays(() => new BotSpeakingFrame()), BOT_SPEAKING_INTERVAL_MS);
    }
  }

  /** Speaking frames go both ways, as in Pipecat: upstream processors (RTVI, aggregators) need them too. */
  #pushBothWays(make: () => Frame): void {
    if (!this.running) return;
    for (const direction of [DOWNSTREAM, UPSTREAM]) {
      this.pushFrame(make(), direction).catch((error) => this.logger.error("speaking frame failed", { error }));
    }
  }
}

function downmix(audio: Int16Array, channels: number): Int16Array {
  const mono = new Int16Array(Math.floor(audio.length / channels));
  for (let i = 0; i < mono.length; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += audio[i * channels + c];
    mono[i] = sum / channels;
  }
  return mono;
}
