// Browser entry of the e2e probe: drives the official Pipecat web client (PipecatClient +
// SmallWebRTCTransport + our UserMediaManager) against a server and reports what happened.
// Bundled by test/e2e/support/probe.ts; the test side talks to it through window.* (probeTypes.ts).
import { PipecatClient, type BotReadyData, type Participant } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";
import { UserMediaManager, type PeerConnectionOwner } from "../../../public/src/userMediaManager.ts";
import type { DeviceList, DeviceSummary, Json, MediaStats, ProbeControl, ProbeOptions,
  ProbeResult } from "../support/probeTypes.ts";
import { BotAudioRecorder } from "./botAudioRecorder.ts";
import { describe, elapsed, instrument, journal, recordAudioFrames, resetJournal } from "./instrument.ts";
import { mediaStats } from "./stats.ts";
import { eventually } from "../../support/eventually.ts";

// Raw capture keeps the fake mic's levels predictable; Chrome's AGC/NS/EC would reshape them.
const RAW_AUDIO: MediaTrackConstraints = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

/** Transport internals the probe relies on: `pc` and the reconnection entry point are public at
 * runtime but missing from the package's typings. */
interface TransportInternals extends PeerConnectionOwner {
  readonly dc: RTCDataChannel | null;
  attemptReconnection(recreatePeerConnection: boolean): Promise<void>;
}

interface Session {
  options: ProbeOptions;
  client: PipecatClient;
  transport: TransportInternals;
  transportStates: string[];
  msToConnected: number | null;
  msToBotReady: number | null;
  botReadyData: Json | null;
  tracksStarted: ProbeResult["tracksStarted"];
  clientResponse: Json | null;
  connectCalled: boolean;
  /** The probe itself is ending the call (finishProbe or probeControl.disconnect). */
  closing: boolean;
  endedEarly: boolean;
  stats: MediaStats | null;
}

let session: Session | null = null;
let botAudio: BotAudioRecorder | null = null;

// Sinks are attached from the peer's own "track" events, not from the client's onTrackStarted: after
// an ICE restart the transport (1.10.8) drops the new bot tracks from its map when the old ones end,
// so onTrackStarted never fires for them and their audio would go unmeasured.
instrument(play);

async function startProbe(options: ProbeOptions): Promise<ProbeResult> {
  if (session && !session.closing) throw new Error("a probe is already running; call finishProbe() first");
  resetJournal();
  recordAudioFrames(options.recordAudioFrames ?? false);
  botAudio?.close();
  botAudio = null;
  const s = createSession(options);
  session = s;

  const base = options.baseUrl.replace(/\/$/, "");
  const request = {
    headers: new Headers(options.headers ?? {}),
    ...(options.requestData === undefined ? {} : { requestData: options.requestData }),
  };
  s.connectCalled = true;
  const connecting = options.mode === "start"
    ? s.client.startBotAndConnect({ endpoint: base + (options.startPath ?? "/start"), ...request })
    : s.client.connect({ webrtcRequestParams: { endpoint: base + (options.offerPath ?? "/api/offer"), ...request } });
  const settled = connecting.then(() => true, (error: unknown) => {
    journal.errors.push(`connect failed: ${describe(error)}`);
    return true;
  });
  const timeoutMs = options.connectTimeoutMs ?? 15_000;
  if (!(await Promise.race([settled, sleep(timeoutMs).then(() => false)]))) {
    journal.errors.push(`no bot-ready within ${timeoutMs} ms`);
  }

  const message = options.sendClientMessage;
  if (s.msToBotReady !== null && message) {
    if (message.request) s.clientResponse = await clientRequest(s, message.t, message.d, message.timeoutMs);
    else s.client.sendClientMessage(message.t, message.d);
  }
  return snapshot(s);
}

async function finishProbe(): Promise<ProbeResult> {
  const s = current();
  s.closing = true;
  s.stats = await currentStats(s);
  // Also while still connecting: that stops the transport's offer retries.
  const ended = s.client.state === "disconnected" || s.client.state === "error";
  if (s.options.disconnectAtEnd !== false && !ended) await s.client.disconnect();
  return result(s);
}

function createSession(options: ProbeOptions): Session {
  const mic = options.mic ?? true;
  const cam = options.cam ?? false;
  const manager = new UserMediaManager({ enableMic: mic, enableCam: cam,
    audioConstraints: options.audioConstraints ?? RAW_AUDIO });
  const transport = new SmallWebRTCTransport({
    mediaManager: manager,
    waitForICEGathering: options.waitForICEGathering ?? false,
    ...(options.iceServers ? { iceServers: options.iceServers } : {}),
    ...(options.audioCodec ? { audioCodec: options.audioCodec } : {}),
    ...(options.videoCodec ? { videoCodec: options.videoCodec } : {}),
  });
  manager.attach(transport);

  const s = { options, transport: transport as unknown as TransportInternals, transportStates: [],
    msToConnected: null, msToBotReady: null, botReadyData: null, tracksStarted: [], clientResponse: null,
    connectCalled: false, closing: false, endedEarly: false, stats: null } as Omit<Session, "client">;
  const client = new PipecatClient({
    transport,
    enableMic: mic,
    enableCam: cam,
    callbacks: {
      onTransportStateChanged: (state) => {
        s.transportStates.push(state);
        if (state === "connected" && s.msToConnected === null) s.msToConnected = elapsed();
        if ((state === "disconnected" || state === "error") && s.connectCalled && !s.closing) s.endedEarly = true;
      },
      onBotReady: (data: BotReadyData) => {
        s.msToBotReady ??= elapsed();
        s.botReadyData = data as unknown as Json;
      },
      onTrackStarted: (track: MediaStreamTrack, participant?: Participant) => {
        s.tracksStarted.push({ atMs: elapsed(), kind: track.kind, local: participant?.local ?? false });
      },
      onError: (message) => journal.errors.push(`rtvi error: ${JSON.stringify(message.data)}`),
      onMessageError: (message) => journal.errors.push(`rtvi message error: ${JSON.stringify(message.data)}`),
      onDeviceError: (error) => journal.errors.push(`device error (${error.type}): ${error.message}`),
    },
  });
  return Object.assign(s, { client });
}

/** Remote media needs a sink: Chromium neither decodes nor measures audio nobody plays. */
function play(track: MediaStreamTrack): void {
  const element = document.createElement(track.kind === "audio" ? "audio" : "video");
  element.autoplay = true;
  if (element instanceof HTMLVideoElement) {
    element.muted = true;
    element.playsInline = true;
  }
  element.srcObject = new MediaStream([track]);
  document.body.append(element);
  if (track.kind === "audio" && session?.options.recordBotAudio && !botAudio) botAudio = new BotAudioRecorder(track);
  track.addEventListener("ended", () => element.remove());
}

async function clientRequest(s: Session, t: string, d?: Json, timeoutMs?: number): Promise<Json> {
  try {
    return (await s.client.sendClientRequest(t, d, timeoutMs)) as Json;
  } catch (error) {
    journal.errors.push(`client request "${t}" failed: ${describe(error)}`);
    return null;
  }
}

async function currentStats(s: Session): Promise<MediaStats | null> {
  const pc = s.transport.pc;
  return pc && pc.connectionState !== "closed" ? mediaStats(pc) : s.stats;
}

async function snapshot(s: Session): Promise<ProbeResult> {
  s.stats = await currentStats(s);
  return result(s);
}

function result(s: Session): ProbeResult {
  const rtviReceived = journal.received.flatMap(({ data }) =>
    isRtvi(data) ? [String(data.type)] : []);
  return {
    connected: s.msToConnected !== null,
    botReady: s.msToBotReady !== null,
    msToConnected: s.msToConnected,
    msToBotReady: s.msToBotReady,
    botReadyData: s.botReadyData,
    transportStates: [...s.transportStates],
    endedEarly: s.endedEarly,
    stats: s.stats,
    peerConnections: structuredClone(journal.peerConnections),
    tracksStarted: [...s.tracksStarted],
    rtviReceived,
    dataChannel: { sent: [...journal.sent], received: [...journal.received], pingsSent: journal.pingsSent },
    requests: structuredClone(journal.requests),
    clientResponse: s.clientResponse,
    audioFramesIn: [...journal.audioFramesIn],
    errors: [...journal.errors],
  };
}

function isRtvi(data: Json): data is { [key: string]: Json } {
  return typeof data === "object" && data !== null && !Array.isArray(data) && data.label === "rtvi-ai";
}

function current(): Session {
  if (!session) throw new Error("no probe started; call startProbe() first");
  return session;
}

async function devices(client: PipecatClient): Promise<DeviceList> {
  const summary = (d: MediaDeviceInfo | Record<string, never>): DeviceSummary | null =>
    d.deviceId ? { deviceId: d.deviceId, label: d.label } : null;
  const list = (all: MediaDeviceInfo[]) => all.map((d) => ({ deviceId: d.deviceId, label: d.label }));
  return {
    mics: list(await client.getAllMics()),
    cams: list(await client.getAllCams()),
    speakers: list(await client.getAllSpeakers()),
    selected: { mic: summary(client.selectedMic), cam: summary(client.selectedCam),
      speaker: summary(client.selectedSpeaker) },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const probeControl: ProbeControl = {
  state: () => current().client.state,
  snapshot: () => snapshot(current()),
  getStats: () => currentStats(current()),
  disconnect: () => {
    const s = current();
    s.closing = true;
    return s.client.disconnect();
  },
  sendClientMessage: (t, d) => current().client.sendClientMessage(t, d),
  sendClientRequest: (t, d, timeoutMs) => clientRequest(current(), t, d, timeoutMs),
  sendUIEvent: (event, payload) => current().client.sendUIEvent(event, payload),
  startUISnapshotStream: () => current().client.startUISnapshotStream(),
  sendDTMF: (keys) => current().client.sendDTMF(keys),
  botAudio: () => botAudio?.recorded() ?? "",
  sendRaw: (text) => {
    const channel = current().transport.dc;
    if (channel?.readyState !== "open") throw new Error("data channel is not open");
    channel.send(text);
  },
  enableMic: (enable) => current().client.enableMic(enable),
  enableCam: (enable) => current().client.enableCam(enable),
  enableScreenShare: (enable) => current().client.enableScreenShare(enable),
  devices: () => devices(current().client),
  updateMic: async (deviceId) => {
    const { client } = current();
    client.updateMic(deviceId);
    // The client's device setters return nothing, so wait for their effect to show.
    await eventually(() => client.selectedMic.deviceId === deviceId, 5000, `mic ${deviceId} selected`);
  },
  updateCam: async (deviceId) => {
    const { client } = current();
    client.updateCam(deviceId);
    await eventually(() => client.selectedCam.deviceId === deviceId, 5000, `camera ${deviceId} selected`);
  },
  reconnect: (restartPc) => current().transport.attemptReconnection(restartPc),
};

Object.assign(window, { startProbe, finishProbe, probeControl });
