/** WAV files: the container speech-to-text APIs take for raw PCM, and the one background sounds come in. */

const HEADER_BYTES = 44;

/** A canonical 44-byte-header WAV (RIFF, PCM format 1) of little-endian 16-bit samples. */
export function encodeWav(samples: Int16Array, sampleRate: number, numChannels = 1): Uint8Array<ArrayBuffer> {
  const dataBytes = samples.length * 2;
  const wav = new Uint8Array(HEADER_BYTES + dataBytes);
  const view = new DataView(wav.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) wav[offset + i] = text.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, HEADER_BYTES - 8 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, numChannels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * numChannels * 2, true);
  view.setUint16(32, numChannels * 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) view.setInt16(HEADER_BYTES + i * 2, samples[i], true);
  return wav;
}

/** A WAV file this decoder cannot read, with what is wrong with it. */
export class WavError extends Error {
  override name = "WavError";
}

export interface DecodedWav {
  /** Mono: several channels are averaged. */
  samples: Int16Array;
  sampleRate: number;
}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;
/** A data chunk size that streaming writers leave in place when they cannot seek back: the data runs to the end. */
const UNKNOWN_SIZE = 0xffffffff;

/**
 * Decodes a RIFF WAVE file of 8, 16, 24 or 32-bit integer PCM or 32-bit float samples (also in an extensible
 * header), at any rate and channel count, to mono 16-bit PCM. Anything else is a WavError saying what is wrong.
 */
export function decodeWav(bytes: Uint8Array): DecodedWav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ascii = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || ascii(0) !== "RIFF" || ascii(8) !== "WAVE") {
    throw new WavError("not a WAV file (no RIFF/WAVE header)");
  }
  let format: { tag: number; channels: number; sampleRate: number; bits: number } | undefined;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const id = ascii(offset);
    const declared = view.getUint32(offset + 4, true);
    const start = offset + 8;
    if (id === "fmt ") {
      if (declared < 16 || start + 16 > bytes.length) throw new WavError("its fmt chunk is truncated");
      let tag = view.getUint16(start, true);
      // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID.
      if (tag === EXTENSIBLE && declared >= 26 && start + 26 <= bytes.length) tag = view.getUint16(start + 24, true);
      format = {
        tag,
        channels: view.getUint16(start + 2, true),
        sampleRate: view.getUint32(start + 4, true),
        bits: view.getUint16(start + 14, true),
      };
    } else if (id === "data") {
      if (!format) throw new WavError("its data chunk comes before any fmt chunk");
      const size = declared === UNKNOWN_SIZE ? bytes.length - start : declared;
      if (start + size > bytes.length) {
        throw new WavError(`its data chunk says ${size} bytes but only ${bytes.length - start} follow (truncated)`);
      }
      return { samples: monoSamples(view, start, size, format), sampleRate: format.sampleRate };
    }
    // Chunks are padded to an even size.
    offset = start + declared + (declared % 2);
  }
  throw new WavError(format ? "it has no data chunk" : "it has no fmt chunk");
}

function monoSamples(
  view: DataView,
  start: number,
  size: number,
  { tag, channels, sampleRate, bits }: { tag: number; channels: number; sampleRate: number; bits: number },
): Int16Array {
  const read = sampleReader(tag, bits);
  if (!read) throw new WavError(`its samples are ${formatName(tag, bits)}; use 8/16/24/32-bit PCM or 32-bit float`);
  if (channels === 0) throw new WavError("its fmt chunk says 0 channels");
  if (sampleRate < 1000 || sampleRate > 384_000) throw new WavError(`its sample rate ${sampleRate} Hz is out of range`);
  const bytesPerSample = bits / 8;
  const frames = Math.floor(size / (bytesPerSample * channels));
  if (frames === 0) throw new WavError("it holds no samples");
  // The common case is the host's own layout (every platform the binary ships for is little-endian): one copy.
  if (tag === PCM && bits === 16 && channels === 1) {
    return new Int16Array(view.buffer.slice(view.byteOffset + start, view.byteOffset + start + frames * 2));
  }
  const samples = new Int16Array(frames);
  for (let frame = 0, offset = start; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, offset += bytesPerSample) sum += read(view, offset);
    samples[frame] = Math.max(-32768, Math.min(32767, Math.round(sum / channels)));
  }
  return samples;
}

/** Reads one sample at `offset`, scaled to the 16-bit range. */
type SampleReader = (view: DataView, offset: number) => number;

function sampleReader(tag: number, bits: number): SampleReader | undefined {
  if (tag === IEEE_FLOAT && bits === 32) return (view, offset) => view.getFloat32(offset, true) * 32768;
  if (tag !== PCM) return undefined;
  switch (bits) {
    case 8:
      return (view, offset) => (view.getUint8(offset) - 128) * 256;
    case 16:
      return (view, offset) => view.getInt16(offset, true);
    case 24:
      return (view, offset) => ((view.getInt8(offset + 2) << 16) | view.getUint16(offset, true)) / 256;
    case 32:
      return (view, offset) => view.getInt32(offset, true) / 65536;
  }
  return undefined;
}

function formatName(tag: number, bits: number): string {
  if (tag === PCM) return `${bits}-bit PCM`;
  if (tag === IEEE_FLOAT) return `${bits}-bit float`;
  return `compressed (format 0x${tag.toString(16).padStart(4, "0")})`;
}
