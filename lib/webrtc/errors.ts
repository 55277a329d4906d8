/** Why a signalling request could not be served. The HTTP layer maps each reason to a status code. */
export type SignallingErrorReason =
  /** The offer (or its SDP) is unusable. */
  | "invalid-offer"
  /** A trickled candidate could not be applied. */
  | "invalid-candidate"
  /** No peer connection has this `pc_id`. */
  | "peer-not-found"
  /** The server holds as many sessions as it is allowed to. */
  | "capacity"
  /** Single-session mode, and this process's one session is live. */
  | "busy";

export class SignallingError extends Error {
  override name = "SignallingError";
  /** For "capacity": when the client may try again, in seconds (sent as Retry-After). */
  readonly retryAfterSecs?: number;

  /** What a new offer gets in single-session mode while the one session is live. */
  static busy(): SignallingError {
    return new SignallingError("busy", "this server runs one session per process (singleSession) and it is in use");
  }

  constructor(readonly reason: SignallingErrorReason, message: string, options: { retryAfterSecs?: number } = {}) {
    super(message);
    this.retryAfterSecs = options.retryAfterSecs;
  }
}
