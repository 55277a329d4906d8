/**
 * G.711 µ-law (PCMU) and A-law (PCMA), ITU-T G.711. Clients may offer only these (the Pipecat web client has a
 * codec selector), and they cost next to nothing: decoding is a table lookup, encoding a few shifts.
 */

const BIAS = 0x84;
const CLIP = 32635;

export function linearToMulaw(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(sample), CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function mulawToLinear(code: number): number {
  const value = ~code & 0xff;
  const magnitude = ((((value & 0x0f) << 3) + BIAS) << ((value & 0x70) >> 4)) - BIAS;
  return value & 0x80 ? -magnitude : magnitude;
}

export function linearToAlaw(sample: number): number {
  const sign = sample >= 0 ? 0x80 : 0;
  const magnitude = Math.min(sample >= 0 ? sample : -sample - 1, 32767) >> 3;
  let code: number;
  if (magnitude < 32) {
    code = magnitude >> 1;
  } else {
    let exponent = 1;
    while (magnitude >> (exponent + 5) > 0 && exponent < 7) exponent++;
    code = (exponent << 4) | ((magnitude >> exponent) & 0x0f);
  }
  return (code | sign) ^ 0x55;
}

export function alawToLinear(code: number): number {
  const value = code ^ 0x55;
  const exponent = (value & 0x70) >> 4;
  let magnitude = ((value & 0x0f) << 4) + 8;
  if (exponent > 0) magnitude = (magnitude + 0x100) << (exponent - 1);
  return value & 0x80 ? magnitude : -magnitude;
}

const MULAW_TABLE = Int16Array.from({ length: 256 }, (_, code) => mulawToLinear(code));
const ALAW_TABLE = Int16Array.from({ length: 256 }, (_, code) => alawToLinear(code));

export type G711Law = "PCMU" | "PCMA";

export function decodeG711(law: G711Law, payload: Uint8Array): Int16Array {
  const table = law === "PCMU" ? MULAW_TABLE : ALAW_TABLE;
  const pcm = new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) pcm[i] = table[payload[i]];
  return pcm;
}

export function encodeG711(law: G711Law, pcm: Int16Array): Uint8Array {
  const encode = law === "PCMU" ? linearToMulaw : linearToAlaw;
  const payload = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) payload[i] = encode(pcm[i]);
  return payload;
}
