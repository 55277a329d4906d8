/**
 * Which instance owns what, in the registry: one key per peer connection (pc_id -> instance id), and one per
 * `/start` session (its record: the `/start` body, and the owner once its first offer made a connection). A pending
 * record lives for limits.startTtlSecs like a local one (and is written again, for the time it has left, when Redis
 * comes back); owned keys live as long as the connection, kept alive by the owner's heartbeat and deleted when the
 * connection closes.
 */
import type { SessionLifetime } from "../server/sessionHost.ts";
import type { StartSession } from "../server/startSessions.ts";
import { KEY_PREFIX, type Registry } from "./registry.ts";

/** A `/start` session as shared between instances. */
export interface StartRecord {
  body: unknown;
  /** The instance that holds its connection; unset while it waits for its first offer. */
  owner?: string;
}

const pcKey = (pcId: string) => `${KEY_PREFIX}pc:${pcId}`;
const startKey = (id: string) => `${KEY_PREFIX}start:${id}`;

export class Ownership {
  constructor(
    readonly registry: Registry,
    readonly instanceId: string,
    readonly pendingTtlMs: number,
  ) {}

  /** Records that this instance holds the connection `pcId`, for as long as it lives. */
  ownConnection(pcId: string, lifetime: SessionLifetime): Promise<void> {
    // A re-offer answers with the pc_id it renegotiated: already owned.
    return this.#ownWhileOpen(pcKey(pcId), this.instanceId, lifetime);
  }

  /** The instance holding `pcId`, if any is known. */
  ownerOf(pcId: string): Promise<string | undefined> {
    return this.registry.get(pcKey(pcId));
  }

  /** Shares a new `/start` session, to expire as the local one does (after `ttlMs`) if no offer comes. */
  async savePending(session: StartSession, ttlMs = this.pendingTtlMs): Promise<void> {
    const record: StartRecord = { body: session.body };
    await this.registry.put(startKey(session.id), JSON.stringify(record), ttlMs);
  }

  /** Marks the `/start` session as this instance's for the lifetime of its connection. */
  ownStart(session: StartSession, lifetime: SessionLifetime): Promise<void> {
    const record: StartRecord = { body: session.body, owner: this.instanceId };
    return this.#ownWhileOpen(startKey(session.id), JSON.stringify(record), lifetime);
  }

  async #ownWhileOpen(key: string, value: string, lifetime: SessionLifetime): Promise<void> {
    if (lifetime.isClosed || this.registry.owns(key)) return;
    lifetime.once("closed", () => void this.registry.disown(key));
    await this.registry.own(key, value);
  }

  async findStart(id: string): Promise<StartRecord | undefined> {
    const text = await this.registry.get(startKey(id));
    if (text === undefined) return undefined;
    try {
      const record = JSON.parse(text) as StartRecord;
      return typeof record === "object" && record !== null ? record : undefined;
    } catch {
      return undefined;
    }
  }
}
