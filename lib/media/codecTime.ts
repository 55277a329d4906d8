/**
 * CPU time spent in codecs, process-wide, for /metrics: the first number to look at when a box runs out of room.
 * Timing costs two clock reads per frame, against 30-7000 us of codec work.
 */

export type CodecOperation = "encode" | "decode";

const totals = new Map<string, number>();

export function recordCodecTime(codec: string, operation: CodecOperation, ms: number): void {
  const key = `${codec}\u0000${operation}`;
  totals.set(key, (totals.get(key) ?? 0) + ms);
}

/** Runs `work` and adds its duration to the (codec, operation) total. */
export function timeCodec<T>(codec: string, operation: CodecOperation, work: () => T): T {
  const start = performance.now();
  try {
    return work();
  } finally {
    recordCodecTime(codec, operation, performance.now() - start);
  }
}

/** Seconds spent so far, by codec and operation. */
export function codecSeconds(): { codec: string; operation: CodecOperation; seconds: number }[] {
  return [...totals].map(([key, ms]) => {
    const [codec, operation] = key.split("\u0000") as [string, CodecOperation];
    return { codec, operation, seconds: ms / 1000 };
  });
}
