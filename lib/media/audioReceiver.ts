/**
 * Client audio in: RTP packets -> reorder buffer -> decoder (with concealment of lost packets) -> mono PCM at the
 * pipeline rate, handed out in exact 20 ms frames whatever packet duration the client uses.
 */
import { type AudioDecoder, codecName, createAudioDecoder, FRAME_MS, type RtpAudioCodec } from "./audioCodecs.ts";
import { type JitterEvent, JitterBuffer } from "./jitterBuffer.ts";

export interface RtpAudioPacket {
  header: { sequenceNumber: number; timestamp: number; payloadType: number };
  payload: Uint8Array;
}

interface Sequenced {
  sequenceNumber: number;
  timestamp: number;
  payload: Uint8Array;
  codec: RtpAudioCodec & { payloadType: number };
}

export interface AudioReceiverOptions {
  /** The negotiated codecs of the transceiver; packets pick theirs by payload type. */
  codecs: (RtpAudioCodec & { payloadType: number })[];
  outputRate: number;
  onFrame: (pcm: Int16Array) => void;
  now?: () => number;
  maxWaitMs?: number;
}

export interface AudioReceiverStats {
  packets: number;
  lost: number;
  concealedMs: number;
  undecodable: number;
}

/** What is pending when packets hold whole frames, as they mostly do: one empty array rather than one per packet. */
const NO_SAMPLES = new Int16Array(0);

export class AudioReceiver {
  readonly stats: AudioReceiverStats = { packets: 0, lost: 0, concealedMs: 0, undecodable: 0 };
  readonly #options: AudioReceiverOptions;
  readonly #now: () => number;
  readonly #jitter: JitterBuffer<Sequenced>;
  readonly #frameSamples: number;
  #decoder?: AudioDecoder;
  #decoderCodec?: string;
  /** Samples of the last decoded packet: what a lost packet is assumed to have held. */
  #lastPacketSamples: number;
  #pending = NO_SAMPLES;

  constructor(options: AudioReceiverOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#jitter = new JitterBuffer({ maxWaitMs: options.maxWaitMs ?? 60 });
    this.#frameSamples = (options.outputRate * FRAME_MS) / 1000;
    this.#lastPacketSamples = this.#frameSamples;
  }

  receive(rtp: RtpAudioPacket): void {
    const codec = this.#options.codecs.find((c) => c.payloadType === rtp.header.payloadType);
    if (!codec || rtp.payload.length === 0) {
      this.stats.undecodable++;
      return;
    }
    this.stats.packets++;
    const packet: Sequenced = {
      sequenceNumber: rtp.header.sequenceNumber,
      timestamp: rtp.header.timestamp,
      payload: rtp.payload,
      codec,
    };
    for (const event of this.#jitter.push(packet, this.#now())) this.#play(event);
  }

  close(): void {
    this.#decoder?.free();
    this.#decoder = undefined;
    this.#jitter.reset();
  }

  #play(event: JitterEvent<Sequenced>): void {
    const decoder = this.#decoderFor(event.kind === "packet" ? event.packet.codec : event.next.codec);
    try {
      if (event.kind === "lost") {
        this.stats.lost += event.count;
        const samples = this.#lastPacketSamples;
        for (let i = 0; i < event.count; i++) {
          // The last lost packet can be rebuilt from FEC data in the one after it; earlier ones only concealed.
          const pcm = i === event.count - 1 ? decoder.recover(event.next.payload, samples) : decoder.conceal(samples);
          this.stats.concealedMs += (pcm.length / this.#options.outputRate) * 1000;
          this.#emit(pcm);
        }
        return;
      }
      const pcm = decoder.decode(event.packet.payload);
      if (pcm.length > 0) this.#lastPacketSamples = pcm.length;
      this.#emit(pcm);
    } catch {
      // A corrupt packet costs its own frame only; the next one decodes normally.
      this.stats.undecodable++;
    }
  }

  #decoderFor(codec: RtpAudioCodec): AudioDecoder {
    const name = codecName(codec);
    if (!this.#decoder || this.#decoderCodec !== name) {
      this.#decoder?.free();
      this.#decoder = createAudioDecoder(codec, this.#options.outputRate);
      this.#decoderCodec = name;
    }
    return this.#decoder;
  }

  /** Re-frames decoded audio into exact 20 ms frames. */
  #emit(pcm: Int16Array): void {
    let buffer = pcm;
    if (this.#pending.length > 0) {
      buffer = new Int16Array(this.#pending.length + pcm.length);
      buffer.set(this.#pending);
      buffer.set(pcm, this.#pending.length);
    }
    let offset = 0;
    for (; offset + this.#frameSamples <= buffer.length; offset += this.#frameSamples) {
      this.#options.onFrame(buffer.subarray(offset, offset + this.#frameSamples));
    }
    this.#pending = offset === buffer.length ? NO_SAMPLES : buffer.slice(offset);
  }
}
