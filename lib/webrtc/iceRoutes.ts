/**
 * Who owns the traffic on a shared port, as single-port UDP, ICE over TCP and the workers' relays route it: an ICE
 * ufrag names its owner (a STUN binding request carries it in USERNAME), and a client address belongs to the owner it
 * was last seen with. Owners are whatever the router hands traffic to: a session's transport, or a worker's index.
 */
import type { Address } from "./udpMux.ts";

/** Bound on remembered client addresses: a flood of spoofed sources cannot grow memory without limit. */
const MAX_ADDRESSES = 65_536;

export class IceRoutes<Owner> {
  readonly #byUfrag = new Map<string, Owner>();
  readonly #byAddress = new Map<string, Owner>();

  /** Ufrags known. */
  get size(): number {
    return this.#byUfrag.size;
  }

  assign(ufrag: string, owner: Owner): void {
    this.#byUfrag.set(ufrag, owner);
  }

  byUfrag(ufrag: string): Owner | undefined {
    return this.#byUfrag.get(ufrag);
  }

  /** Remembers that `address` talks with `owner` (the oldest address is forgotten beyond the bound). */
  remember(address: Address, owner: Owner): void {
    const key = `${address[0]}:${address[1]}`;
    if (this.#byAddress.get(key) === owner) return;
    if (this.#byAddress.size >= MAX_ADDRESSES) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    this.#byAddress.set(key, owner);
  }

  byAddress(address: Address): Owner | undefined {
    return this.#byAddress.get(`${address[0]}:${address[1]}`);
  }

  forgetUfrags(ufrags: readonly string[]): void {
    for (const ufrag of ufrags) this.#byUfrag.delete(ufrag);
  }

  /** Forgets everything `owner` had; returns its ufrags. */
  forgetOwner(owner: Owner): string[] {
    const ufrags: string[] = [];
    for (const [ufrag, known] of this.#byUfrag) {
      if (known !== owner) continue;
      this.#byUfrag.delete(ufrag);
      ufrags.push(ufrag);
    }
    for (const [key, known] of this.#byAddress) if (known === owner) this.#byAddress.delete(key);
    return ufrags;
  }
}
