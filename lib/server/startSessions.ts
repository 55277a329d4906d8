/**
 * Sessions created by `POST /start` (the Pipecat Cloud style flow). Each remembers the `/start` body for the bot and
 * stays valid for as long as its peer connection lives, so that later PATCHes, renegotiations and ICE restarts on
 * `/sessions/:id/api/offer` keep working. Sessions still waiting for their first offer are bounded in number and age.
 */
import { randomUUID } from "node:crypto";
import type { SessionLifetime } from "./sessionHost.ts";

export interface StartSession {
  id: string;
  body: unknown;
  createdAt: number;
  /** Set once the first offer created a connection; the session then lives until that connection closes. */
  active: boolean;
}

export interface StartSessionsOptions {
  maxPending: number;
  pendingTtlMs: number;
  now?: () => number;
}

export class StartSessions {
  #sessions = new Map<string, StartSession>();
  readonly #options: StartSessionsOptions;
  readonly #now: () => number;

  constructor(options: StartSessionsOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(body: unknown): StartSession {
    return this.#add(randomUUID(), body);
  }

  /**
   * Takes in a pending session created elsewhere (another instance's `/start`), so that its offer can be answered
   * here; a session already known is returned as it is.
   */
  adopt(id: string, body: unknown): StartSession {
    return this.get(id) ?? this.#add(id, body);
  }

  get(id: string): StartSession | undefined {
    this.#prune();
    return this.#sessions.get(id);
  }

  /** Sessions still waiting for their first offer, each with the time it has left. */
  pending(): { session: StartSession; remainingMs: number }[] {
    this.#prune();
    const now = this.#now();
    return [...this.#sessions.values()].filter((session) => !session.active)
      .map((session) => ({ session, remainingMs: session.createdAt + this.#options.pendingTtlMs - now }));
  }

  /** Binds the session to the lifetime of the connection its first offer created. */
  activate(id: string, connection: SessionLifetime): void {
    const session = this.#sessions.get(id);
    if (!session || session.active || connection.isClosed) return;
    session.active = true;
    connection.once("closed", () => this.#sessions.delete(id));
  }

  #add(id: string, body: unknown): StartSession {
    this.#prune();
    const pending = [...this.#sessions.values()].filter((session) => !session.active);
    // Map iteration is insertion order, so the first pending sessions are the oldest.
    for (const oldest of pending.slice(0, Math.max(0, pending.length - this.#options.maxPending + 1))) {
      this.#sessions.delete(oldest.id);
    }
    const session: StartSession = { id, body, createdAt: this.#now(), active: false };
    this.#sessions.set(session.id, session);
    return session;
  }

  #prune(): void {
    const cutoff = this.#now() - this.#options.pendingTtlMs;
    for (const session of this.#sessions.values()) {
      if (!session.active && session.createdAt < cutoff) this.#sessions.delete(session.id);
    }
  }
}
