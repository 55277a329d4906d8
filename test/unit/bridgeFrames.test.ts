/**
 * The bridge's wire format, checked with the ecosystem's own code: what we send decodes with the official client's
 * ProtobufFrameSerializer (@pipecat-ai/websocket-transport), and what it produces decodes with ours. The frames it
 * cannot produce (what only a bot sends) are checked against bytes written out from the schema by hand.
 */
import { describe, expect, test } from "bun:test";
import { ProtobufFrameSerializer } from "@pipecat-ai/websocket-transport";
import { decodeFrame, encodeAudio, encodeMessage, FrameDecodeError } from "../../lib/bridge/frameCodec.ts";

const official = new ProtobufFrameSerializer();
/** The official deserializer takes what a browser WebSocket delivers by default: a Blob. */
const officialDecode = (bytes: Uint8Array<ArrayBuffer>) => official.deserialize(new Blob([bytes]));
const utf8 = (text: string) => [...new TextEncoder().encode(text)];

function ramp(length: number, channels = 1): Int16Array {
  return Int16Array.from({ length: length * channels }, (_, i) => ((i * 7919) % 65536) - 32768);
}

describe("what the bridge sends, read by the official serializer", () => {
  test("audio frames of any size keep every sample", async () => {
    for (const samples of [1, 160, 320, 480, 960]) {
      const pcm = ramp(samples);
      const decoded = await officialDecode(encodeAudio(pcm, 16000, 1));
      expect(decoded.type).toBe("audio");
      expect(Array.from((decoded as { audio: Int16Array }).audio)).toEqual(Array.from(pcm));
    }
  });

  test("audio that is a view into a larger buffer is sent from its own offset", async () => {
    const whole = ramp(400);
    const view = whole.subarray(80, 400);
    const decoded = (await officialDecode(encodeAudio(view, 16000))) as { audio: Int16Array };
    expect(Array.from(decoded.audio)).toEqual(Array.from(view));
  });

  test("messages keep their JSON, RTVI or not, non-ASCII included", async () => {
    const messages = [
      { label: "rtvi-ai", type: "client-ready", id: "c1", data: { version: "2.1.0", about: { library: "x" } } },
      { label: "rtvi-ai", type: "client-message", id: "m2", data: { t: "ask", d: { text: "Zoë 🙂 \"quoted\"\n" } } },
      { anything: [1, 2.5, null, true] },
    ];
    for (const message of messages) {
      expect(await officialDecode(encodeMessage(message))).toEqual({ type: "message", message: message as never });
    }
  });
});

describe("what the official serializer produces, read by the bridge", () => {
  test("audio: samples, rate and channels (its frames also carry a name)", () => {
    for (const [rate, channels] of [[16000, 1], [24000, 1], [48000, 2], [8000, 1]]) {
      const pcm = ramp(rate / 50, channels);
      const frame = decodeFrame(official.serializeAudio(pcm.slice().buffer, rate, channels));
      expect(frame).toEqual({ kind: "audio", audio: pcm, sampleRate: rate, numChannels: channels });
    }
  });

  test("messages", () => {
    const message = { label: "rtvi-ai", type: "bot-ready", id: "c1", data: { version: "2.1.0" } };
    expect(decodeFrame(official.serializeMessage(message as never))).toEqual({ kind: "message", message });
  });
});

describe("bot-only frames, from bytes written out from the schema", () => {
  test("InterruptionFrame, with and without id and name", () => {
    expect(decodeFrame(Uint8Array.of(0x2a, 0x00))).toEqual({ kind: "interruption" });
    const named = Uint8Array.of(0x2a, 0x0d, 0x08, 0x07, 0x12, 0x09, ...utf8("interrupt"));
    expect(decodeFrame(named)).toEqual({ kind: "interruption" });
  });

  test("TextFrame and TranscriptionFrame", () => {
    expect(decodeFrame(Uint8Array.of(0x0a, 0x0b, 0x08, 0x01, 0x12, 0x00, 0x1a, 0x05, ...utf8("hello")))).toEqual({
      kind: "text",
      text: "hello",
    });
    const transcription = [0x1a, 3, ...utf8("hé"), 0x22, 2, ...utf8("u1"), 0x2a, 3, ...utf8("t:0")];
    expect(decodeFrame(Uint8Array.of(0x1a, transcription.length, ...transcription))).toEqual({
      kind: "transcription",
      text: "hé",
      userId: "u1",
      timestamp: "t:0",
    });
  });

  test("an AudioRawFrame with pts set (the optional field 6), at an odd offset in the message", () => {
    // id 300 (two varint bytes) puts the samples at an odd offset: they are copied, not viewed.
    const audio = [0x08, 0xac, 0x02, 0x1a, 0x04, 0x01, 0x00, 0xff, 0xff, 0x20, 0xc0, 0xbb, 0x01, 0x28, 0x01];
    audio.push(0x30, 0x05);
    expect(decodeFrame(Uint8Array.of(0x12, audio.length, ...audio))).toEqual({
      kind: "audio",
      audio: Int16Array.of(1, -1),
      sampleRate: 24000,
      numChannels: 1,
    });
  });
});

describe("what the bridge refuses, with a reason", () => {
  const cases: [string, number[], RegExp][] = [
    ["garbage", [0xff, 0xff, 0xff], /not a Pipecat frame/],
    ["an empty frame", [], /none of text, audio/],
    ["audio without a rate", [0x12, 0x06, 0x1a, 0x02, 0x01, 0x00, 0x28, 0x01], /without sample_rate/],
    ["audio without channels", [0x12, 0x07, 0x1a, 0x02, 0x01, 0x00, 0x20, 0x80, 0x7d], /without num_channels/],
    ["half a sample", [0x12, 0x08, 0x1a, 0x01, 0x01, 0x20, 0x80, 0x7d, 0x28, 0x01], /not whole s16 samples/],
    ["a message that is not JSON", [0x22, 0x05, 0x0a, 0x03, ...utf8("{x:")], /not JSON/],
  ];
  for (const [what, bytes, reason] of cases) {
    test(what, () => {
      expect(() => decodeFrame(Uint8Array.from(bytes))).toThrow(FrameDecodeError);
      expect(() => decodeFrame(Uint8Array.from(bytes))).toThrow(reason);
    });
  }
});
