/**
 * Time as the media code sees it: a monotonic millisecond clock and one-shot timers. Production uses the real
 * ones; tests pass a virtual clock so pacing can be checked over minutes of simulated time, deterministically.
 */
export interface Clock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
