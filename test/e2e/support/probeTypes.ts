// The contract between the probe page (runs in Chromium) and the test side (runs in Bun).
// Everything here crosses page.evaluate(), so it is plain JSON.

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface ProbeOptions {
  /** Origin of the server under test, e.g. "http://127.0.0.1:7860". */
  baseUrl: string;
  /** "offer": connect() straight to offerPath. "start": startBotAndConnect() via startPath, then
   * /sessions/:id/api/offer as derived by the transport. Default "offer". */
  mode?: "offer" | "start";
  /** Default "/api/offer". */
  offerPath?: string;
  /** Default "/start". */
  startPath?: string;
  /** Offer mode: sent as `requestData` in the offer body. Start mode: the /start body. */
  requestData?: Json;
  /** Extra request headers for the offer (and start) requests. */
  headers?: Record<string, string>;
  iceServers?: RTCIceServer[];
  waitForICEGathering?: boolean;
  /** Restrict the offer to one codec, e.g. "opus", "PCMU", "VP8", "H264" (the transport's filter). */
  audioCodec?: string;
  videoCodec?: string;
  /** Open the mic (default true). */
  mic?: boolean;
  /** Open the camera (default false). */
  cam?: boolean;
  /** Default: echo cancellation, noise suppression and AGC off, so received levels are predictable. */
  audioConstraints?: MediaTrackConstraints;
  /** Give up waiting for bot-ready after this many ms (default 15000). */
  connectTimeoutMs?: number;
  /** Sent right after bot-ready: an RTVI client-message, or with `request` a client request
   * whose server-response ends up in `clientResponse`. */
  sendClientMessage?: { t: string; d?: Json; request?: boolean; timeoutMs?: number };
  /** Disconnect when finishing (default true); false leaves the call up for the test to end. */
  disconnectAtEnd?: boolean;
  /** Record every encoded bot audio frame as it arrives, before the jitter buffer (see `audioFramesIn`). */
  recordAudioFrames?: boolean;
  /** Record the bot's audio as Chromium plays it (see `probeControl.botAudio`). */
  recordBotAudio?: boolean;
}

/** One encoded bot audio frame as the browser received it. */
export interface AudioFrameArrival {
  /** Wall-clock time of arrival (ms since the epoch, as Date.now() counts), comparable across processes. */
  at: number;
  /** Size of the encoded frame: Opus speech is tens of bytes, silence a few. */
  bytes: number;
  /** The frame's RTP timestamp (48 kHz for Opus): when the server's pacing sent it, relative to the others. */
  rtpTimestamp: number;
}

export interface SdpSummary {
  length: number;
  /** One entry per m-line, e.g. "audio mid=0 sendrecv opus,red,G722,...". */
  media: string[];
  /** "udp 127.0.0.1:53094 host", one per a=candidate line. */
  candidates: string[];
}

/** A JSON body with its `sdp` replaced by a summary; other values are kept as sent. */
export type BodySummary = { [key: string]: Json | SdpSummary } | string | null;

export interface HttpExchange {
  atMs: number;
  method: string;
  url: string;
  body: BodySummary;
  status: number | null;
  response: BodySummary;
  error?: string;
}

export interface DataChannelMessage {
  atMs: number;
  /** Wall-clock time (ms since the epoch), comparable with AudioFrameArrival.at. */
  at: number;
  /** Parsed JSON when it parses, else the raw text. */
  data: Json;
}

export interface MediaStats {
  audioIn: { packetsReceived: number; bytesReceived: number; totalAudioEnergy: number; audioLevel: number;
    totalSamplesReceived: number; codec: string | null };
  audioOut: { packetsSent: number; codec: string | null };
  videoIn: { packetsReceived: number; framesDecoded: number; frameWidth: number; frameHeight: number;
    codec: string | null };
  videoOut: { packetsSent: number; framesEncoded: number; codec: string | null };
  /** "udp 127.0.0.1:40000 host <-> 127.0.0.1:50000 host" ("relay/tcp" for a relay candidate reached over TCP), or null
   * before ICE connects. */
  selectedPair: string | null;
  dataChannel: { messagesSent: number; messagesReceived: number };
}

export interface PeerConnectionLog {
  atMs: number;
  connectionStates: string[];
  iceConnectionStates: string[];
}

export interface ProbeResult {
  /** The transport reached "connected" (HTTP answer applied, data channel open). */
  connected: boolean;
  botReady: boolean;
  msToConnected: number | null;
  msToBotReady: number | null;
  botReadyData: Json | null;
  /** Every transport state change, in order. */
  transportStates: string[];
  /** The client disconnected before the probe finished (peerLeft, fatal error, failed retries). */
  endedEarly: boolean;
  /** Stats of the transport's current peer connection (the last one after a restart). */
  stats: MediaStats | null;
  /** One entry per RTCPeerConnection the page created; restarts add more. */
  peerConnections: PeerConnectionLog[];
  /** What the client reported through onTrackStarted (local ones flagged); bot media is played from
   * the peer's own track events regardless. */
  tracksStarted: { atMs: number; kind: string; local: boolean }[];
  /** `type` of every RTVI message received (label "rtvi-ai"), in order. */
  rtviReceived: string[];
  /** Data channel traffic except the client's "ping: <ms>" keep-alives, which are only counted. */
  dataChannel: { sent: DataChannelMessage[]; received: DataChannelMessage[]; pingsSent: number };
  /** Every fetch() the page made: offers, PATCHes, /start. */
  requests: HttpExchange[];
  clientResponse: Json | null;
  /** With `recordAudioFrames`: every bot audio frame received, in order. */
  audioFramesIn: AudioFrameArrival[];
  errors: string[];
}

export interface DeviceSummary {
  deviceId: string;
  label: string;
}

export interface DeviceList {
  mics: DeviceSummary[];
  cams: DeviceSummary[];
  speakers: DeviceSummary[];
  /** What the client reports as selected; null when nothing is. */
  selected: { mic: DeviceSummary | null; cam: DeviceSummary | null; speaker: DeviceSummary | null };
}

/** Mid-call hooks for tests, on `window.probeControl`; use them between startProbe and finishProbe. */
export interface ProbeControl {
  /** The transport's state right now. */
  state(): string;
  /** The result so far, with fresh stats. */
  snapshot(): Promise<ProbeResult>;
  getStats(): Promise<MediaStats | null>;
  /** Ends the call from the test side; not counted as `endedEarly`. */
  disconnect(): Promise<void>;
  sendClientMessage(t: string, d?: Json): void;
  sendClientRequest(t: string, d?: Json, timeoutMs?: number): Promise<Json>;
  /** client-js `sendUIEvent`: an RTVI `ui-event`. */
  sendUIEvent(event: string, payload?: Json): void;
  /** client-js `startUISnapshotStream`: `ui-snapshot`s of the page's accessibility tree, the first one at once. */
  startUISnapshotStream(): void;
  /** client-js `sendDTMF` (keys 0-9, * and #). */
  sendDTMF(keys: string): void;
  /**
   * The bot's audio played so far (with `recordBotAudio`), as base64 of little-endian 16-bit mono PCM at 16 kHz;
   * "" before the bot's track arrived.
   */
  botAudio(): string;
  /** Writes a raw string onto the data channel, bypassing RTVI. */
  sendRaw(text: string): void;
  enableMic(enable: boolean): void;
  enableCam(enable: boolean): void;
  enableScreenShare(enable: boolean): void;
  /** Fake capture offers "Fake Default Audio Input" plus "Fake Audio Input 1" and "2". */
  devices(): Promise<DeviceList>;
  /** Resolves once the client reports `deviceId` as selected. */
  updateMic(deviceId: string): Promise<void>;
  updateCam(deviceId: string): Promise<void>;
  /** The transport's own reconnection: re-offer on the same peer, or (restartPc) a new peer. */
  reconnect(restartPc: boolean): Promise<void>;
}

export interface ProbeWindow {
  startProbe(options: ProbeOptions): Promise<ProbeResult>;
  finishProbe(): Promise<ProbeResult>;
  probeControl: ProbeControl;
}

declare global {
  interface Window extends ProbeWindow {}
}
