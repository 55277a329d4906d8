// Records what the official client does on the wire, by wrapping the page's fetch and
// RTCPeerConnection before the client is built. Tests assert on this journal, not on logs.
import type { AudioFrameArrival, BodySummary, DataChannelMessage, HttpExchange, Json, PeerConnectionLog,
  SdpSummary } from "../support/probeTypes.ts";

export interface Journal {
  /** performance.now() of the probe's connect call; every atMs is relative to it. */
  origin: number;
  requests: HttpExchange[];
  sent: DataChannelMessage[];
  received: DataChannelMessage[];
  pingsSent: number;
  peerConnections: PeerConnectionLog[];
  audioFramesIn: AudioFrameArrival[];
  errors: string[];
}

export const journal: Journal = emptyJournal();

export function resetJournal(): void {
  Object.assign(journal, emptyJournal());
}

let recordingAudioFrames = false;

/**
 * For peer connections created from now on: receive bot audio through an encoded transform that notes each frame's
 * arrival and size and passes it on unchanged. Such connections carry every sender's frames through one too, as
 * Chromium sends nothing on a sender whose encoded streams are never read.
 */
export function recordAudioFrames(on: boolean): void {
  recordingAudioFrames = on;
}

interface EncodedStreams {
  readable: ReadableStream<{ data: ArrayBuffer }>;
  writable: WritableStream<{ data: ArrayBuffer }>;
}

function encodedStreams(endpoint: RTCRtpSender | RTCRtpReceiver): EncodedStreams {
  return (endpoint as unknown as { createEncodedStreams(): EncodedStreams }).createEncodedStreams();
}

function passThrough(endpoint: RTCRtpSender | RTCRtpReceiver, onFrame?: (bytes: number, rtpTimestamp: number) => void): void {
  const { readable, writable } = encodedStreams(endpoint);
  const transform = new TransformStream<{ data: ArrayBuffer; timestamp: number }, { data: ArrayBuffer }>({
    transform(frame, controller) {
      onFrame?.(frame.data.byteLength, frame.timestamp);
      controller.enqueue(frame);
    },
  });
  void readable.pipeThrough(transform).pipeTo(writable).catch(() => {});
}

export function elapsed(): number {
  return Math.round(performance.now() - journal.origin);
}

/** Call once, before any client code runs. `onRemoteTrack` sees every track any peer receives. */
export function instrument(onRemoteTrack: (track: MediaStreamTrack) => void): void {
  recordFetches();
  recordPeerConnections(onRemoteTrack);
  window.addEventListener("error", (event) => journal.errors.push(`page error: ${event.message}`));
  window.addEventListener("unhandledrejection", (event) =>
    journal.errors.push(`unhandled rejection: ${describe(event.reason)}`));
}

export function describe(error: unknown): string {
  if (error instanceof Response) return `HTTP ${error.status} from ${error.url}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export function summarizeSdp(sdp: string): SdpSummary {
  const media: string[] = [];
  const candidates: string[] = [];
  let current: { kind: string; mid: string; direction: string; codecs: string[] } | null = null;
  const flush = () => {
    if (!current) return;
    const { kind, mid, direction, codecs } = current;
    media.push([kind, `mid=${mid}`, direction, codecs.join(",")].filter(Boolean).join(" "));
  };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith("m=")) {
      flush();
      current = { kind: line.slice(2).split(" ")[0] ?? "", mid: "?", direction: "sendrecv", codecs: [] };
    } else if (current && line.startsWith("a=mid:")) current.mid = line.slice(6);
    else if (current && /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) current.direction = line.slice(2);
    else if (current && line.startsWith("a=rtpmap:")) current.codecs.push(line.split(" ")[1]?.split("/")[0] ?? "");
    else if (line.startsWith("a=candidate:")) candidates.push(describeCandidate(line.slice(2)));
  }
  flush();
  return { length: sdp.length, media, candidates };
}

/** "candidate:1 1 udp 2122 127.0.0.1 5000 typ host ..." -> "udp 127.0.0.1:5000 host". */
function describeCandidate(candidate: string): string {
  const f = candidate.split(" ");
  return `${f[2]?.toLowerCase()} ${f[4]}:${f[5]} ${f[7]}`;
}

function recordFetches(): void {
  const realFetch = globalThis.fetch.bind(globalThis);
  const recordedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    // Build the Request ourselves and send that one: reading a body means cloning, and a Request
    // built from another one would take over (and use up) the original's body stream.
    const request = new Request(input, init);
    const exchange: HttpExchange = { atMs: elapsed(), method: request.method, url: request.url, body: null,
      status: null, response: null };
    journal.requests.push(exchange);
    const body = request.clone().text().then((text) => (exchange.body = summarizeBody(text)));
    try {
      const response = await realFetch(request);
      exchange.status = response.status;
      void response.clone().text().then((text) => (exchange.response = summarizeBody(text)), () => {});
      await body;
      return response;
    } catch (error) {
      exchange.error = describe(error);
      throw error;
    }
  };
  globalThis.fetch = recordedFetch as typeof fetch;
}

function summarizeBody(text: string): BodySummary {
  if (!text) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { value: parsed as Json };
  const summary: { [key: string]: Json | SdpSummary } = { ...(parsed as { [key: string]: Json }) };
  if (typeof summary.sdp === "string") summary.sdp = summarizeSdp(summary.sdp);
  return summary;
}

function recordPeerConnections(onRemoteTrack: (track: MediaStreamTrack) => void): void {
  const Real = globalThis.RTCPeerConnection;
  // The transport does `new RTCPeerConnection()` at call time, so replacing the global is enough.
  globalThis.RTCPeerConnection = class RecordedPeerConnection extends Real {
    readonly #encoded = recordingAudioFrames;

    constructor(config?: RTCConfiguration) {
      const encoded = recordingAudioFrames;
      super(encoded ? ({ ...config, encodedInsertableStreams: true } as RTCConfiguration) : config);
      const log: PeerConnectionLog = { atMs: elapsed(), connectionStates: [], iceConnectionStates: [] };
      journal.peerConnections.push(log);
      this.addEventListener("connectionstatechange", () => log.connectionStates.push(this.connectionState));
      this.addEventListener("iceconnectionstatechange", () => log.iceConnectionStates.push(this.iceConnectionState));
      this.addEventListener("track", (event) => {
        if (encoded) {
          const record = event.track.kind === "audio"
            ? (bytes: number, rtpTimestamp: number) =>
              journal.audioFramesIn.push({ at: performance.timeOrigin + performance.now(), bytes, rtpTimestamp })
            : undefined;
          passThrough(event.receiver, record);
        }
        onRemoteTrack(event.track);
      });
    }

    override addTransceiver(trackOrKind: MediaStreamTrack | string, init?: RTCRtpTransceiverInit): RTCRtpTransceiver {
      const transceiver = super.addTransceiver(trackOrKind, init);
      if (this.#encoded) passThrough(transceiver.sender);
      return transceiver;
    }

    override addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): RTCRtpSender {
      const sender = super.addTrack(track, ...streams);
      if (this.#encoded) passThrough(sender);
      return sender;
    }

    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init);
      recordChannel(channel);
      return channel;
    }
  };
}

function recordChannel(channel: RTCDataChannel): void {
  channel.addEventListener("message", (event: MessageEvent) => journal.received.push(message(event.data)));
  const send = channel.send.bind(channel) as (data: string) => void;
  channel.send = ((data: string) => {
    // The client's once-a-second "ping: <ms>" keep-alive would drown everything else.
    if (typeof data === "string" && data.startsWith("ping")) journal.pingsSent++;
    else journal.sent.push(message(data));
    send(data);
  }) as RTCDataChannel["send"];
}

function message(data: unknown): DataChannelMessage {
  const when = { atMs: elapsed(), at: Date.now() };
  if (typeof data !== "string") return { ...when, data: "<binary>" };
  try {
    return { ...when, data: JSON.parse(data) as Json };
  } catch {
    return { ...when, data };
  }
}

function emptyJournal(): Journal {
  return { origin: performance.now(), requests: [], sent: [], received: [], pingsSent: 0, peerConnections: [],
    audioFramesIn: [], errors: [] };
}
