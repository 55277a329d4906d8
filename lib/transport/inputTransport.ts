/**
 * The input side of a SmallWebRTCTransport: client audio as InputAudioRawFrame (20 ms, mono, pipeline rate, through
 * the audioInFilter when there is one), VAD turn frames and interruptions, camera/screen pictures as UserImageRawFrame
 * (streamed, or one per UserImageRequestFrame), and data-channel messages as InputTransportMessageFrame.
 */
import type { VADState } from "../audio/vad/vadAnalyzer.ts";
import type { RawImage } from "../media/yuv.ts";
import {
  ClientConnectedFrame,
  FilterControlFrame,
  type Frame,
  type ImageSource,
  InputAudioRawFrame,
  InputTransportMessageFrame,
  InterruptionFrame,
  StartFrame,
  USER_IMAGE_REQUEST_TIMEOUT_MS,
  UserImageRawFrame,
  UserImageRequestFrame,
  UserImageUnavailableFrame,
  UserStartedSpeakingFrame,
  UserStoppedSpeakingFrame,
  VADUserStartedSpeakingFrame,
  VADUserStoppedSpeakingFrame,
} from "../pipeline/frames.ts";
import { type FrameDirection, FrameProcessor } from "../pipeline/frameProcessor.ts";
import { ImageCaptureError } from "./mediaSession.ts";
import type { SmallWebRTCClient } from "./smallWebRTCClient.ts";

/** Audio frames allowed in flight through the pipeline before new ones are dropped (200 ms at 20 ms a frame). */
const MAX_AUDIO_IN_FLIGHT = 10;
/** Pictures allowed in flight; each is width x height x 3 bytes. */
const MAX_IMAGES_IN_FLIGHT = 2;

export class SmallWebRTCInputTransport extends FrameProcessor {
  readonly #client: SmallWebRTCClient;
  #sampleRate = 16000;
  #allowInterruptions = true;
  #vadState: VADState = "quiet";
  #audioInFlight = 0;
  #droppedAudio = 0;
  #filterErrors = 0;
  #imagesInFlight = 0;
  #vadQueue: Promise<void> = Promise.resolve();
  /** Client audio is wanted (`audioInStreamOnStart`, or `startAudioInStreaming()`), and whether it flows yet. */
  #audioWanted = false;
  #audioStreaming = false;

  constructor(client: SmallWebRTCClient) {
    super({ name: "SmallWebRTCInputTransport" });
    this.#client = client;
  }

  get sampleRate(): number {
    return this.#sampleRate;
  }

  protected override async processFrame(frame: Frame, direction: FrameDirection): Promise<void> {
    if (frame instanceof StartFrame) {
      await this.#start(frame);
      await this.pushFrame(frame, direction);
      this.#client.processorStarted("input");
      return;
    }
    // Pushed upstream by the bot, as in Pipecat (or queued downstream into the pipeline): answered here, not passed on.
    if (frame instanceof UserImageRequestFrame) {
      this.#answerImageRequest(frame);
      return;
    }
    const filter = this.#client.params.audioInFilter;
    if (frame instanceof FilterControlFrame && filter) {
      await filter.processFrame(frame);
      return;
    }
    await this.pushFrame(frame, direction);
  }

  protected override async cleanup(): Promise<void> {
    try {
      await this.#client.params.audioInFilter?.stop();
    } finally {
      await this.#client.processorStopped("input");
    }
  }

  /**
   * Starts delivering the client's audio, for a transport made with `audioInStreamOnStart: false` (a bot that does
   * not listen before, say, its greeting is over). The audio before it is never decoded, nor given to the VAD. Called
   * before the pipeline has started, it takes effect at the start.
   */
  startAudioInStreaming(): void {
    this.#audioWanted = true;
    if (!this.running || this.#audioStreaming || !this.#client.params.audioInEnabled) return;
    this.#audioStreaming = true;
    this.#client.media.receiveAudio({ sampleRate: this.#sampleRate, onFrame: (pcm) => this.#onAudio(pcm) });
  }

  /** Called by the transport when the client connected. */
  pushClientConnected(): void {
    void this.#push(new ClientConnectedFrame());
  }

  /** Called by the transport for every inbound application message. */
  pushAppMessage(message: unknown): void {
    if (this.running) void this.#push(new InputTransportMessageFrame(message));
  }

  async #start(frame: StartFrame): Promise<void> {
    const params = this.#client.params;
    this.#sampleRate = params.audioInSampleRate ?? frame.params.audioInSampleRate;
    this.#allowInterruptions = frame.params.allowInterruptions;
    params.vadAnalyzer?.setSampleRate(this.#sampleRate);
    await params.audioInFilter?.start(this.#sampleRate);
    if (params.audioInStreamOnStart || this.#audioWanted) this.startAudioInStreaming();
    if (params.videoInEnabled) {
      this.#client.media.receiveVideo({
        format: params.videoInFormat,
        onImage: (image, source) => this.#onImage(image, source),
      });
    }
  }

  /** Pushes one picture of the source asked for, or a UserImageUnavailableFrame saying why there is none. */
  #answerImageRequest(request: UserImageRequestFrame): void {
    const source = request.videoSource;
    const { media, params } = this.#client;
    media.captureImage(source, params.videoInFormat, USER_IMAGE_REQUEST_TIMEOUT_MS).then(
      (image) => {
        if (!this.running) return;
        const size = [image.width, image.height] as const;
        return this.#push(new UserImageRawFrame(this.#client.id, image.data, size, source, image.format, request));
      },
      (error: unknown) => {
        const reason = error instanceof ImageCaptureError ? error.reason : "closed";
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn("picture request unanswered", { source, reason, message });
        if (this.running) return this.#push(new UserImageUnavailableFrame(request, reason, message));
      },
    );
  }

  #onImage(image: RawImage, source: ImageSource): void {
    if (!this.running) return;
    // A picture that cannot be delivered yet is replaced by the next one rather than queued.
    if (this.#imagesInFlight >= MAX_IMAGES_IN_FLIGHT) return;
    this.#imagesInFlight++;
    const frame = new UserImageRawFrame(this.#client.id, image.data, [image.width, image.height], source, image.format);
    void this.#push(frame).finally(() => this.#imagesInFlight--);
  }

  #onAudio(decoded: Int16Array): void {
    if (!this.running) return;
    const pcm = this.#filter(decoded);
    if (pcm.length === 0) return;
    // Without passthrough the audio stops here: it only feeds the VAD and its turn frames.
    if (this.#client.params.audioInPassthrough && !this.#passOn(pcm)) return;
    const vad = this.#client.params.vadAnalyzer;
    // The analyzer sees every frame, in order, one at a time.
    if (vad) {
      this.#vadQueue = this.#vadQueue
        .then(() => vad.analyze(pcm))
        .then((state) => this.#onVadState(state))
        .catch((error) => this.logger.error("VAD failed", { error }));
    }
  }

  /** Client audio through the audioInFilter, if any; a filter that fails lets the audio through as it came. */
  #filter(pcm: Int16Array): Int16Array {
    const filter = this.#client.params.audioInFilter;
    if (!filter) return pcm;
    try {
      return filter.filter(pcm);
    } catch (error) {
      if (this.#filterErrors++ % 50 === 0) {
        this.logger.error("audioInFilter failed; audio passed unfiltered", { error });
      }
      return pcm;
    }
  }

  /** Pushes client audio downstream; false when it was dropped instead. */
  #passOn(pcm: Int16Array): boolean {
    // A pipeline that cannot keep up loses audio, rather than the process losing memory.
    if (this.#audioInFlight >= MAX_AUDIO_IN_FLIGHT) {
      if (this.#droppedAudio++ % 50 === 0) this.logger.warn("pipeline is not keeping up; input audio dropped");
      return false;
    }
    this.#audioInFlight++;
    const frame = new InputAudioRawFrame(pcm, this.#sampleRate, 1);
    void this.#push(frame).finally(() => this.#audioInFlight--);
    return true;
  }

  #onVadState(state: VADState): void {
    if (state === this.#vadState || state === "starting" || state === "stopping") return;
    this.#vadState = state;
    if (state === "speaking") {
      void this.#push(new VADUserStartedSpeakingFrame());
      void this.#push(new UserStartedSpeakingFrame());
      if (this.#allowInterruptions) void this.#push(new InterruptionFrame());
    } else {
      void this.#push(new VADUserStoppedSpeakingFrame());
      void this.#push(new UserStoppedSpeakingFrame());
    }
  }

  async #push(frame: Frame): Promise<void> {
    try {
      await this.pushFrame(frame);
    } catch (error) {
      this.logger.error("pushing an input frame failed", { frame: frame.name, error });
    }
  }
}
