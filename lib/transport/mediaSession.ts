/**
 * The media of one connection, on behalf of a transport: receivers for the client's microphone, camera and screen,
 * and senders for bot audio and video, all through the connection's media port (lib/webrtc/mediaPort.ts). Only what
 * the transport asked for is ever attached, so a negotiated camera that nobody reads costs nothing.
 *
 * Receivers are made on the first packet, from the codecs negotiated at that time. When a re-offer or a `restart_pc`
 * is negotiated they are dropped (the next packet makes new ones), and a sender whose codec changed is replaced.
 */
import type { Logger } from "../log/logger.ts";
import { isSupportedAudioCodec } from "../media/audioCodecs.ts";
import { AudioReceiver } from "../media/audioReceiver.ts";
import { AudioSender } from "../media/audioSender.ts";
import { type VideoCodecName, videoCodecName, VideoReceiver } from "../media/videoReceiver.ts";
import { VideoSender } from "../media/videoSender.ts";
import type { ImageFormat, RawImage } from "../media/yuv.ts";
import type { ImageSource } from "../pipeline/frames.ts";
import type { SmallWebRTCConnection } from "../webrtc/connection.ts";
import { type MediaPort, type MediaSlot, type NegotiatedCodec, RECEIVER } from "../webrtc/mediaPort.ts";

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

export class MediaSession {
  readonly #connection: SmallWebRTCConnection;
  readonly #port: MediaPort;
  readonly #logger: Logger;
  #audioOutput?: AudioOutput;
  #videoOutput?: VideoOutput;
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
    for (const slot of [RECEIVER.camera, RECEIVER.screen] as const) {
      const source = VIDEO_SOURCES[slot]!;
      this.#offs.push(
        this.#port.onRtp(slot, (rtp) => {
          if (!this.#connection.isTrackEnabled(slot)) return;
          // Only the negotiated video codecs go to the decoder (not RTX, RED or FEC payload types).
          const codec = this.#videoCodecs(slot).get(rtp.header.payloadType);
          if (!codec) return;
          let receiver = this.#videoReceivers.get(slot);
          receiver ??= this.#createVideoReceiver(slot, codec, input.format, (image) => input.onImage(image, source));
          receiver.receive(rtp);
        }),
      );
    }
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

  #createVideoReceiver(
    slot: MediaSlot,
    codec: VideoCodecName,
    format: ImageFormat,
    onImage: (image: RawImage) => void,
  ): VideoReceiver {
    const receiver = new VideoReceiver({
      codec,
      format,
      onImage,
      logger: this.#logger,
      requestKeyframe: () => this.#port.requestKeyframe(slot),
    });
    this.#videoReceivers.set(slot, receiver);
    return receiver;
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
