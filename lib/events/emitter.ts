import { type Logger, silentLogger } from "../log/logger.ts";

/** Maps each event name to the tuple of arguments its listeners receive. */
export type EventMap = { [event: string]: unknown[] };
export type Listener<Args extends unknown[]> = (...args: Args) => unknown;

/**
 * A typed event emitter whose listeners cannot hurt it: a listener that throws, or returns a promise that rejects,
 * is logged and the remaining listeners still run. One faulty bot handler must never take a session down.
 */
export class TypedEmitter<Events extends EventMap> {
  #listeners = new Map<keyof Events, Set<Listener<never[]>>>();
  #logger: Logger;

  constructor(logger: Logger = silentLogger) {
    this.#logger = logger;
  }

  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never[]>);
    return () => this.off(event, listener);
  }

  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const off = this.on(event, ((...args: Events[E]) => {
      off();
      return listener(...args);
    }) as Listener<Events[E]>);
    return off;
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never[]>);
  }

  /** Resolves with the arguments of the next `event`, or rejects when `signal` aborts first. */
  next<E extends keyof Events>(event: E, signal?: AbortSignal): Promise<Events[E]> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        off();
        reject(signal!.reason);
      };
      const off = this.once(event, ((...args: Events[E]) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(args);
      }) as Listener<Events[E]>);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        const result = (listener as Listener<Events[E]>)(...args);
        if (result instanceof Promise) result.catch((error) => this.#report(event, error));
      } catch (error) {
        this.#report(event, error);
      }
    }
  }

  #report(event: keyof Events, error: unknown): void {
    this.#logger.error("event listener failed", { event: String(event), error });
  }
}

/** A TypedEmitter whose owner emits from outside, for objects that cannot extend TypedEmitter themselves. */
export class EventHub<Events extends EventMap> extends TypedEmitter<Events> {
  override emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    super.emit(event, ...args);
  }
}
