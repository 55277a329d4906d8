/**
 * What a transport carries, in Pipecat's TransportParams terms (camelCase) and with Pipecat's defaults. Every kind of
 * media is off unless asked for: media nobody consumes is never decoded or queued.
 */
import type { AudioFilter } from "../audio/filters/audioFilter.ts";
import type { VADAnalyzer } from "../audio/vad/vadAnalyzer.ts";
import type { AudioMixer } from "../media/audioMixer.ts";
import { videoSizeProblem } from "../media/videoSender.ts";
import type { ImageFormat } from "../media/yuv.ts";

export interface TransportParams {
  audioInEnabled?: boolean;
  /** Rate of InputAudioRawFrame; default: the pipeline's input rate (16 kHz). */
  audioInSampleRate?: number;
  /**
   * Client audio goes down the pipeline as InputAudioRawFrame (the default, as in Pipecat). False keeps it in the
   * input: it still feeds the VAD analyzer, so a bot gets user speaking frames and interruptions without the audio.
   */
  audioInPassthrough?: boolean;
  /**
   * Client audio flows from the pipeline's start (the default, as in Pipecat). False holds it back until the bot calls
   * `transport.input().startAudioInStreaming()`: until then it is neither decoded nor given to the VAD.
   */
  audioInStreamOnStart?: boolean;
  /**
   * Runs on client audio before the VAD and the bot, such as `new RNNoiseFilter()` (noise suppression). One per
   * transport: it is started with the pipeline and stopped with it. FilterEnableFrame turns it off and on mid-call.
   */
  audioInFilter?: AudioFilter;
  audioOutEnabled?: boolean;
  /** Default rate assumed for output audio; frames carry their own rate and are resampled as needed. */
  audioOutSampleRate?: number;
  /** Output audio is handed to the sender in chunks of this many 10 ms (default 4 = 40 ms). */
  audioOut10msChunks?: number;
  /** Opus bitrate of bot audio (default 32 kbps). */
  audioOutBitrate?: number;
  /**
   * Bot audio is a live stream (an echo, a relay) rather than generated speech: the sender keeps latency low by
   * skipping quiet frames when jitter has built up a queue, instead of holding the producer back. Default false.
   */
  audioOutLive?: boolean;
  /**
   * Seconds of silence sent after the bot's last audio when an EndFrame ends the session, before the connection
   * closes, so the client's jitter buffer plays out the tail instead of cutting it. Default 2, as in Pipecat; 0 ends
   * as soon as the audio has been sent.
   */
  audioOutEndSilenceSecs?: number;
  /**
   * While the bot has nothing to say, the track carries silence (the default, as in Pipecat), so the client's jitter
   * buffer never starves. False sends no packets then: each utterance starts a new talk spurt (RTP marker bit).
   */
  audioOutAutoSilence?: boolean;
  /**
   * A sound mixed under the bot's audio, e.g. `await WavLoopMixer.fromFile("office.wav")`: it plays from the start of
   * the call, through the bot's silences and interruptions, and MixerUpdateSettingsFrame and MixerEnableFrame change
   * it mid-call. One mixer per transport: it keeps its place in the sound. Default none.
   */
  audioOutMixer?: AudioMixer;
  videoInEnabled?: boolean;
  /**
   * Pixel layout of UserImageRawFrame: "RGB" (the default, Pipecat's packed RGB24) or "I420" (planar 4:2:0, as the
   * codec decodes it). A bot that hands pictures on unchanged, or works on brightness only, saves converting every
   * picture to RGB and, when it sends them as bot video, back.
   */
  videoInFormat?: ImageFormat;
  videoOutEnabled?: boolean;
  /**
   * Size of bot video: pictures of another size are scaled to it (stretched, as Pipecat does). Unset (the default),
   * each picture goes out at its own size, so a bot that mirrors a camera sends it as it came. Pipecat's default is
   * 1024x768, because its video track needs a size before the first picture; this transport does not.
   */
  videoOutWidth?: number;
  videoOutHeight?: number;
  /** Frame clock of bot video (default 30). */
  videoOutFramerate?: number;
  /**
   * Bot video is a live stream (Pipecat's `video_out_is_live`): each OutputImageRawFrame is sent once, one per frame
   * tick, and nothing is repeated; a bot that outruns the frame rate loses its oldest waiting pictures (counted in
   * `transport.media.videoSender.stats` and /metrics), and an interruption drops those waiting. False (the default):
   * the latest picture is on show: a new one goes out on the next tick (one replaced before then is skipped), and an
   * unchanged one is re-sent once a second, not on every tick as in Pipecat, since each repeat is a full VP8 encode.
   */
  videoOutIsLive?: boolean;
  /** VP8 bitrate of bot video (default 800 kbps). */
  videoOutBitrate?: number;
  /** Runs on input audio and emits user started/stopped speaking frames. */
  vadAnalyzer?: VADAnalyzer;
}

/** Params without a default: absent means "follow the pipeline" or "follow each picture". */
type Optional =
  | "vadAnalyzer"
  | "audioInFilter"
  | "audioInSampleRate"
  | "audioOutSampleRate"
  | "audioOutMixer"
  | "videoOutWidth"
  | "videoOutHeight";

export type ResolvedTransportParams = Required<Omit<TransportParams, Optional>> & Pick<TransportParams, Optional>;

export function resolveTransportParams(params: TransportParams): ResolvedTransportParams {
  const problem = videoSizeProblem(params.videoOutWidth, params.videoOutHeight);
  if (problem) throw new RangeError(`TransportParams videoOutWidth/videoOutHeight: ${problem}`);
  const endSilence = params.audioOutEndSilenceSecs;
  if (endSilence !== undefined && !(Number.isFinite(endSilence) && endSilence >= 0)) {
    throw new RangeError(`TransportParams audioOutEndSilenceSecs: must be a number of seconds >= 0, got ${endSilence}`);
  }
  return {
    audioInEnabled: false,
    audioInPassthrough: true,
    audioInStreamOnStart: true,
    audioOutEnabled: false,
    audioOut10msChunks: 4,
    audioOutBitrate: 32_000,
    audioOutLive: false,
    audioOutEndSilenceSecs: 2,
    audioOutAutoSilence: true,
    videoInEnabled: false,
    videoInFormat: "RGB",
    videoOutEnabled: false,
    videoOutFramerate: 30,
    videoOutIsLive: false,
    videoOutBitrate: 800_000,
    ...params,
  };
}
