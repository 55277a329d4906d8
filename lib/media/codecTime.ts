/**
 * CPU time spent in codecs, process-wide, for /metrics: the first number to look at when a box runs out of room.
 * Timing costs two clock reads per frame, against 30-7000 us of codec work.
 */

export type CodecOperation = "encode" | "decode";

/**
 * One codec operation's running total. Callers on the per-packet path keep theirs and time the work themselves, so
 * timing makes no closure and no lookup key per packet.
 */
export class CodecTimer {
  ms = 0;

  constructor(readonly codec: string, readonly operation: CodecOperation) {}

  /** Adds the time since `start`, a performance.now() reading. */
  addSince(start: number): void {
    this.ms += performance.now() - start;
  }
}

const timers = new Map<string, CodecTimer>();

/** The process-wide timer of one codec operation. */
export function codecTimer(codec: string, operation: CodecOperation): CodecTimer {
  const key = `${codec}\u0000${operation}`;
  let timer = timers.get(key);
  if (!timer) timers.set(key, (timer = new CodecTimer(codec, operation)));
  return timer;
}

export function recordCodecTime(codec: string, operation: CodecOperation, ms: number): void {
  codecTimer(codec, operation).ms += ms;
}

/** Seconds spent so far, by codec and operation. */
export function codecSeconds(): { codec: string; operation: CodecOperation; seconds: number }[] {
  return [...timers.values()].map(({ codec, operation, ms }) => ({ codec, operation, seconds: ms / 1000 }));
}
