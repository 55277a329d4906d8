/**
 * Process-wide figures of the bridge for /metrics: audio dropped because a queue was full, audio queued now, open
 * bot sockets and failed connects. Counters only grow; the gauges follow the sessions.
 */

/** `toBot`: client audio the bot has not taken yet; `toClient`: bot audio not yet played. */
export type BridgeDirection = "toBot" | "toClient";

const droppedMs: Record<BridgeDirection, number> = { toBot: 0, toClient: 0 };
const queuedMs: Record<BridgeDirection, number> = { toBot: 0, toClient: 0 };
let openSockets = 0;
let failedConnects = 0;

export const bridgeStats = {
  audioDropped(direction: BridgeDirection, ms: number): void {
    droppedMs[direction] += ms;
  },
  /** A queue grew (positive) or shrank (negative) by `ms` of audio. */
  audioQueued(direction: BridgeDirection, ms: number): void {
    queuedMs[direction] += ms;
  },
  socketOpened(): void {
    openSockets++;
  },
  socketClosed(): void {
    openSockets--;
  },
  connectFailed(): void {
    failedConnects++;
  },

  /** Seconds of audio dropped so far, by direction. */
  droppedSeconds(direction: BridgeDirection): number {
    return droppedMs[direction] / 1000;
  },
  /** Seconds of audio queued now, by direction. */
  queuedSeconds(direction: BridgeDirection): number {
    // Sums of float durations drift by a few ulps; nothing is queued below a microsecond.
    return Math.max(0, Math.round(queuedMs[direction] * 1000) / 1e6);
  },
  get openSockets(): number {
    return openSockets;
  },
  get failedConnects(): number {
    return failedConnects;
  },
};
