/**
 * Frames: what flows through a pipeline. Names follow Pipecat's, so a Pipecat user recognises them.
 *
 * Three kinds, with Pipecat's semantics:
 * - SystemFrame: handled at once, never queued behind other frames, never discarded by an interruption.
 * - DataFrame: queued in order; an interruption discards the ones still waiting.
 * - ControlFrame: queued in order like data (EndFrame arrives after everything before it).
 */

import { checkMixerSettings, type MixerSettings } from "./mixerSettings.ts";

let nextFrameId = 0;

export abstract class Frame {
  readonly id = nextFrameId++;
  /** When the frame was made (performance.now(), ms): where latency measurements start. */
  readonly createdAt = performance.now();
  /** Presentation timestamp in nanoseconds, when the frame carries media time. */
  pts?: number;
  readonly metadata: Record<string, unknown> = {};

  get name(): string {
    return `${this.constructor.name}#${this.id}`;
  }
}

export abstract class SystemFrame extends Frame {}
export abstract class DataFrame extends Frame {}
export abstract class ControlFrame extends Frame {}

/** Frames that an interruption must not discard (Pipecat's UninterruptibleFrame mixin). */
export interface Uninterruptible {
  readonly uninterruptible: true;
}

export function isUninterruptible(frame: Frame): boolean {
  return (frame as Partial<Uninterruptible>).uninterruptible === true;
}

// ---- lifecycle ----

export interface StartParams {
  /** Sample rate of audio coming in from the transport (Pipecat's default: 16 kHz). */
  audioInSampleRate: number;
  /** Sample rate the output transport expects by default (Pipecat's default: 24 kHz). */
  audioOutSampleRate: number;
  allowInterruptions: boolean;
  enableMetrics: boolean;
}

/** The first frame: every processor sets itself up when it sees it. */
export class StartFrame extends SystemFrame {
  constructor(readonly params: StartParams) {
    super();
  }
}

/** Stop now, dropping whatever is queued. */
export class CancelFrame extends SystemFrame {
  constructor(readonly reason?: string) {
    super();
  }
}

/** Finish gracefully: processed after every frame queued before it, then the pipeline stops. */
export class EndFrame extends ControlFrame implements Uninterruptible {
  readonly uninterruptible = true;
  constructor(readonly reason?: string) {
    super();
  }
}

/** Pushed upstream by a processor to ask the task to end gracefully (the task then queues an EndFrame). */
export class EndTaskFrame extends SystemFrame {
  constructor(readonly reason?: string) {
    super();
  }
}

/** Pushed upstream by a processor to ask the task to cancel. */
export class CancelTaskFrame extends SystemFrame {
  constructor(readonly reason?: string) {
    super();
  }
}

/** An error, pushed upstream to the pipeline task. A fatal one ends the pipeline. */
export class ErrorFrame extends SystemFrame {
  constructor(
    readonly error: string,
    readonly fatal = false,
    readonly processor?: string,
  ) {
    super();
  }
}

// ---- interruptions and speaking ----

/** The user interrupted the bot: queued output is discarded and the bot stops talking. */
export class InterruptionFrame extends SystemFrame {}

export class UserStartedSpeakingFrame extends SystemFrame {}
export class UserStoppedSpeakingFrame extends SystemFrame {}
/** Raw VAD decisions; the `User*SpeakingFrame`s are the debounced turn events. */
export class VADUserStartedSpeakingFrame extends SystemFrame {}
export class VADUserStoppedSpeakingFrame extends SystemFrame {}
export class BotStartedSpeakingFrame extends SystemFrame {}
export class BotStoppedSpeakingFrame extends SystemFrame {}
/** Emitted periodically while bot audio is playing. */
export class BotSpeakingFrame extends SystemFrame {}

// ---- audio ----

interface AudioFields {
  /** Little-endian signed 16-bit PCM, interleaved when `numChannels` > 1. */
  audio: Int16Array;
  sampleRate: number;
  numChannels: number;
}

function audioDurationMs({ audio, sampleRate, numChannels }: AudioFields): number {
  return (audio.length / numChannels / sampleRate) * 1000;
}

/** Audio from the client, at the pipeline's input rate. */
export class InputAudioRawFrame extends SystemFrame implements AudioFields {
  constructor(
    readonly audio: Int16Array,
    readonly sampleRate: number,
    readonly numChannels = 1,
  ) {
    super();
  }
  get durationMs(): number {
    return audioDurationMs(this);
  }
}

/** Audio for the client, at any sample rate; the output transport resamples and encodes it. */
export class OutputAudioRawFrame extends DataFrame implements AudioFields {
  constructor(
    readonly audio: Int16Array,
    readonly sampleRate: number,
    readonly numChannels = 1,
  ) {
    super();
  }
  get durationMs(): number {
    return audioDurationMs(this);
  }
}

/** Synthesised speech; an OutputAudioRawFrame that TTS services produce. */
export class TTSAudioRawFrame extends OutputAudioRawFrame {}

/**
 * Changes the output's background sound (TransportParams audioOutMixer) from the next packet on. Uninterruptible,
 * unlike Pipecat's: an interruption silences the bot's speech, and a volume change queued behind it must still happen.
 */
export class MixerUpdateSettingsFrame extends ControlFrame implements Uninterruptible {
  readonly uninterruptible = true;
  /** Throws a RangeError when a setting is out of range, so a bad value fails where it is made. */
  constructor(readonly settings: MixerSettings) {
    super();
    checkMixerSettings(settings);
  }
}

/** Turns the output's background sound on or off (off, it pauses where it was). Uninterruptible, as above. */
export class MixerEnableFrame extends ControlFrame implements Uninterruptible {
  readonly uninterruptible = true;
  constructor(readonly enable: boolean) {
    super();
  }
}

/** Settings for the input transport's audio filter (TransportParams `audioInFilter`), queued in order with data. */
export abstract class FilterControlFrame extends ControlFrame {}

/** Turns the input transport's audio filter on or off mid-call (Pipecat's FilterEnableFrame). */
export class FilterEnableFrame extends FilterControlFrame {
  constructor(readonly enable: boolean) {
    super();
  }
}

// ---- video ----

export type ImageSource = "camera" | "screenVideo";

/**
 * Pixel layouts of image frames: "RGB" is packed RGB24 (`width * height * 3` bytes); "I420" is planar 4:2:0, the Y
 * plane then U and V at half the width and height rounded up (`width * height + 2 * ceil(width/2) * ceil(height/2)`).
 */
export type ImageFrameFormat = "RGB" | "I420";

/**
 * A picture from the client's camera or screen share, as TransportParams `videoInFormat` asks (default RGB). The
 * answer to a UserImageRequestFrame carries that request, and its text and appendToContext.
 */
export class UserImageRawFrame extends SystemFrame {
  constructor(
    readonly userId: string,
    readonly image: Uint8Array,
    readonly size: readonly [width: number, height: number],
    readonly transportSource: ImageSource = "camera",
    readonly format: ImageFrameFormat = "RGB",
    readonly request?: UserImageRequestFrame,
  ) {
    super();
  }

  get text(): string | undefined {
    return this.request?.text;
  }

  get appendToContext(): boolean | undefined {
    return this.request?.appendToContext;
  }
}

/** What a UserImageRequestFrame asks for, with Pipecat's fields in camelCase. */
export interface UserImageRequestInit {
  /** The user asked; a transport has one client, so it may be left out (Pipecat requires it). */
  userId?: string;
  /** Text that goes with the picture, such as the question a vision model is to answer about it. */
  text?: string;
  /** Whether the picture is to be added to the LLM context. */
  appendToContext?: boolean;
  /** Which video: "camera" (the default) or "screenVideo". */
  videoSource?: ImageSource;
  /** The function call that asked, when one did. */
  functionName?: string;
  toolCallId?: string;
  /** Anything the bot wants back with the answer, to match it to its request. */
  context?: unknown;
}

/**
 * Asks for one picture from the client's camera or screen share (Pipecat's UserImageRequestFrame). Push it upstream;
 * the input transport answers downstream with exactly one frame: a UserImageRawFrame whose `request` is this frame,
 * or, when no picture came within USER_IMAGE_REQUEST_TIMEOUT_MS, a UserImageUnavailableFrame. Without
 * `videoInEnabled` that source is decoded only while a request waits: from the keyframe asked for, one picture.
 */
export class UserImageRequestFrame extends SystemFrame {
  readonly userId?: string;
  readonly text?: string;
  readonly appendToContext?: boolean;
  readonly videoSource: ImageSource;
  readonly functionName?: string;
  readonly toolCallId?: string;
  readonly context?: unknown;

  constructor(init: UserImageRequestInit = {}) {
    super();
    const source = init.videoSource ?? "camera";
    if (source !== "camera" && source !== "screenVideo") {
      throw new RangeError(`UserImageRequestFrame videoSource: must be "camera" or "screenVideo", got ${JSON.stringify(source)}`);
    }
    this.userId = init.userId;
    this.text = init.text;
    this.appendToContext = init.appendToContext;
    this.videoSource = source;
    this.functionName = init.functionName;
    this.toolCallId = init.toolCallId;
    this.context = init.context;
  }
}

/** How long a UserImageRequestFrame waits for a picture: a keyframe asked for usually comes within 100-300 ms. */
export const USER_IMAGE_REQUEST_TIMEOUT_MS = 3000;

/**
 * Why a picture request got no picture: the client's offer has no such video ("notNegotiated", answered at once), no
 * picture came in time ("timeout": the source sends nothing, is turned off, or sent no keyframe), or the session
 * ended ("closed").
 */
export type UserImageUnavailableReason = "notNegotiated" | "timeout" | "closed";

/** The answer to a UserImageRequestFrame that could not be served; `message` says why in one line. */
export class UserImageUnavailableFrame extends SystemFrame {
  constructor(
    readonly request: UserImageRequestFrame,
    readonly reason: UserImageUnavailableReason,
    readonly message: string,
  ) {
    super();
  }
}

/** A picture to send to the client as bot video, RGB unless said otherwise. */
export class OutputImageRawFrame extends DataFrame {
  constructor(
    readonly image: Uint8Array,
    readonly size: readonly [width: number, height: number],
    readonly format: ImageFrameFormat = "RGB",
  ) {
    super();
  }
}

// ---- messages ----

/** A message from the client's data channel (any JSON that is not signalling). */
export class InputTransportMessageFrame extends SystemFrame {
  constructor(readonly message: unknown) {
    super();
  }
}

/** A message for the client, sent after the audio queued before it. */
export class OutputTransportMessageFrame extends DataFrame {
  constructor(readonly message: unknown) {
    super();
  }
}

/** A message for the client, sent at once. RTVI uses these. */
export class OutputTransportMessageUrgentFrame extends SystemFrame {
  constructor(readonly message: unknown) {
    super();
  }
}

// ---- text ----

export class TextFrame extends DataFrame {
  constructor(readonly text: string) {
    super();
  }
}

export class TranscriptionFrame extends TextFrame {
  constructor(
    text: string,
    readonly userId: string,
    readonly timestamp: string,
    readonly final = true,
  ) {
    super(text);
  }
}

// ---- conversation: LLM and TTS ----

/** One message of an LLM conversation, in the shape of OpenAI's chat completions API. */
export interface LLMMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A token (or a few) streamed by an LLM. `skipTts`: the reply is shown, not spoken (RTVI send-text without audio). */
export class LLMTextFrame extends TextFrame {
  constructor(
    text: string,
    readonly skipTts = false,
  ) {
    super(text);
  }
}

/** An LLM reply begins; its LLMTextFrames follow, then LLMFullResponseEndFrame. */
export class LLMFullResponseStartFrame extends ControlFrame {}

/** An LLM reply is complete (or was cut short by an error). */
export class LLMFullResponseEndFrame extends ControlFrame {}

/** Run the LLM on this context now. The user aggregator sends it when a user turn is complete. */
export class LLMContextFrame extends DataFrame {
  constructor(
    readonly messages: readonly LLMMessage[],
    /** Show the reply without speaking it. */
    readonly skipTts = false,
  ) {
    super();
  }
}

/** Add messages to the conversation, and run the LLM on it when `runLlm` (RTVI send-text and append-to-context). */
export class LLMMessagesAppendFrame extends DataFrame {
  constructor(
    readonly messages: readonly LLMMessage[],
    readonly runLlm = true,
    readonly skipTts = false,
  ) {
    super();
  }
}

/** Text the TTS service is about to speak (a sentence): captions, and what the context records as said. */
export class TTSTextFrame extends TextFrame {}

/** Speak this text as it is, with no LLM (a greeting). */
export class TTSSpeakFrame extends DataFrame {
  constructor(readonly text: string) {
    super();
  }
}

/** The TTS service starts speaking a reply; its audio and TTSTextFrames follow, then TTSStoppedFrame. */
export class TTSStartedFrame extends ControlFrame {}
export class TTSStoppedFrame extends ControlFrame {}

// ---- transport state ----

/** The client connected and media can flow. */
export class ClientConnectedFrame extends SystemFrame {}

/** Metrics measured by a processor (processing time, time to first byte, ...). */
export class MetricsFrame extends SystemFrame {
  constructor(readonly data: { processor: string; kind: "processing" | "ttfb"; valueSecs: number }[]) {
    super();
  }
}
