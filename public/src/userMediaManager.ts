// A getUserMedia media manager for @pipecat-ai/small-webrtc-transport. The transport's default
// (DailyMediaManager) downloads daily-js' call machine from a CDN in initDevices() and hangs when
// offline, so the test client and the e2e probe use this one instead. The transport's MediaManager
// base class is not exported (it lives in the unpublished @pipecat-ai/transport-lib), so this class
// implements, structurally, exactly what the transport calls.
//
// Remote (bot) media is NOT played here: like the transport's own default, which builds its Daily
// manager without a player, the page attaches bot tracks itself from the client's onTrackStarted
// callback. Chromium only decodes remote audio that has an unmuted sink, so the page must do it.
// For the same reason updateSpeaker() only records the choice, for the page's setSinkId().
//
// Usage: const media = new UserMediaManager(); const transport = new SmallWebRTCTransport({
//   mediaManager: media }); media.attach(transport);
import { DeviceError, type DeviceErrorType, type PipecatClientOptions, type RTVIEventCallbacks,
  type Tracks } from "@pipecat-ai/client-js";
import { CapturedTrack } from "./capturedTrack.ts";

export interface UserMediaManagerOptions {
  /** Capture the mic. Overrides PipecatClient's `enableMic` (default true). */
  enableMic?: boolean;
  /** Capture the camera. Overrides PipecatClient's `enableCam` (default false). */
  enableCam?: boolean;
  /** Extra getUserMedia audio constraints, e.g. `{ echoCancellation: false }`. */
  audioConstraints?: MediaTrackConstraints;
  /** Extra getUserMedia video constraints, e.g. `{ width: 640 }`. */
  videoConstraints?: MediaTrackConstraints;
}

/** The part of SmallWebRTCTransport that owns the peer connection; `pc` is public but untyped. */
export interface PeerConnectionOwner {
  readonly pc: RTCPeerConnection | null;
}

type DeviceKind = "mic" | "cam";
type Slot = DeviceKind | "screen";
type EmptyInfo = Record<string, never>;

// Transceiver order fixed by the transport's addInitialTransceivers() (docs/protocol.md §2.2).
const TRANSCEIVER: Record<Slot, number> = { mic: 0, cam: 1, screen: 2 };
const INPUT_KIND: Record<DeviceKind, MediaDeviceKind> = { mic: "audioinput", cam: "videoinput" };
const LOCAL = { id: "local", name: "", local: true };

export class UserMediaManager {
  private readonly options: UserMediaManagerOptions;
  private callbacks: RTVIEventCallbacks = {};
  private clientOptionsSet = false;
  private owner: PeerConnectionOwner | null = null;
  private micOn: boolean;
  private camOn: boolean;
  private readonly local: Record<Slot, CapturedTrack | null> = { mic: null, cam: null, screen: null };
  private readonly preferred: Record<DeviceKind, string | undefined> = { mic: undefined, cam: undefined };
  private speaker: MediaDeviceInfo | EmptyInfo = {};
  private devices: MediaDeviceInfo[] = [];
  private watchingDevices = false;

  constructor(options: UserMediaManagerOptions = {}) {
    this.options = options;
    this.micOn = options.enableMic ?? true;
    this.camOn = options.enableCam ?? false;
  }

  /** Required once after building the transport: mid-call changes (device switch, camera or screen
   * on) and ICE restarts need the transport's current peer connection. */
  attach(transport: object): void {
    this.owner = transport as PeerConnectionOwner;
  }

  // ---- the transport's MediaManager contract --------------------------------------------------

  /** True so the transport adds the screen transceiver: the same 3-m-line offer as Daily's manager. */
  get supportsScreenShare(): boolean {
    return true;
  }

  setClientOptions(options: PipecatClientOptions, override = false): void {
    if (this.clientOptionsSet && !override) return;
    this.clientOptionsSet = true;
    this.callbacks = options.callbacks ?? {};
    this.micOn = this.options.enableMic ?? options.enableMic ?? true;
    this.camOn = this.options.enableCam ?? options.enableCam ?? false;
  }

  /** initDevices(): opens the enabled devices and publishes the device lists. Never throws: device
   * failures go to onDeviceError and the call can still proceed receive-only. */
  async initialize(): Promise<void> {
    if (!navigator.mediaDevices) {
      this.reportError(["mic", "cam"], "undefined-mediadevices", "navigator.mediaDevices is unavailable");
      return;
    }
    if (!this.watchingDevices) {
      navigator.mediaDevices.addEventListener("devicechange", this.onDeviceChange);
      this.watchingDevices = true;
    }
    await this.openEnabledDevices();
    await this.publishDeviceLists();
  }

  /** Runs before every connect; reopens what a previous disconnect released. */
  connect(): Promise<void> {
    return this.initialize();
  }

  async disconnect(): Promise<void> {
    for (const slot of ["mic", "cam", "screen"] as const) this.release(slot);
    if (this.watchingDevices) navigator.mediaDevices.removeEventListener("devicechange", this.onDeviceChange);
    this.watchingDevices = false;
  }

  /** What the current peer sends (each peer gets its own clone, see CapturedTrack). */
  tracks(): Tracks {
    return { local: { audio: this.outgoing("mic"), video: this.outgoing("cam"), screenVideo: this.outgoing("screen") } };
  }

  get isMicEnabled(): boolean {
    return this.micOn;
  }

  get isCamEnabled(): boolean {
    return this.camOn;
  }

  get isSharingScreen(): boolean {
    return !!this.local.screen?.live;
  }

  /** Mute keeps the device open (instant unmute; the peer gets silence). Unmute opens it if needed. */
  async enableMic(enable: boolean): Promise<void> {
    this.micOn = enable;
    const mic = this.local.mic;
    if (!mic?.live) {
      if (enable) await this.open(["mic"]);
      return;
    }
    mic.enabled = enable;
    if (enable) this.callbacks.onTrackStarted?.(mic.source, LOCAL);
    else this.callbacks.onTrackStopped?.(mic.source, LOCAL);
  }

  /** Camera off releases the device (its light goes out) rather than sending black frames. */
  async enableCam(enable: boolean): Promise<void> {
    this.camOn = enable;
    if (!enable) this.release("cam");
    else if (!this.local.cam?.live) await this.open(["cam"]);
  }

  async enableScreenShare(enable: boolean): Promise<void> {
    if (!enable) return this.release("screen");
    if (this.local.screen?.live) return;
    try {
      const [track] = (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks();
      if (!track) throw new Error("getDisplayMedia returned no video track");
      // The browser's own "stop sharing" button ends the track without going through us.
      track.addEventListener("ended", () => this.release("screen"));
      this.local.screen = new CapturedTrack(track);
      await this.send("screen");
      this.callbacks.onScreenTrackStarted?.(track, LOCAL);
    } catch (error) {
      this.callbacks.onScreenShareError?.(error instanceof Error ? error.message : String(error));
    }
  }

  getAllMics(): Promise<MediaDeviceInfo[]> {
    return this.listDevices("audioinput");
  }

  getAllCams(): Promise<MediaDeviceInfo[]> {
    return this.listDevices("videoinput");
  }

  getAllSpeakers(): Promise<MediaDeviceInfo[]> {
    return this.listDevices("audiooutput");
  }

  /** Switches the mic; a live one is swapped on the peer without renegotiating. */
  async updateMic(micId: string): Promise<void> {
    this.preferred.mic = micId;
    if (this.local.mic?.live) await this.open(["mic"]);
  }

  async updateCam(camId: string): Promise<void> {
    this.preferred.cam = camId;
    if (this.local.cam?.live) await this.open(["cam"]);
  }

  async updateSpeaker(speakerId: string): Promise<void> {
    const speakers = await this.listDevices("audiooutput");
    this.speaker = speakers.find((d) => d.deviceId === speakerId) ?? {};
    if (isDevice(this.speaker)) this.callbacks.onSpeakerUpdated?.(this.speaker);
  }

  get selectedMic(): MediaDeviceInfo | EmptyInfo {
    return this.selected("mic");
  }

  get selectedCam(): MediaDeviceInfo | EmptyInfo {
    return this.selected("cam");
  }

  get selectedSpeaker(): MediaDeviceInfo | EmptyInfo {
    return this.speaker;
  }

  // ---- internals ------------------------------------------------------------------------------

  private async openEnabledDevices(): Promise<void> {
    const wanted = (["mic", "cam"] as const).filter((kind) => this.enabled(kind) && !this.local[kind]?.live);
    if (wanted.length === 0) return;
    // One getUserMedia call means one permission prompt; fall back per device so a busy camera
    // does not cost us the microphone.
    if (wanted.length === 2 && (await this.open(wanted, { quiet: true }))) return;
    for (const kind of wanted) await this.open([kind]);
  }

  /** Opens fresh tracks for `kinds`, replacing (and releasing) the current ones. */
  private async open(kinds: DeviceKind[], { quiet = false } = {}): Promise<boolean> {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: kinds.includes("mic") && this.constraints("mic"),
        video: kinds.includes("cam") && this.constraints("cam"),
      });
    } catch (error) {
      if (!quiet) this.reportGetUserMediaError(kinds, error);
      return false;
    }
    for (const kind of kinds) {
      const track = (kind === "mic" ? stream.getAudioTracks() : stream.getVideoTracks())[0];
      if (!track) continue;
      // The camera may have been switched off while the browser was still opening it.
      if (kind === "cam" && !this.camOn) {
        track.stop();
        continue;
      }
      const captured = new CapturedTrack(track);
      captured.enabled = this.enabled(kind);
      const previous = this.local[kind];
      this.local[kind] = captured;
      await this.send(kind);
      previous?.stop();
      await this.announce(kind, track);
    }
    return true;
  }

  private release(slot: Slot): void {
    const captured = this.local[slot];
    if (!captured) return;
    this.local[slot] = null;
    void this.send(slot);
    captured.stop();
    if (slot === "screen") this.callbacks.onScreenTrackStopped?.(captured.source, LOCAL);
    else this.callbacks.onTrackStopped?.(captured.source, LOCAL);
  }

  private outgoing(slot: Slot): MediaStreamTrack | undefined {
    const captured = this.local[slot];
    return captured?.live ? captured.forPeer(this.owner?.pc) : undefined;
  }

  /** Puts the slot's current track (or nothing) on the current peer. Before a peer exists there is
   * nothing to do: the transport's addUserMedia() reads tracks() for every new peer. */
  private async send(slot: Slot): Promise<void> {
    const sender = this.owner?.pc?.getTransceivers()[TRANSCEIVER[slot]]?.sender;
    if (!sender) return;
    try {
      await sender.replaceTrack(this.outgoing(slot) ?? null);
    } catch (error) {
      // A peer closing under us is normal during reconnects; the next one reads tracks() anyway.
      console.warn(`replaceTrack(${slot}) failed`, error);
    }
  }

  private async announce(kind: DeviceKind, track: MediaStreamTrack): Promise<void> {
    await this.listDevices();
    const info = this.selected(kind);
    if (isDevice(info)) {
      // A real deviceId is what makes PipecatClient mark the device "granted" in its mediaState.
      if (kind === "mic") this.callbacks.onMicUpdated?.(info);
      else this.callbacks.onCamUpdated?.(info);
    }
    if (track.enabled) this.callbacks.onTrackStarted?.(track, LOCAL);
  }

  private constraints(kind: DeviceKind): MediaTrackConstraints {
    const base = (kind === "mic" ? this.options.audioConstraints : this.options.videoConstraints) ?? {};
    const deviceId = this.preferred[kind];
    return deviceId ? { ...base, deviceId: { exact: deviceId } } : { ...base };
  }

  private selected(kind: DeviceKind): MediaDeviceInfo | EmptyInfo {
    const captured = this.local[kind];
    const deviceId = captured?.live ? captured.source.getSettings().deviceId : this.preferred[kind];
    return this.devices.find((d) => d.kind === INPUT_KIND[kind] && d.deviceId === deviceId) ?? {};
  }

  private async listDevices(kind?: MediaDeviceKind): Promise<MediaDeviceInfo[]> {
    if (!navigator.mediaDevices) return [];
    this.devices = await navigator.mediaDevices.enumerateDevices();
    return kind ? this.devices.filter((d) => d.kind === kind) : this.devices;
  }

  private async publishDeviceLists(): Promise<void> {
    const devices = await this.listDevices();
    this.callbacks.onAvailableMicsUpdated?.(devices.filter((d) => d.kind === "audioinput"));
    this.callbacks.onAvailableCamsUpdated?.(devices.filter((d) => d.kind === "videoinput"));
    this.callbacks.onAvailableSpeakersUpdated?.(devices.filter((d) => d.kind === "audiooutput"));
  }

  private readonly onDeviceChange = (): void => {
    void this.publishDeviceLists().then(async () => {
      // An unplugged device ends its track; fall back to the default one if the user still wants it.
      for (const kind of ["mic", "cam"] as const) {
        const captured = this.local[kind];
        if (captured && !captured.live && this.enabled(kind)) {
          this.preferred[kind] = undefined;
          await this.open([kind]);
        }
      }
    });
  };

  private enabled(kind: DeviceKind): boolean {
    return kind === "mic" ? this.micOn : this.camOn;
  }

  private reportGetUserMediaError(kinds: DeviceKind[], error: unknown): void {
    const name = error instanceof Error ? error.name : "";
    const message = error instanceof Error ? error.message : String(error);
    this.reportError(kinds, deviceErrorType(name), message, error instanceof Error ? error : undefined);
  }

  private reportError(kinds: DeviceKind[], type: DeviceErrorType, message: string, cause?: Error): void {
    this.callbacks.onDeviceError?.(new DeviceError(kinds, type, message, cause ? { sourceError: cause } : undefined));
  }
}

/** Maps getUserMedia's DOMException names (Media Capture and Streams, getUserMedia errors) to
 * Pipecat's DeviceError types. */
function deviceErrorType(name: string): DeviceErrorType {
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "permissions";
    case "NotFoundError":
      return "not-found";
    case "NotReadableError":
    case "AbortError":
      return "in-use";
    case "OverconstrainedError":
      return "constraints";
    default:
      return "unknown";
  }
}

function isDevice(info: MediaDeviceInfo | EmptyInfo): info is MediaDeviceInfo {
  return "deviceId" in info;
}
