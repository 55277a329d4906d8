/**
 * Waiting in tests: on a condition, never on a fixed time. `eventually` polls until what the test expects has
 * happened; `consistently` proves that something keeps holding for a bounded window (pair it with a positive
 * control in the same test, so a window in which nothing at all happened cannot pass for success). Plain timers
 * only, so the browser probe page can use it too.
 */

type Falsy = false | 0 | "" | null | undefined;

export interface PollOptions {
  /** Time between two checks; default 20 ms. Longer for costly checks, or ones that change what they observe. */
  pollMs?: number;
}

/**
 * Polls `condition` (sync or async) until it returns a truthy value, and returns that value. A condition that throws
 * counts as not yet met. At the deadline it throws an error naming `what`, with the last error the condition threw.
 */
export async function eventually<T>(
  condition: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  { pollMs = 20 }: PollOptions = {},
): Promise<Exclude<T, Falsy>> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Exclude<T, Falsy>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) break;
    await pause(Math.min(pollMs, deadline - performance.now()));
  }
  const cause = lastError === undefined ? "" : `: ${describe(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}

/**
 * Polls `condition` for `windowMs` and throws, naming `what`, the first time it is false (or throws). For "this never
 * happens" checks, which can only ever be bounded.
 */
export async function consistently(
  condition: () => unknown,
  windowMs: number,
  what: string,
  { pollMs = 20 }: PollOptions = {},
): Promise<void> {
  const end = performance.now() + windowMs;
  for (;;) {
    let held: unknown;
    try {
      held = await condition();
    } catch (error) {
      throw new Error(`${what} stopped holding: ${describe(error)}`);
    }
    if (!held) throw new Error(`${what} stopped holding after ${Math.round(windowMs - (end - performance.now()))} ms`);
    if (performance.now() >= end) return;
    await pause(Math.min(pollMs, end - performance.now()));
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** The error's message on one line (an `expect` failure spans several). */
function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
}
