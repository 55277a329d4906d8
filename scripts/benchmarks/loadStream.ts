/**
 * What each load session sends and how its echo is judged. The stream is espeak speech Opus-encoded once (the
 * clients only loop pre-encoded packets, so they cost far less than the server), with a marker once a second: 200 ms
 * of silence, then 60 ms of a loud 1 kHz tone. The echo latency is the time from sending the tone's first packet to
 * receiving the first echoed packet that decodes to that tone.
 */
import { OpusDecoder, OpusEncoder } from "../../lib/media/opus.ts";
import type { RtpPacket } from "werift";
import { readWav } from "../support/audio.ts";
import { speechWav } from "../support/media.ts";

const FRAME = 960;
export const PACKETS_PER_SECOND = 50;
const SILENCE_FRAMES = 10;
const TONE_FRAMES = 3;
/** Packet index, within each second, of the marker's first tone packet. */
export const MARKER_AT = PACKETS_PER_SECOND - TONE_FRAMES;
/** An output packet arriving this much later than the server's best-case schedule counts as late. */
export const LATE_MS = 50;

export async function loadPackets(): Promise<Uint8Array[]> {
  const speech = readWav(await speechWav()).pcm;
  const tone = Int16Array.from({ length: FRAME }, (_, i) => Math.round(16000 * Math.sin((2 * Math.PI * 1000 * i) / 48000)));
  const silence = new Int16Array(FRAME);
  const encoder = new OpusEncoder({ sampleRate: 48000, channels: 1 });
  const packets: Uint8Array[] = [];
  for (let i = 0, s = 0; s + FRAME <= speech.length; i++) {
    const slot = i % PACKETS_PER_SECOND;
    let pcm: Int16Array;
    if (slot >= MARKER_AT) pcm = tone;
    else if (slot >= MARKER_AT - SILENCE_FRAMES) pcm = silence;
    else pcm = speech.subarray(s, (s += FRAME));
    packets.push(encoder.encode(pcm));
  }
  encoder.free();
  // Whole seconds only, so markers keep their place as the stream loops.
  return packets.slice(0, packets.length - (packets.length % PACKETS_PER_SECOND));
}

export interface OutputQuality {
  expected: number;
  late: number;
  missing: number;
}

/**
 * Judges one session's bot audio arriving in [from, to): packets expected every 20 ms, missing ones, and late ones
 * (more than LATE_MS behind the schedule set by the session's earliest-arriving packet, from RTP timestamps).
 */
export function outputQuality(packets: RtpPacket[], arrivals: number[], from: number, to: number): OutputQuality {
  const expected = Math.round((to - from) / 20);
  let received = 0;
  let offset = Infinity;
  const inWindow: number[] = [];
  for (let i = 0; i < packets.length; i++) {
    if (arrivals[i] < from || arrivals[i] >= to) continue;
    received++;
    inWindow.push(i);
    offset = Math.min(offset, arrivals[i] - mediaMs(packets, i));
  }
  let late = 0;
  for (const i of inWindow) if (arrivals[i] - mediaMs(packets, i) - offset > LATE_MS) late++;
  return { expected, late, missing: Math.max(0, expected - received) };
}

/** A packet's media time in ms, unwrapped from the first packet's 32-bit RTP timestamp. */
function mediaMs(packets: RtpPacket[], i: number): number {
  const delta = (packets[i].header.timestamp - packets[0].header.timestamp) >>> 0;
  return delta / 48;
}

/**
 * Echo latencies (ms) of the markers found in a session's bot audio: each decoded packet that is mostly the 1 kHz
 * tone and follows a packet that is not is matched with the last marker sent before it arrived.
 */
export function markerLatencies(packets: RtpPacket[], arrivals: number[], markersSentAt: number[], from: number, to: number): number[] {
  const decoder = new OpusDecoder({ sampleRate: 16000, channels: 1 });
  const latencies: number[] = [];
  let previousTone = false;
  try {
    for (let i = 0; i < packets.length; i++) {
      const tone = isTone(decoder.decode(packets[i].payload));
      if (tone && !previousTone && arrivals[i] >= from && arrivals[i] < to) {
        const sent = lastBefore(markersSentAt, arrivals[i]);
        if (sent !== undefined) latencies.push(arrivals[i] - sent);
      }
      previousTone = tone;
    }
  } finally {
    decoder.free();
  }
  return latencies;
}

function lastBefore(sorted: number[], at: number): number | undefined {
  let found: number | undefined;
  for (const t of sorted) {
    if (t > at) break;
    found = t;
  }
  return found;
}

/** Loud, and most of its energy at 1 kHz (Goertzel at 16 kHz). */
function isTone(pcm: Int16Array): boolean {
  if (pcm.length === 0) return false;
  const coefficient = 2 * Math.cos((2 * Math.PI * 1000) / 16000);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const sample of pcm) {
    const s0 = sample + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += sample * sample;
  }
  const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  const toneEnergy = (2 * power) / pcm.length;
  return energy / pcm.length > 2000 ** 2 && toneEnergy / energy > 0.6;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
