/**
 * Routes signalling requests to peer connections, like Pipecat's SmallWebRTCRequestHandler in MULTIPLE mode: a new
 * offer creates a connection and hands it to the application; an offer carrying a known `pc_id` renegotiates (or,
 * with `restart_pc`, rebuilds) that connection; trickled candidates are applied to the connection they name.
 */
import { type Logger, silentLogger } from "../log/logger.ts";
import {
  type Answer,
  type ConnectionOptions,
  type IceCandidateInit,
  SmallWebRTCConnection,
} from "./connection.ts";
import { SignallingError } from "./errors.ts";
import { offerSdpProblem, type SdpLimits } from "./offerSdp.ts";

export interface OfferRequest {
  sdp: string;
  type: "offer";
  pcId?: string | null;
  restartPc?: boolean | null;
  /** Opaque app data (`request_data` / `requestData`, or the body stored by `/start`). */
  requestData?: unknown;
  /** The `/start` session (or `?session_id=`) the offer came through. */
  sessionId?: string;
}

export interface PatchRequest {
  pcId: string;
  candidates: IceCandidateInit[];
}

/** Called once per new connection, after its answer is ready and before it is returned to the client. */
export type ConnectionCallback = (
  connection: SmallWebRTCConnection,
  requestData: unknown,
  sessionId: string | undefined,
) => void | Promise<void>;

export interface RequestHandlerOptions {
  /** Options for the connection a new offer creates (they may depend on who sent it). */
  connectionOptions: (offerSdp: string) => ConnectionOptions;
  onConnection: ConnectionCallback;
  maxSessions: number;
  /** One session at a time (Pipecat Cloud's one session per process): a new offer while one is live is refused. */
  singleSession?: boolean;
  sdpLimits: SdpLimits;
  logger?: Logger;
}

export class SmallWebRTCRequestHandler {
  /** Every id a connection was ever known by (a restart keeps the old one valid) -> the connection. */
  #byId = new Map<string, SmallWebRTCConnection>();
  #open = new Set<SmallWebRTCConnection>();
  #creating = 0;
  readonly #options: RequestHandlerOptions;
  readonly #logger: Logger;

  constructor(options: RequestHandlerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Open peer connections. */
  get size(): number {
    return this.#open.size;
  }

  connections(): SmallWebRTCConnection[] {
    return [...this.#open];
  }

  find(pcId: string): SmallWebRTCConnection | undefined {
    return this.#byId.get(pcId);
  }

  async handleOffer(request: OfferRequest): Promise<Answer> {
    const problem = offerSdpProblem(request.sdp, this.#options.sdpLimits);
    if (problem) throw new SignallingError("invalid-offer", problem);

    const existing = request.pcId ? this.#byId.get(request.pcId) : undefined;
    if (existing) {
      this.#logger.debug("renegotiating", { pcId: existing.pcId, restart: Boolean(request.restartPc) });
      return await existing.renegotiate({ sdp: request.sdp, type: "offer" }, Boolean(request.restartPc));
    }

    if (this.#options.singleSession && this.#open.size + this.#creating > 0) throw SignallingError.busy();
    if (this.#open.size + this.#creating >= this.#options.maxSessions) {
      throw new SignallingError("capacity", `the server is at its limit of ${this.#options.maxSessions} sessions`);
    }
    this.#creating++;
    let connection: SmallWebRTCConnection;
    try {
      const options = this.#options.connectionOptions(request.sdp);
      connection = await SmallWebRTCConnection.create({ sdp: request.sdp, type: "offer" }, options);
    } finally {
      this.#creating--;
    }
    this.#track(connection);
    try {
      await this.#options.onConnection(connection, request.requestData, request.sessionId);
    } catch (error) {
      // Like Pipecat, an application callback failure is logged; the session is closed rather than left half set up.
      connection.logger.error("connection callback failed", { error });
      await connection.close();
    }
    return connection.answer;
  }

  async handlePatch(request: PatchRequest): Promise<void> {
    const connection = this.#byId.get(request.pcId);
    if (!connection || connection.isClosed) throw new SignallingError("peer-not-found", "Peer connection not found");
    for (const candidate of request.candidates) {
      try {
        await connection.addIceCandidate(candidate);
      } catch (error) {
        throw new SignallingError("invalid-candidate", `candidate rejected: ${(error as Error).message}`);
      }
    }
  }

  /** Ends every session, telling each client with `peerLeft` first. */
  async closeAll(): Promise<void> {
    await Promise.allSettled(this.connections().map((connection) => connection.disconnect()));
  }

  #track(connection: SmallWebRTCConnection): void {
    const ids = new Set([connection.pcId]);
    this.#byId.set(connection.pcId, connection);
    this.#open.add(connection);
    connection.on("pcIdChanged", (pcId) => {
      ids.add(pcId);
      this.#byId.set(pcId, connection);
    });
    connection.on("closed", () => {
      this.#open.delete(connection);
      for (const id of ids) this.#byId.delete(id);
      this.#logger.debug("session closed", { pcId: connection.pcId, open: this.#open.size });
    });
  }
}
