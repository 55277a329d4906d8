/**
 * A FIFO of mono PCM samples in one growable ring buffer. Writers' frames are copied in rather than kept: audio that
 * waits a tick or two in a queue of separate arrays outlives the young-generation collections that run meanwhile,
 * so under load every frame would be promoted to the old space and cost a full collection later. One long-lived
 * buffer per sender costs nothing of the kind.
 */
export class SampleQueue {
  #ring: Int16Array;
  #start = 0;
  #length = 0;

  constructor(initialCapacity: number) {
    this.#ring = new Int16Array(Math.max(1, initialCapacity));
  }

  get length(): number {
    return this.#length;
  }

  push(samples: Int16Array): void {
    if (this.#length + samples.length > this.#ring.length) this.#grow(this.#length + samples.length);
    const end = (this.#start + this.#length) % this.#ring.length;
    const firstPart = Math.min(samples.length, this.#ring.length - end);
    this.#ring.set(samples.subarray(0, firstPart), end);
    this.#ring.set(samples.subarray(firstPart), 0);
    this.#length += samples.length;
  }

  /** Moves up to `into.length` samples into `into`, zero-filling the rest; returns how many were moved. */
  shiftInto(into: Int16Array): number {
    const count = Math.min(into.length, this.#length);
    this.#copyOldest(count, into);
    into.fill(0, count);
    this.#start = (this.#start + count) % this.#ring.length;
    this.#length -= count;
    return count;
  }

  clear(): void {
    this.#start = 0;
    this.#length = 0;
  }

  #grow(needed: number): void {
    let capacity = this.#ring.length * 2;
    while (capacity < needed) capacity *= 2;
    const ring = new Int16Array(capacity);
    this.#copyOldest(this.#length, ring);
    this.#ring = ring;
    this.#start = 0;
  }

  /** Copies the `count` oldest samples, which may wrap around the ring's end, to the start of `into`. */
  #copyOldest(count: number, into: Int16Array): void {
    const firstPart = Math.min(count, this.#ring.length - this.#start);
    into.set(this.#ring.subarray(this.#start, this.#start + firstPart));
    into.set(this.#ring.subarray(0, count - firstPart), firstPart);
  }
}
