/**
 * The media of one connection, on behalf of a transport: receivers for the client's microphone, camera and screen,
 * and senders for bot audio and video. Only what the transport asked for is ever attached, so a negotiated camera
 * that nobody reads costs nothing. After a `restart_pc` the peer connection is new, so everything re-attaches to it.
 */
import { type MediaStreamTrack, RtpHeader, RtpPacket } from "werift";
import type { Logger } from "../log/logger.ts";
import { isSupportedAudioCodec } from "../media/audioCodecs.ts";
import { AudioReceiver } from "../media/audioReceiver.ts";
import { AudioSender } from "../media/audioSender.ts";
import { type VideoCodecName, videoCodecName, VideoReceiver } from "../media/videoReceiver.ts";
import { VideoSender } from "../media/videoSender.ts";
import type { RgbImage } from "../media/yuv.ts";
import type { ImageSource } from "../pipeline/frames.ts";
import { RECEIVER, type SmallWebRTCConnection } from "../webrtc/connection.ts";

export interface AudioInput {
  sampleRate: number;
  onFrame: (pcm: Int16Array) => void;
}

export interface VideoInput {
  onImage: (image: RgbImage, source: ImageSource) => void;
}

export interface AudioOutput {
  preferredRate: number;
  bitrate: number;
  maxQueuedMs: number;
  live: boolean;
  onPlaying: (playing: boolean) => void;
}

export interface VideoOutput {
  framerate: number;
  bitrate: number;
}

interface OutgoingRtp {
  payload: Uint8Array;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
}

interface Attached {
  track: MediaStreamTrack;
  detach(): void;
}

const VIDEO_SOURCES: Partial<Record<number, ImageSource>> = {
  [RECEIVER.camera]: "camera",
  [RECEIVER.screen]: "screenVideo",
};

export class MediaSession {
  readonly #connection: SmallWebRTCConnection;
  readonly #logger: Logger;
  #audioInput?: AudioInput;
  #videoInput?: VideoInput;
  #audioOutput?: AudioOutput;
  #videoOutput?: VideoOutput;
  #attached = new Map<number, Attached>();
  #videoReceivers = new Map<number, VideoReceiver>();
  #audioSender?: AudioSender;
  #videoSender?: VideoSender;
  #offs: (() => void)[] = [];
  #started = false;
  #closed = false;

  constructor(connection: SmallWebRTCConnection, logger: Logger) {
    this.#connection = connection;
    this.#logger = logger;
    this.#offs.push(
      connection.on("trackStarted", (track, index) => this.#attach(index, track)),
      connection.on("trackStatus", (index, enabled) => {
        // Frames were skipped while the track was off: video must restart from a keyframe.
        if (enabled) this.#videoReceivers.get(index)?.resync();
      }),
      connection.on("pcIdChanged", () => this.#reattach()),
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
    this.#audioInput = input;
    this.#attachExisting(RECEIVER.microphone);
  }

  /** Starts delivering the client's camera and screen pictures as RGB. */
  receiveVideo(input: VideoInput): void {
    this.#videoInput = input;
    this.#attachExisting(RECEIVER.camera);
    this.#attachExisting(RECEIVER.screen);
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
    this.#closed = true;
    for (const off of this.#offs.splice(0)) off();
    for (const index of [...this.#attached.keys()]) this.#detach(index);
    this.#audioSender?.close();
    this.#videoSender?.close();
    this.#audioSender = undefined;
    this.#videoSender = undefined;
  }

  #attachExisting(index: number): void {
    const track = this.#connection.track(index);
    if (track) this.#attach(index, track);
  }

  #attach(index: number, track: MediaStreamTrack): void {
    if (this.#closed || this.#attached.get(index)?.track === track) return;
    const attached = index === RECEIVER.microphone ? this.#attachAudio(track) : this.#attachVideo(index, track);
    if (!attached) return;
    this.#detach(index);
    this.#attached.set(index, attached);
  }

  #detach(index: number): void {
    this.#attached.get(index)?.detach();
    this.#attached.delete(index);
  }

  #attachAudio(track: MediaStreamTrack): Attached | undefined {
    const input = this.#audioInput;
    const transceiver = this.#connection.transceiver(RECEIVER.microphone);
    if (!input || !transceiver) return undefined;
    const codecs = transceiver.codecs.filter(isSupportedAudioCodec);
    if (codecs.length === 0) {
      this.#logger.warn("client audio uses no codec we can decode", { codecs: transceiver.codecs.map((c) => c.mimeType) });
      return undefined;
    }
    const receiver = new AudioReceiver({ codecs, outputRate: input.sampleRate, onFrame: input.onFrame });
    const subscription = track.onReceiveRtp.subscribe((rtp) => {
      // A muted microphone (trackStatus) is not even decoded.
      if (this.#connection.isTrackEnabled(RECEIVER.microphone)) receiver.receive(rtp);
    });
    return {
      track,
      detach: () => {
        subscription.unSubscribe();
        receiver.close();
      },
    };
  }

  #attachVideo(index: number, track: MediaStreamTrack): Attached | undefined {
    const input = this.#videoInput;
    const source = VIDEO_SOURCES[index];
    const transceiver = this.#connection.transceiver(index);
    if (!input || !source || !transceiver) return undefined;
    const codecs = new Map<number, VideoCodecName>();
    for (const codec of transceiver.codecs) {
      const name = videoCodecName(codec.mimeType);
      if (name) codecs.set(codec.payloadType, name);
    }
    let receiver: VideoReceiver | undefined;
    let ssrc = 0;
    const subscription = track.onReceiveRtp.subscribe((rtp) => {
      if (!this.#connection.isTrackEnabled(index)) return;
      const codec = codecs.get(rtp.header.payloadType);
      if (!codec) return;
      ssrc = rtp.header.ssrc;
      receiver ??= this.#createVideoReceiver(index, codec, (image) => input.onImage(image, source), () => ssrc);
      receiver.receive(rtp);
    });
    return {
      track,
      detach: () => {
        subscription.unSubscribe();
        receiver?.close();
        this.#videoReceivers.delete(index);
      },
    };
  }

  #createVideoReceiver(index: number, codec: VideoCodecName, onImage: (image: RgbImage) => void, ssrc: () => number) {
    const receiver = new VideoReceiver({
      codec,
      onImage,
      logger: this.#logger,
      requestKeyframe: () => {
        const transceiver = this.#connection.transceiver(index);
        if (ssrc() && transceiver) transceiver.receiver.sendRtcpPLI(ssrc()).catch(() => {});
      },
    });
    this.#videoReceivers.set(index, receiver);
    return receiver;
  }

  #createAudioSender(output: AudioOutput): AudioSender | undefined {
    const codec = this.#connection.transceiver(RECEIVER.microphone)?.sender.codec;
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
      onPlaying: output.onPlaying,
      send: (packet) => this.#sendRtp(RECEIVER.microphone, packet),
    });
  }

  #createVideoSender(output: VideoOutput): VideoSender | undefined {
    const transceiver = this.#connection.transceiver(RECEIVER.camera);
    if (!transceiver || videoCodecName(transceiver.sender.codec?.mimeType ?? "") !== "VP8") {
      this.#logger.warn("bot video cannot be sent: it needs VP8 on the camera transceiver", {
        codec: transceiver?.sender.codec?.mimeType,
      });
      return undefined;
    }
    const sender = new VideoSender({
      framerate: output.framerate,
      bitrate: output.bitrate,
      logger: this.#logger,
      send: (packet) => this.#sendRtp(RECEIVER.camera, packet),
    });
    this.#watchKeyframeRequests();
    return sender;
  }

  /** A client that lost bot video asks for a keyframe with RTCP PLI; the current camera transceiver receives it. */
  #watchKeyframeRequests(): void {
    const transceiver = this.#connection.transceiver(RECEIVER.camera);
    if (!transceiver) return;
    const subscription = transceiver.sender.onPictureLossIndication.subscribe(() => this.#videoSender?.requestKeyframe());
    this.#offs.push(() => subscription.unSubscribe());
  }

  /** Sends through whatever transceiver currently holds the slot, so a restarted peer connection just works. */
  #sendRtp(index: number, packet: OutgoingRtp): void {
    const transceiver = this.#connection.transceiver(index);
    if (!transceiver || this.#connection.isClosed) return;
    const header = new RtpHeader({ sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, marker: packet.marker });
    const payload = Buffer.from(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength);
    transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch((error: unknown) => {
      this.#logger.debug("RTP send failed", { error });
    });
  }

  #reattach(): void {
    for (const index of [...this.#attached.keys()]) this.#detach(index);
    for (const index of [RECEIVER.microphone, RECEIVER.camera, RECEIVER.screen]) this.#attachExisting(index);
    if (this.#videoSender) this.#watchKeyframeRequests();
  }
}
