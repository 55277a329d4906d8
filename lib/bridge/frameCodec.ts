/**
 * Pipecat WebSocket frames to and from bytes (frameSchema.ts). The bridge sends client audio and messages; it reads
 * what a bot sends: audio, messages, interruptions, and bare text and transcription frames.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FrameSchema } from "./frameSchema.ts";

export type BotFrame =
  | { kind: "audio"; audio: Int16Array; sampleRate: number; numChannels: number }
  | { kind: "message"; message: unknown }
  | { kind: "text"; text: string }
  | { kind: "transcription"; text: string; userId: string; timestamp: string }
  | { kind: "interruption" };

/** A WebSocket message that is not a frame the bridge can use. */
export class FrameDecodeError extends Error {
  override readonly name = "FrameDecodeError";
}

/** An AudioRawFrame: `pcm` is signed 16-bit, interleaved when `numChannels` > 1. */
export function encodeAudio(pcm: Int16Array, sampleRate: number, numChannels = 1): Uint8Array<ArrayBuffer> {
  // Typed arrays use the platform's byte order, and every platform the server ships for is little-endian (s16le).
  const audio = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const frame = create(FrameSchema, { frame: { case: "audio", value: { audio, sampleRate, numChannels } } });
  return toBinary(FrameSchema, frame);
}

/** A MessageFrame carrying `message` as JSON text. */
export function encodeMessage(message: unknown): Uint8Array<ArrayBuffer> {
  const data = JSON.stringify(message);
  return toBinary(FrameSchema, create(FrameSchema, { frame: { case: "message", value: { data } } }));
}

/** Reads one WebSocket binary message; throws FrameDecodeError when it is not a usable frame. */
export function decodeFrame(bytes: Uint8Array): BotFrame {
  let frame;
  try {
    frame = fromBinary(FrameSchema, bytes).frame;
  } catch (error) {
    throw new FrameDecodeError(`not a Pipecat frame (${(error as Error).message})`);
  }
  switch (frame.case) {
    case "audio": {
      const { audio, sampleRate, numChannels } = frame.value;
      if (sampleRate === 0) throw new FrameDecodeError("audio frame without sample_rate");
      if (numChannels === 0) throw new FrameDecodeError("audio frame without num_channels");
      if (audio.byteLength % (2 * numChannels) !== 0) {
        throw new FrameDecodeError(
          `audio frame of ${audio.byteLength} bytes is not whole s16 samples of ${numChannels} channels`,
        );
      }
      // A view of the message when the samples sit at an even offset in it; a copy otherwise (Int16Array needs one).
      const aligned = audio.byteOffset % 2 === 0 ? audio : audio.slice();
      return {
        kind: "audio",
        audio: new Int16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2),
        sampleRate,
        numChannels,
      };
    }
    case "message":
      try {
        return { kind: "message", message: JSON.parse(frame.value.data) };
      } catch {
        throw new FrameDecodeError("message frame whose data is not JSON");
      }
    case "text":
      return { kind: "text", text: frame.value.text };
    case "transcription": {
      const { text, userId, timestamp } = frame.value;
      return { kind: "transcription", text, userId, timestamp };
    }
    case "interruption":
      return { kind: "interruption" };
    default:
      throw new FrameDecodeError("frame holds none of text, audio, transcription, message or interruption");
  }
}
