// One PipecatClient for the page's lifetime, on the official SmallWebRTCTransport with our getUserMedia media manager
// (the default one needs daily-js from a CDN). Each connect applies the chosen signalling flow and codecs. Endpoints
// are relative to the page, so the client works under /client/ on any host.
import { LogLevel, PipecatClient } from "@pipecat-ai/client-js";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";
import { type PeerConnectionOwner, UserMediaManager } from "./userMediaManager.ts";

export interface CallOptions {
  /** "offer": POST /api/offer. "start": POST /start, then /sessions/:id/api/offer (docs/protocol.md §1.1). */
  flow: "offer" | "start";
  /** Restricts the offer to one codec ("opus", "PCMU", "VP8", ...); "default" offers all the browser has. */
  audioCodec: string;
  videoCodec: string;
}

export class Call {
  readonly client: PipecatClient;
  private readonly transport: SmallWebRTCTransport;

  constructor() {
    const media = new UserMediaManager();
    this.transport = new SmallWebRTCTransport({ mediaManager: media });
    media.attach(this.transport);
    this.client = new PipecatClient({ transport: this.transport, enableMic: true, enableCam: false });
    // The page shows what matters in its own log; the client's debug output would drown the console.
    this.client.setLogLevel(LogLevel.WARN);
  }

  /** The transport's current peer connection; null between calls. */
  get pc(): RTCPeerConnection | null {
    return (this.transport as unknown as PeerConnectionOwner).pc;
  }

  async connect({ flow, audioCodec, videoCodec }: CallOptions): Promise<void> {
    this.transport.setAudioCodec(audioCodec);
    this.transport.setVideoCodec(videoCodec);
    const headers = accessHeaders();
    if (flow === "start") {
      await this.client.startBotAndConnect({ endpoint: endpoint("../start"), headers, requestData: { transport: "webrtc" } });
    } else {
      await this.client.connect({ webrtcRequestParams: { endpoint: endpoint("../api/offer"), headers } });
    }
  }
}

/**
 * A server with `auth` configured wants a bearer token: open the page as /client/?token=... (the client sends the
 * same headers with the offer and the trickled candidates, and /start passes them on to the session's offers).
 */
function accessHeaders(): Headers {
  const token = new URLSearchParams(location.search).get("token");
  return new Headers(token ? { Authorization: `Bearer ${token}` } : {});
}

function endpoint(path: string): string {
  return new URL(path, location.href).href;
}
