/**
 * Audio codecs by negotiated RTP codec: Opus (what everyone sends) and G.711 (when a client offers only that).
 * Decoders produce mono PCM at the pipeline's rate directly where the codec can (libopus decodes natively at 8, 12,
 * 16, 24 and 48 kHz), so the common path needs no resampler at all.
 */
import { codecTimer } from "./codecTime.ts";
import { encoderComplexity } from "./encoderComplexity.ts";
import { decodeG711, encodeG711, type G711Law } from "./g711.ts";
import { OpusDecoder, OpusEncoder, type OpusSampleRate } from "./opus.ts";
import { Resampler } from "./resampler.ts";

export interface RtpAudioCodec {
  mimeType: string;
  clockRate: number;
  channels?: number;
}

export interface AudioDecoder {
  /** Rate of the PCM this decoder returns. */
  readonly sampleRate: number;
  decode(payload: Uint8Array): Int16Array;
  /** Audio to play in place of `samples` lost samples (packet-loss concealment). */
  conceal(samples: number): Int16Array;
  /** The lost frame before `next`, rebuilt from redundancy in `next` when the codec has it, else concealed. */
  recover(next: Uint8Array, samples: number): Int16Array;
  free(): void;
}

export interface AudioEncoder {
  /** Rate of the PCM `encode` expects. */
  readonly sampleRate: number;
  /** Samples per encoded frame (20 ms). */
  readonly frameSamples: number;
  /** RTP clock ticks per frame. */
  readonly rtpTimestampStep: number;
  encode(pcm: Int16Array): Uint8Array;
  free(): void;
}

export const FRAME_MS = 20;
const OPUS_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];
const OPUS_RTP_CLOCK = 48000;

export function codecName(codec: RtpAudioCodec): string {
  return codec.mimeType.split("/")[1]?.toUpperCase() ?? "";
}

export function isSupportedAudioCodec(codec: RtpAudioCodec): boolean {
  return ["OPUS", "PCMU", "PCMA"].includes(codecName(codec));
}

/** A decoder producing mono PCM at `outputRate`. */
export function createAudioDecoder(codec: RtpAudioCodec, outputRate: number): AudioDecoder {
  const name = codecName(codec);
  if (name === "OPUS") {
    const native = OPUS_RATES.includes(outputRate);
    const decoder = new OpusDecoder({ sampleRate: (native ? outputRate : 48000) as OpusSampleRate, channels: 1 });
    const time = codecTimer("opus", "decode");
    const opus: AudioDecoder = {
      sampleRate: decoder.sampleRate,
      decode(payload) {
        const start = performance.now();
        try {
          return decoder.decode(payload);
        } finally {
          time.addSince(start);
        }
      },
      conceal(samples) {
        const start = performance.now();
        try {
          return decoder.conceal(samples);
        } finally {
          time.addSince(start);
        }
      },
      recover(next, samples) {
        const start = performance.now();
        try {
          return decoder.decodeFec(next, samples);
        } finally {
          time.addSince(start);
        }
      },
      free: () => decoder.free(),
    };
    return native ? opus : resampled(opus, outputRate);
  }
  if (name === "PCMU" || name === "PCMA") {
    const g711: AudioDecoder = {
      sampleRate: 8000,
      decode: (payload) => decodeG711(name as G711Law, payload),
      conceal: (samples) => new Int16Array(samples),
      recover: (_next, samples) => new Int16Array(samples),
      free: () => {},
    };
    return outputRate === 8000 ? g711 : resampled(g711, outputRate);
  }
  throw new Error(`no decoder for ${codec.mimeType}`);
}

/**
 * An encoder for `codec`; Opus takes PCM at `preferredRate` when that is an Opus rate, else 48 kHz, and follows the
 * process's load-dependent complexity (encoderComplexity.ts).
 */
export function createAudioEncoder(codec: RtpAudioCodec, preferredRate: number, bitrate = 32_000): AudioEncoder {
  const name = codecName(codec);
  if (name === "OPUS") {
    const sampleRate = (OPUS_RATES.includes(preferredRate) ? preferredRate : 48000) as OpusSampleRate;
    let complexity = encoderComplexity.current;
    const encoder = new OpusEncoder({ sampleRate, channels: 1, application: "voip", bitrate, complexity });
    const time = codecTimer("opus", "encode");
    return {
      sampleRate,
      frameSamples: (sampleRate * FRAME_MS) / 1000,
      rtpTimestampStep: (OPUS_RTP_CLOCK * FRAME_MS) / 1000,
      encode: (pcm) => {
        if (complexity !== encoderComplexity.current) encoder.setComplexity((complexity = encoderComplexity.current));
        const start = performance.now();
        try {
          return encoder.encode(pcm);
        } finally {
          time.addSince(start);
        }
      },
      free: () => encoder.free(),
    };
  }
  if (name === "PCMU" || name === "PCMA") {
    return {
      sampleRate: 8000,
      frameSamples: 160,
      rtpTimestampStep: 160,
      encode: (pcm) => encodeG711(name as G711Law, pcm),
      free: () => {},
    };
  }
  throw new Error(`no encoder for ${codec.mimeType}`);
}

/** Samples the codec's RTP clock counts for `samples` samples at `sampleRate`. */
export function rtpClockRate(codec: RtpAudioCodec): number {
  return codecName(codec) === "OPUS" ? OPUS_RTP_CLOCK : codec.clockRate;
}

function resampled(inner: AudioDecoder, outputRate: number): AudioDecoder {
  const resampler = new Resampler({ inputRate: inner.sampleRate, outputRate, channels: 1 });
  const scale = inner.sampleRate / outputRate;
  return {
    sampleRate: outputRate,
    decode: (payload) => resampler.process(inner.decode(payload)),
    conceal: (samples) => resampler.process(inner.conceal(Math.round(samples * scale))),
    recover: (next, samples) => resampler.process(inner.recover(next, Math.round(samples * scale))),
    free: () => {
      resampler.free();
      inner.free();
    },
  };
}
