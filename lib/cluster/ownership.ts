/**
 * Which instance owns what, in the registry: one key per peer connection (pc_id -> instance id), and one per
 * `/start` session (its record: the `/start` body, and the owner once its first offer made a connection). A pending
 * record lives for limits.startTtlSecs like a local one; owned keys live as long as the connection, kept alive by the
 * owner's heartbeat and deleted when the connection closes.
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
  async ownConnection(pcId: string, lifetime: SessionLifetime): Promise<void> {
    // A re-offer answers with the pc_id it renegotiated: already owned.
    if (lifetime.isClosed || this.registry.owns(pcKey(pcId))) return;
    lifetime.once("closed", () => void this.registry.disown(pcKey(pcId)));
    await this.registry.own(pcKey(pcId), this.instanceId);
  }

  /** The instance holding `pcId`, if any is known. */
  ownerOf(pcId: string): Promise<string | undefined> {
    return this.registry.get(pcKey(pcId));
  }

  /** Shares a new `/start` session, to expire as the local one does if no offer comes. */
  async savePending(session: StartSession): Promise<void> {
    const record: StartRecord = { body: session.body };
    await this.registry.put(startKey(session.id), JSON.stringify(record), this.pendingTtlMs);
  }

  /** Marks the `/start` session as this instance's for the lifetime of its connection. */
  async ownStart(session: StartSession, lifetime: SessionLifetime): Promise<void> {
    if (lifetime.isClosed || this.registry.owns(startKey(session.id))) return;
    const record: StartRecord = { body: session.body, owner: this.instanceId };
    lifetime.once("closed", () => void this.registry.disown(startKey(session.id)));
    await this.registry.own(startKey(session.id), JSON.stringify(record));
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
