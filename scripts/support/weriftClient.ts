/**
 * A werift peer that behaves like Pipecat's JS client: audio sendrecv, camera sendrecv, a screen share (sendonly)
 * and a client-created data channel. Everything stays on 127.0.0.1.
 */
import {
  MediaStreamTrack,
  PictureLossIndication,
  type RTCDataChannel,
  RtcpPayloadSpecificFeedback,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  useH264,
  useOPUS,
  usePCMA,
  usePCMU,
  useVP8,
} from "werift";
import { OpusEncoder } from "../../lib/media/opus.ts";
import { peerConfig } from "../../lib/webrtc/peerConfig.ts";

export interface ClientOptions {
  /** Media sections to offer, in order (default: the JS client's audio, camera, screen). */
  media?: { kind: "audio" | "video"; direction: "sendrecv" | "sendonly" | "recvonly" }[];
  /** Label of the client's data channel; null opens none. */
  dataChannelLabel?: string | null;
  /** Video codecs to offer (default VP8 and H.264). */
  videoCodecs?: ("VP8" | "H264")[];
  /** Audio codecs to offer (default Opus, PCMU and PCMA). */
  audioCodecs?: ("OPUS" | "PCMU" | "PCMA")[];
  /** Addresses to gather on (default 127.0.0.1). */
  interfaces?: string[];
  /** Also offer active ICE-TCP candidates, as browsers do (they connect to the server's passive one). */
  iceTcp?: boolean;
  /**
   * Reach the server only through this TURN server (relay candidates alone; werift uses its first URL), trusting
   * `certificate` (PEM) for turns: URLs.
   */
  relay?: { urls: string[]; username: string; credential: string; certificate?: string };
}

export interface VideoRtp {
  payload: Uint8Array;
  timestamp: number;
  marker: boolean;
}

/** The client's two video tracks, named as the server's UserImageRawFrame names them. */
export type VideoTrackName = "camera" | "screenVideo";

export const BROWSER_MEDIA: NonNullable<ClientOptions["media"]> = [
  { kind: "audio", direction: "sendrecv" },
  { kind: "video", direction: "sendrecv" },
  { kind: "video", direction: "sendonly" },
];

export class TestClient {
  readonly pc: RTCPeerConnection;
  readonly channel?: RTCDataChannel;
  readonly received: unknown[] = [];
  /** When each of `received` arrived (performance.now()). */
  readonly receivedAt: number[] = [];
  /** Bot audio packets, as received (payload and RTP header). */
  readonly audioIn: RtpPacket[] = [];
  /** When each of `audioIn` arrived (performance.now()). */
  readonly audioInAt: number[] = [];
  /** Bot video packets (camera transceiver), as received. */
  readonly videoIn: RtpPacket[] = [];
  readonly #microphone = new MediaStreamTrack({ kind: "audio" });
  readonly #camera = new MediaStreamTrack({ kind: "video" });
  readonly #screen = new MediaStreamTrack({ kind: "video" });
  /** Keyframe requests (RTCP PLI) the server sent for the camera. */
  cameraKeyframeRequests = 0;
  /** Keyframe requests (RTCP PLI) the server sent for the screen share. */
  screenKeyframeRequests = 0;
  /** RTP sequence numbers of each video track, which are separate streams. */
  readonly #videoSequences: Record<VideoTrackName, number> = { camera: 0, screenVideo: 0 };
  /** Microphone RTP position, continued across sendAudio calls like one long stream. */
  #audioSequence = 0;
  readonly receivedText: string[] = [];
  #waiters: { predicate: (message: unknown) => boolean; resolve: (message: unknown) => void }[] = [];

  constructor(options: ClientOptions = {}) {
    this.pc = new RTCPeerConnection(clientPeerConfig(options));
    for (const [index, { kind, direction }] of (options.media ?? BROWSER_MEDIA).entries()) {
      // The first three sections carry real tracks, like a browser's microphone, camera and screen share.
      const track = index === 0 && kind === "audio"
        ? this.#microphone
        : index === 1 && kind === "video"
        ? this.#camera
        : index === 2 && kind === "video"
        ? this.#screen
        : undefined;
      const transceiver = this.pc.addTransceiver(track ?? kind, { direction });
      if (index === 0) {
        transceiver.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((rtp) => {
          this.audioIn.push(rtp);
          this.audioInAt.push(performance.now());
        }));
      } else if (index === 1) {
        transceiver.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((rtp) => this.videoIn.push(rtp)));
        // werift routes feedback by the SSRC that signs it: a server signing with its own video stream's SSRC reaches
        // our receiver of that stream, so PLIs are counted there too, by the media SSRC they name.
        transceiver.sender.onPictureLossIndication.subscribe(() => this.cameraKeyframeRequests++);
        transceiver.receiver.onRtcp.subscribe((rtcp) => {
          const feedback = rtcp.type === RtcpPayloadSpecificFeedback.type ? rtcp.feedback : undefined;
          if (feedback instanceof PictureLossIndication && feedback.mediaSsrc === transceiver.sender.ssrc) {
            this.cameraKeyframeRequests++;
          }
        });
      } else if (index === 2) {
        transceiver.sender.onPictureLossIndication.subscribe(() => this.screenKeyframeRequests++);
      }
    }
    if (options.dataChannelLabel === null) return;
    this.channel = this.pc.createDataChannel(options.dataChannelLabel ?? "chat");
    this.channel.onMessage.subscribe((data) => {
      const text = data.toString();
      this.receivedText.push(text);
      let message: unknown = text;
      try {
        message = JSON.parse(text);
      } catch {
        // keep the raw text
      }
      this.received.push(message);
      this.receivedAt.push(performance.now());
      this.#waiters = this.#waiters.filter((waiter) => {
        if (!waiter.predicate(message)) return true;
        waiter.resolve(message);
        return false;
      });
    });
  }

  /** A complete offer (candidates included, as with `waitForICEGathering`). */
  async offer(): Promise<{ sdp: string; type: "offer" }> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await waitForGathering(this.pc);
    return { sdp: this.pc.localDescription!.sdp, type: "offer" };
  }

  async accept(answer: { sdp: string }): Promise<void> {
    await this.pc.setRemoteDescription({ sdp: answer.sdp, type: "answer" });
  }

  channelOpen(timeoutMs = 10_000): Promise<void> {
    const channel = this.#channel();
    if (channel.readyState === "open") return Promise.resolve();
    return withTimeout(channel.stateChanged.watch((state) => state === "open").then(() => {}), timeoutMs, "data channel open");
  }

  connected(timeoutMs = 10_000): Promise<void> {
    if (this.pc.connectionState === "connected") return Promise.resolve();
    return withTimeout(
      this.pc.connectionStateChange.watch((state) => state === "connected").then(() => {}),
      timeoutMs,
      "client connected",
    );
  }

  send(message: unknown): void {
    this.#channel().send(typeof message === "string" ? message : JSON.stringify(message));
  }

  #channel(): RTCDataChannel {
    if (!this.channel) throw new Error("this client opened no data channel");
    return this.channel;
  }

  /** The first received message (already received or future) matching `predicate`. */
  waitFor(predicate: (message: unknown) => boolean, timeoutMs = 10_000): Promise<unknown> {
    const seen = this.received.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return withTimeout(
      new Promise((resolve) => this.#waiters.push({ predicate, resolve })),
      timeoutMs,
      "an expected data channel message",
    );
  }

  /**
   * Sends 48 kHz mono PCM as 20 ms Opus packets on the microphone track, paced in real time like a browser.
   * Resolves when everything has been sent.
   */
  async sendAudio(pcm: Int16Array, onFrame?: (index: number, at: number) => void): Promise<void> {
    const encoder = new OpusEncoder({ sampleRate: 48000, channels: 1 });
    const frame = 960;
    const start = performance.now();
    try {
      for (let i = 0; (i + 1) * frame <= pcm.length; i++) {
        onFrame?.(i, performance.now());
        const n = this.#audioSequence++;
        const header = new RtpHeader({ sequenceNumber: n & 0xffff, timestamp: (n * frame) >>> 0, marker: n === 0 });
        this.#microphone.writeRtp(new RtpPacket(header, Buffer.from(encoder.encode(pcm.subarray(i * frame, (i + 1) * frame)))));
        const due = start + (i + 1) * 20;
        await sleep(Math.max(0, due - performance.now()));
      }
    } finally {
      encoder.free();
    }
  }

  /**
   * Sends pre-encoded 20 ms Opus packets on the microphone track, looping them, paced in real time until `until()`
   * says stop. Encoding nothing here keeps a load client far cheaper than the server it loads.
   */
  async streamPackets(packets: Uint8Array[], until: () => boolean, onPacket?: (index: number, at: number) => void): Promise<void> {
    const start = performance.now();
    for (let i = 0; !until(); i++) {
      const n = this.#audioSequence++;
      onPacket?.(i, performance.now());
      const header = new RtpHeader({ sequenceNumber: n & 0xffff, timestamp: (n * 960) >>> 0, marker: n === 0 });
      this.#microphone.writeRtp(new RtpPacket(header, Buffer.from(packets[i % packets.length])));
      await sleep(Math.max(0, start + (i + 1) * 20 - performance.now()));
    }
  }

  /** Sends encoded video frames (already packetised) on the camera (or screen) track at `fps`, paced in real time. */
  async sendVideo(frames: VideoRtp[][], fps: number, track: VideoTrackName = "camera"): Promise<void> {
    const start = performance.now();
    for (const [i, packets] of frames.entries()) {
      for (const packet of packets) {
        const header = new RtpHeader({
          sequenceNumber: this.#videoSequences[track]++ & 0xffff,
          timestamp: packet.timestamp,
          marker: packet.marker,
        });
        this.#videoTrack(track).writeRtp(new RtpPacket(header, Buffer.from(packet.payload)));
      }
      await sleep(Math.max(0, start + ((i + 1) * 1000) / fps - performance.now()));
    }
  }

  /**
   * Sends pre-encoded, packetised video frames on the camera (or screen) track, looping them, paced in real time at
   * `fps` until `until()` says stop. Timestamps keep rising across loops, as a camera's do. The loop must start with a
   * keyframe: a keyframe request restarts it, as a browser answers one with a keyframe.
   */
  async streamVideo(
    frames: Uint8Array[][],
    fps: number,
    until: () => boolean,
    track: VideoTrackName = "camera",
  ): Promise<void> {
    const start = performance.now();
    const step = 90_000 / fps;
    const requests = () => (track === "camera" ? this.cameraKeyframeRequests : this.screenKeyframeRequests);
    let answered = requests();
    for (let i = 0, position = 0; !until(); i++, position = (position + 1) % frames.length) {
      if (requests() !== answered) {
        answered = requests();
        position = 0;
      }
      const payloads = frames[position];
      const timestamp = Math.round(i * step) >>> 0;
      for (const [k, payload] of payloads.entries()) {
        const header = new RtpHeader({
          sequenceNumber: this.#videoSequences[track]++ & 0xffff,
          timestamp,
          marker: k === payloads.length - 1,
        });
        this.#videoTrack(track).writeRtp(new RtpPacket(header, Buffer.from(payload)));
      }
      await sleep(Math.max(0, start + ((i + 1) * 1000) / fps - performance.now()));
    }
  }

  async close(): Promise<void> {
    await this.pc.close();
  }

  #videoTrack(track: VideoTrackName): MediaStreamTrack {
    return track === "camera" ? this.#camera : this.#screen;
  }
}

function clientPeerConfig({ videoCodecs = ["VP8", "H264"], audioCodecs, interfaces = ["127.0.0.1"], iceTcp, relay }: ClientOptions) {
  const config = peerConfig({
    iceServers: [],
    stunGatherTimeoutSecs: 1,
    interfaces,
    loopback: interfaces.includes("127.0.0.1") ? "always" : "never",
    ipv6: false,
    bindHost: interfaces[0],
  });
  const video = { VP8: useVP8(), H264: useH264() };
  const audio = { OPUS: useOPUS(), PCMU: usePCMU(), PCMA: usePCMA() };
  return {
    ...config,
    ...(iceTcp ? { iceUseTcp: true, iceTcpPassive: false } : {}),
    ...(relay
      ? {
        iceServers: [{ urls: relay.urls, username: relay.username, credential: relay.credential }],
        iceTransportPolicy: "relay" as const,
        turnTlsOptions: relay.certificate ? { ca: relay.certificate } : undefined,
      }
      : {}),
    codecs: {
      audio: audioCodecs?.map((name) => audio[name]) ?? config.codecs?.audio,
      video: videoCodecs.map((name) => video[name]),
    },
  };
}

export function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return pc.iceGatheringStateChange.watch((state) => state === "complete").then(() => {});
}

export interface TrickledCandidate {
  candidate: string;
  sdp_mid: string;
  sdp_mline_index: number;
}

/** Splits an SDP into the same SDP without candidate lines and the candidates it carried, for trickle tests. */
export function withoutCandidates(sdp: string): { sdp: string; candidates: TrickledCandidate[] } {
  const [session, ...sections] = sdp.split(/\r\n(?=m=)/);
  const candidates: TrickledCandidate[] = [];
  const stripped = sections.map((section, index) => {
    const lines = section.split("\r\n");
    const mid = lines.find((line) => line.startsWith("a=mid:"))?.slice("a=mid:".length) ?? String(index);
    for (const line of lines) {
      if (line.startsWith("a=candidate:")) candidates.push({ candidate: line.slice(2), sdp_mid: mid, sdp_mline_index: index });
    }
    return lines.filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates").join("\r\n");
  });
  return { sdp: [session, ...stripped].join("\r\n"), candidates };
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
