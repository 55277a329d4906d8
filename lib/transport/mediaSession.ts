/**
 * The media of one connection, on behalf of a transport: receivers for the client's microphone, camera and screen,
 * and senders for bot audio and video, all through the connection's media port (lib/webrtc/mediaPort.ts). Only what
 * the transport asked for is ever attached, so a negotiated camera that nobody reads costs nothing.
 *
 * A picture asked for (`captureImage`) decodes its source only until that picture is out, unless the source is
 * streamed anyway (`receiveVideo`).
 *
 * Receivers are made on the first packet, from the codecs negotiated at that time. When a re-offer or a `restart_pc`
 * is negotiated they are dropped (the next packet makes new ones), and a sender whose codec changed is replaced.
 */
import type { Logger } from "../log/logger.ts";
import type { AudioMixer } from "../media/audioMixer.ts";
import { isSupportedAudioCodec } from "../media/audioCodecs.ts";
import { AudioReceiver } from "../media/audioReceiver.ts";
import { AudioSender } from "../media/audioSender.ts";
import {
  type VideoCodecName,
  videoCodecName,
  VideoReceiver,
  type VideoReceiverStats,
} from "../media/videoReceiver.ts";
import { VideoSender } from "../media/videoSender.ts";
import type { ImageFormat, RawImage } from "../media/yuv.ts";
import type { ImageSource, UserImageUnavailableReason } from "../pipeline/frames.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";
import {
  type IncomingRtp,
  type MediaPort,
  type MediaSlot,
  type NegotiatedCodec,
  RECEIVER,
} from "../webrtc/mediaPort.ts";

export interface AudioInput {
  sampleRate: number;
  onFrame: (pcm: Int16Array) => void;
}

export interface VideoInput {
  format: ImageFormat;
  onImage: (image: RawImage, source: ImageSource) => void;
}

export interface AudioOutput {
  preferredRate: number;
  bitrate: number;
  maxQueuedMs: number;
  live: boolean;
  autoSilence: boolean;
  mixer?: AudioMixer;
  onPlaying: (playing: boolean) => void;
}

export interface VideoOutput {
  framerate: number;
  bitrate: number;
  /** Each picture is sent once (a live stream) rather than the latest repeated. */
  live: boolean;
  /** Size every bot picture is sent at; absent: each picture's own size. */
  width?: number;
  height?: number;
}

const VIDEO_SOURCES: Partial<Record<MediaSlot, ImageSource>> = {
  [RECEIVER.camera]: "camera",
  [RECEIVER.screen]: "screenVideo",
};
const VIDEO_SLOTS: Record<ImageSource, MediaSlot> = { camera: RECEIVER.camera, screenVideo: RECEIVER.screen };

/** Why `captureImage` gave no picture. */
export class ImageCaptureError extends Error {
  override name = "ImageCaptureError";

  constructor(
    readonly reason: UserImageUnavailableReason,
    message: string,
  ) {
    super(message);
  }
}

/** A `captureImage` call waiting for the next picture of its source. */
interface PictureWaiter {
  deliver(image: RawImage): void;
  fail(error: ImageCaptureError): void;
}

export class MediaSession {
  readonly #connection: SmallWebRTCConnection;
  readonly #port: MediaPort;
  readonly #logger: Logger;
  #audioOutput?: AudioOutput;
  #videoOutput?: VideoOutput;
  /** Set by `receiveVideo`: every picture of both sources goes there. */
  #videoInput?: VideoInput;
  #videoFormat: ImageFormat = "RGB";
  readonly #pictureWaiters = new Map<MediaSlot, Set<PictureWaiter>>();
  /** RTP subscriptions made for `captureImage` alone, by slot: dropped once the picture is out. */
  readonly #captures = new Map<MediaSlot, () => void>();
  /** Frames handed to the video decoders, by source, over the session (receivers come and go). */
  readonly videoInStats: Record<ImageSource, VideoReceiverStats> = {
    camera: { decodedFrames: 0 },
    screenVideo: { decodedFrames: 0 },
  };
  /** null: the negotiated codecs hold none we can decode (warned once per negotiation). */
  #audioReceiver?: AudioReceiver | null;
  readonly #videoReceivers = new Map<MediaSlot, VideoReceiver>();
  /** Payload type -> video codec, per slot, for the current negotiation. */
  readonly #videoCodecsBySlot = new Map<MediaSlot, Map<number, VideoCodecName>>();
  #audioSender?: AudioSender;
  #audioSenderCodec?: string;
  #videoSender?: VideoSender;
  #offKeyframeRequests?: () => void;
  readonly #offs: (() => void)[] = [];
  #started = false;
  #closed = false;

  constructor(connection: SmallWebRTCConnection, logger: Logger) {
    this.#connection = connection;
    this.#port = connection.media;
    this.#logger = logger;
    this.#offs.push(
      this.#port.onNegotiated(() => this.#renegotiated()),
      connection.on("trackStatus", (index, enabled) => {
        // Frames were skipped while the track was off: video must restart from a keyframe.
        if (enabled) this.#videoReceivers.get(index as MediaSlot)?.resync();
      }),
    );
  }

  get audioSender(): AudioSender | undefined {
    return this.#audioSender;
  }

  get videoSender(): VideoSender | undefined {
    return this.#videoSender;
  }

  /** Starts delivering client audio as mono PCM frames of 20 ms at `input.sampleRate`. */
  receiveAudio(input: AudioInput): void {
    if (this.#closed) return;
    const slot = RECEIVER.microphone;
    this.#offs.push(
      this.#port.onRtp(slot, (rtp) => {
        // A muted microphone (trackStatus) is not even decoded.
        if (!this.#connection.isTrackEnabled(slot)) return;
        if (this.#audioReceiver === undefined) this.#audioReceiver = this.#createAudioReceiver(input);
        this.#audioReceiver?.receive(rtp);
      }),
    );
  }

  /** Starts delivering the client's camera and screen pictures, in `input.format`. */
  receiveVideo(input: VideoInput): void {
    if (this.#closed) return;
    this.#videoInput = input;
    this.#videoFormat = input.format;
    for (const slot of [RECEIVER.camera, RECEIVER.screen] as const) {
      // The stream serves waiting captures from now on: their own subscription would feed the receiver twice.
      this.#captures.get(slot)?.();
      this.#captures.delete(slot);
      this.#offs.push(this.#port.onRtp(slot, (rtp) => this.#onVideoRtp(slot, rtp)));
    }
  }

  /**
   * The next picture of `source`, in `format` (unless `receiveVideo` set one). Without `receiveVideo`, the source is
   * decoded for this alone: from the first packet on (whose receiver asks the client for a keyframe) until the picture
   * is out. Rejects with an ImageCaptureError: at once when the client's offer has no such video, after `timeoutMs`
   * when no picture came, and when the session closes.
   */
  captureImage(source: ImageSource, format: ImageFormat, timeoutMs: number): Promise<RawImage> {
    if (this.#closed) return Promise.reject(new ImageCaptureError("closed", `no ${source} picture: the session ended`));
    const slot = VIDEO_SLOTS[source];
    if (videoCodecs(this.#port.receiveCodecs(slot)).size === 0) {
      const message = `no ${source} picture: the client's offer has no ${source} video we can decode`;
      return Promise.reject(new ImageCaptureError("notNegotiated", message));
    }
    if (!this.#videoInput) this.#videoFormat = format;
    return new Promise((resolve, reject) => {
      const waiters = this.#pictureWaiters.get(slot) ?? new Set<PictureWaiter>();
      this.#pictureWaiters.set(slot, waiters);
      const timer = setTimeout(() => {
        const why = !this.#connection.isTrackEnabled(slot)
          ? "the client turned it off"
          : this.#videoReceivers.has(slot)
          ? "video arrived, but no picture was decoded from it"
          : "no video arrived";
        waiter.fail(new ImageCaptureError("timeout", `no ${source} picture within ${timeoutMs} ms: ${why}`));
      }, timeoutMs);
      const waiter: PictureWaiter = {
        deliver: (image) => {
          clearTimeout(timer);
          resolve(image);
        },
        fail: (error) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          if (waiters.size === 0) this.#endCapture(slot);
          reject(error);
        },
      };
      waiters.add(waiter);
      if (!this.#videoInput && !this.#captures.has(slot)) {
        this.#captures.set(slot, this.#port.onRtp(slot, (rtp) => this.#onVideoRtp(slot, rtp)));
      }
    });
  }

  /** Prepares bot audio; packets flow from `start()` on. */
  sendAudio(output: AudioOutput): void {
    this.#audioOutput = output;
    if (this.#started) this.start();
  }

  /** Prepares bot video; frames flow from `start()` on. */
  sendVideo(output: VideoOutput): void {
    this.#videoOutput = output;
    if (this.#started) this.start();
  }

  /** The client is connected: senders start their clocks. */
  start(): void {
    if (this.#closed) return;
    this.#started = true;
    if (this.#audioOutput && !this.#audioSender) this.#audioSender = this.#createAudioSender(this.#audioOutput);
    if (this.#videoOutput && !this.#videoSender) this.#videoSender = this.#createVideoSender(this.#videoOutput);
    this.#audioSender?.start();
    this.#videoSender?.start();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const off of this.#offs.splice(0)) off();
    const closed = new ImageCaptureError("closed", "no picture: the session ended");
    for (const waiters of [...this.#pictureWaiters.values()]) for (const waiter of [...waiters]) waiter.fail(closed);
    this.#closeReceivers();
    this.#audioSender?.close();
    this.#audioSender = undefined;
    this.#closeVideoSender();
  }

  #createAudioReceiver(input: AudioInput): AudioReceiver | null {
    const negotiated = this.#port.receiveCodecs(RECEIVER.microphone);
    const codecs = negotiated.filter(isSupportedAudioCodec);
    if (codecs.length === 0) {
      this.#logger.warn("client audio uses no codec we can decode", { codecs: negotiated.map((c) => c.mimeType) });
      return null;
    }
    return new AudioReceiver({ codecs, outputRate: input.sampleRate, onFrame: input.onFrame });
  }

  #onVideoRtp(slot: MediaSlot, rtp: IncomingRtp): void {
    if (!this.#connection.isTrackEnabled(slot)) return;
    // Only the negotiated video codecs go to the decoder (not RTX, RED or FEC payload types).
    const codec = this.#videoCodecs(slot).get(rtp.header.payloadType);
    if (!codec) return;
    const receiver = this.#videoReceivers.get(slot) ?? this.#createVideoReceiver(slot, codec);
    receiver.receive(rtp);
  }

  #createVideoReceiver(slot: MediaSlot, codec: VideoCodecName): VideoReceiver {
    const source = VIDEO_SOURCES[slot]!;
    const receiver = new VideoReceiver({
      codec,
      format: this.#videoFormat,
      onImage: (image) => this.#onPicture(slot, image),
      logger: this.#logger,
      requestKeyframe: () => this.#port.requestKeyframe(slot),
      stats: this.videoInStats[source],
    });
    this.#videoReceivers.set(slot, receiver);
    return receiver;
  }

  #onPicture(slot: MediaSlot, image: RawImage): void {
    const waiters = this.#pictureWaiters.get(slot);
    this.#pictureWaiters.delete(slot);
    for (const waiter of waiters ?? []) waiter.deliver(image);
    if (this.#videoInput) this.#videoInput.onImage(image, VIDEO_SOURCES[slot]!);
    else this.#endCapture(slot);
  }

  /** Stops decoding `slot` once no capture waits for it, unless it is streamed. */
  #endCapture(slot: MediaSlot): void {
    if (this.#videoInput || this.#pictureWaiters.get(slot)?.size) return;
    this.#pictureWaiters.delete(slot);
    this.#captures.get(slot)?.();
    this.#captures.delete(slot);
    this.#videoReceivers.get(slot)?.close();
    this.#videoReceivers.delete(slot);
  }

  #createAudioSender(output: AudioOutput): AudioSender | undefined {
    const codec = this.#port.sendCodec(RECEIVER.microphone);
    this.#audioSenderCodec = codec && codecKey(codec);
    if (!codec || !isSupportedAudioCodec(codec)) {
      this.#logger.warn("bot audio cannot be sent: no usable audio codec was negotiated");
      return undefined;
    }
    return new AudioSender({
      codec,
      preferredRate: output.preferredRate,
      bitrate: output.bitrate,
      maxQueuedMs: output.maxQueuedMs,
      live: output.live,
      autoSilence: output.autoSilence,
      mixer: output.mixer,
      onPlaying: output.onPlaying,
      send: (packet) => this.#port.sendRtp(RECEIVER.microphone, packet),
    });
  }

  #createVideoSender(output: VideoOutput): VideoSender | undefined {
    const codec = this.#port.sendCodec(RECEIVER.camera);
    if (!codec || videoCodecName(codec.mimeType) !== "VP8") {
      this.#logger.warn("bot video cannot be sent: it needs VP8 on the camera transceiver", { codec: codec?.mimeType });
      return undefined;
    }
    const sender = new VideoSender({
      framerate: output.framerate,
      bitrate: output.bitrate,
      live: output.live,
      width: output.width,
      height: output.height,
      logger: this.#logger,
      send: (packet) => this.#port.sendRtp(RECEIVER.camera, packet),
    });
    // A client that lost bot video asks for a keyframe with RTCP PLI. One subscription for the sender's whole life:
    // the port outlives peer connections, so restarts add none.
    this.#offKeyframeRequests = this.#port.onKeyframeRequest(RECEIVER.camera, () => sender.requestKeyframe());
    return sender;
  }

  /** A re-offer or restart was negotiated: new streams start from new receivers; senders follow codec changes. */
  #renegotiated(): void {
    if (this.#closed) return;
    this.#closeReceivers();
    const audioCodec = this.#port.sendCodec(RECEIVER.microphone);
    if (this.#audioOutput && this.#started && (audioCodec && codecKey(audioCodec)) !== this.#audioSenderCodec) {
      this.#logger.debug("bot audio codec changed", { from: this.#audioSenderCodec, to: audioCodec?.mimeType });
      const previous = this.#audioSender;
      this.#audioSender = this.#createAudioSender(this.#audioOutput);
      if (previous?.playing) this.#audioOutput.onPlaying(false);
      previous?.close();
      this.#audioSender?.start();
    }
    if (this.#videoSender && videoCodecName(this.#port.sendCodec(RECEIVER.camera)?.mimeType ?? "") !== "VP8") {
      this.#logger.warn("bot video stops: the new negotiation has no VP8 on the camera transceiver");
      this.#closeVideoSender();
    }
    // The new stream's decoder on the client needs a keyframe to start from.
    this.#videoSender?.requestKeyframe();
  }

  #videoCodecs(slot: MediaSlot): Map<number, VideoCodecName> {
    let codecs = this.#videoCodecsBySlot.get(slot);
    if (!codecs) this.#videoCodecsBySlot.set(slot, (codecs = videoCodecs(this.#port.receiveCodecs(slot))));
    return codecs;
  }

  #closeReceivers(): void {
    this.#audioReceiver?.close();
    this.#audioReceiver = undefined;
    for (const receiver of this.#videoReceivers.values()) receiver.close();
    this.#videoReceivers.clear();
    this.#videoCodecsBySlot.clear();
  }

  #closeVideoSender(): void {
    this.#offKeyframeRequests?.();
    this.#offKeyframeRequests = undefined;
    this.#videoSender?.close();
    this.#videoSender = undefined;
  }
}

function videoCodecs(codecs: NegotiatedCodec[]): Map<number, VideoCodecName> {
  const byPayloadType = new Map<number, VideoCodecName>();
  for (const codec of codecs) {
    const name = videoCodecName(codec.mimeType);
    if (name) byPayloadType.set(codec.payloadType, name);
  }
  return byPayloadType;
}

/** What makes two negotiated audio codecs interchangeable for an encoder. */
function codecKey(codec: NegotiatedCodec): string {
  return `${codec.mimeType.toLowerCase()}/${codec.clockRate}/${codec.channels ?? 1}/${codec.payloadType}`;
}
