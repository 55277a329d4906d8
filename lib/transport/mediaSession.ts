/**
 * The media of one connection, on behalf of a transport: receivers for the client's microphone, camera and screen,
 * and senders for bot audio and video. Only what the transport asked for is ever attached, so a negotiated camera
 * that nobody reads costs nothing. After a `restart_pc` the peer connection is new, so everything re-attaches to it.
 */
import { RtpHeader, RtpPacket, type MediaStreamTrack, type RTCRtpTransceiver } from "werift";
import type { Logger } from "../log/logger.ts";
import { AudioReceiver } from "../media/audioReceiver.ts";
import { AudioSender, type OutgoingRtp } from "../media/audioSender.ts";
import { isSupportedAudioCodec } from "../media/audioCodecs.ts";
import { RECEIVER, type SmallWebRTCConnection } from "../webrtc/connection.ts";

export interface AudioInput {
  sampleRate: number;
  onFrame: (pcm: Int16Array) => void;
}

export interface AudioOutput {
  preferredRate: number;
  bitrate: number;
  maxQueuedMs: number;
  onPlaying: (playing: boolean) => void;
}

export class MediaSession {
  readonly #connection: SmallWebRTCConnection;
  readonly #logger: Logger;
  #audioInput?: AudioInput;
  #audioOutput?: AudioOutput;
  #receiver?: { receiver: AudioReceiver; track: MediaStreamTrack; unsubscribe: () => void };
  #sender?: AudioSender;
  #offs: (() => void)[] = [];
  #closed = false;

  constructor(connection: SmallWebRTCConnection, logger: Logger) {
    this.#connection = connection;
    this.#logger = logger;
    this.#offs.push(
      connection.on("trackStarted", (track, index) => {
        if (index === RECEIVER.microphone) this.#attachAudioInput(track);
      }),
      connection.on("pcIdChanged", () => this.#reattach()),
    );
  }

  /** Starts delivering client audio as mono PCM frames of 20 ms at `input.sampleRate`. */
  receiveAudio(input: AudioInput): void {
    this.#audioInput = input;
    const track = this.#connection.track(RECEIVER.microphone);
    if (track) this.#attachAudioInput(track);
  }

  /** Prepares bot audio; packets flow once `start()` is called on a connected peer. */
  sendAudio(output: AudioOutput): void {
    this.#audioOutput = output;
  }

  /** The client is connected: senders start their clocks. */
  start(): void {
    if (this.#closed) return;
    if (this.#audioOutput && !this.#sender) this.#sender = this.#createSender(this.#audioOutput);
    this.#sender?.start();
  }

  get audioSender(): AudioSender | undefined {
    return this.#sender;
  }

  close(): void {
    this.#closed = true;
    for (const off of this.#offs.splice(0)) off();
    this.#detachAudioInput();
    this.#sender?.close();
    this.#sender = undefined;
  }

  #attachAudioInput(track: MediaStreamTrack): void {
    const input = this.#audioInput;
    const transceiver = this.#connection.transceiver(RECEIVER.microphone);
    if (!input || !transceiver || this.#closed || this.#receiver?.track === track) return;
    this.#detachAudioInput();
    const codecs = transceiver.codecs.filter(isSupportedAudioCodec);
    if (codecs.length === 0) {
      this.#logger.warn("client audio uses no codec we can decode", { codecs: transceiver.codecs.map((c) => c.mimeType) });
      return;
    }
    const receiver = new AudioReceiver({ codecs, outputRate: input.sampleRate, onFrame: input.onFrame });
    const subscription = track.onReceiveRtp.subscribe((rtp) => {
      // A muted microphone (trackStatus) is not decoded at all.
      if (this.#connection.isTrackEnabled(RECEIVER.microphone)) receiver.receive(rtp);
    });
    this.#receiver = { receiver, track, unsubscribe: () => subscription.unSubscribe() };
  }

  #detachAudioInput(): void {
    this.#receiver?.unsubscribe();
    this.#receiver?.receiver.close();
    this.#receiver = undefined;
  }

  #createSender(output: AudioOutput): AudioSender | undefined {
    const transceiver = this.#connection.transceiver(RECEIVER.microphone);
    const codec = transceiver?.sender.codec;
    if (!transceiver || !codec || !isSupportedAudioCodec(codec)) {
      this.#logger.warn("bot audio cannot be sent: no usable audio codec was negotiated");
      return undefined;
    }
    return new AudioSender({
      codec,
      preferredRate: output.preferredRate,
      bitrate: output.bitrate,
      maxQueuedMs: output.maxQueuedMs,
      onPlaying: output.onPlaying,
      send: (packet) => this.#sendRtp(RECEIVER.microphone, packet),
    });
  }

  /** Sends through whatever transceiver currently holds the slot, so a restarted peer connection just works. */
  #sendRtp(index: number, packet: OutgoingRtp): void {
    const transceiver: RTCRtpTransceiver | undefined = this.#connection.transceiver(index);
    if (!transceiver || this.#connection.isClosed) return;
    const header = new RtpHeader({
      sequenceNumber: packet.sequenceNumber,
      timestamp: packet.timestamp,
      marker: packet.marker,
    });
    const payload = Buffer.from(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength);
    transceiver.sender.sendRtp(new RtpPacket(header, payload)).catch((error: unknown) => {
      this.#logger.debug("RTP send failed", { error });
    });
  }

  #reattach(): void {
    this.#detachAudioInput();
    const track = this.#connection.track(RECEIVER.microphone);
    if (track) this.#attachAudioInput(track);
  }
}
