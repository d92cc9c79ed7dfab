/**
 * Commit rings without an object per commit: every partition's ring is a fixed-capacity circular
 * buffer inside one growing `Float64Array` per storage (five numbers per commit: offset, order,
 * timestamp, observedAt, lag — NaN for an unknown lag). A million commits take ~40 MB instead of
 * ~115 MB as objects, and the evaluator reads them without allocating.
 *
 * The rules read rings through {@link CommitRing}; `ringOf` adapts a plain array of commits (tests,
 * callers with their own data).
 *
 * @example
 * ```ts
 * const slab = new RingSlab(10)
 * const ring = slab.alloc()
 * ring.push(100, 1, Date.now(), Date.now(), 5)
 * ring.offset(0)      // 100
 * ring.entries()      // [{ offset: 100, order: 1, timestamp, observedAt, lag: 5 }]
 * slab.free(ring)
 * ```
 * @module
 */
import type { CommitEntry } from './status.ts'

/** Read access to one partition's commits, oldest first. */
export interface CommitRing {
  readonly length: number
  offset(i: number): number
  order(i: number): number
  timestamp(i: number): number
  observedAt(i: number): number
  /** Null when unknown. */
  lag(i: number): number | null
  /** A copy of commit `i`. */
  entry(i: number): CommitEntry
}

/** A {@link CommitRing} over an array of commits (oldest first). */
export function ringOf(entries: readonly CommitEntry[]): CommitRing {
  return {
    length: entries.length,
    offset: (i) => entries[i].offset,
    order: (i) => entries[i].order,
    timestamp: (i) => entries[i].timestamp,
    observedAt: (i) => entries[i].observedAt,
    lag: (i) => entries[i].lag,
    entry: (i) => ({ ...entries[i] }),
  }
}

const FIELDS = 5
const OFFSET = 0
const ORDER = 1
const TIMESTAMP = 2
const OBSERVED = 3
const LAG = 4

/** Rings of one capacity in one buffer. */
export class RingSlab {
  readonly capacity: number
  /** The buffer; replaced (copied) when it grows. */
  data: Float64Array
  #slots = 0
  readonly #free: number[] = []

  constructor(capacity: number, initialSlots = 1024) {
    this.capacity = capacity
    this.data = new Float64Array(initialSlots * capacity * FIELDS)
  }

  /** Rings in use. */
  get size(): number {
    return this.#slots - this.#free.length
  }

  /** A new, empty ring. */
  alloc(): SlabRing {
    let slot = this.#free.pop()
    if (slot === undefined) {
      slot = this.#slots++
      const needed = this.#slots * this.capacity * FIELDS
      if (needed > this.data.length) {
        const grown = new Float64Array(Math.max(needed, this.data.length * 2))
        grown.set(this.data)
        this.data = grown
      }
    }
    return new SlabRing(this, slot)
  }

  /** Returns a ring's slot for reuse; the ring must not be used afterwards. */
  free(ring: SlabRing): void {
    if (ring.slot < 0) return
    this.#free.push(ring.slot)
    ring.release()
  }
}

/** One partition's ring inside a {@link RingSlab}. */
export class SlabRing implements CommitRing {
  readonly #slab: RingSlab
  #slot: number
  #head = 0
  #count = 0

  constructor(slab: RingSlab, slot: number) {
    this.#slab = slab
    this.#slot = slot
  }

  get slot(): number {
    return this.#slot
  }

  get length(): number {
    return this.#count
  }

  offset(i: number): number {
    return this.#slab.data[this.#at(i) + OFFSET]
  }

  order(i: number): number {
    return this.#slab.data[this.#at(i) + ORDER]
  }

  timestamp(i: number): number {
    return this.#slab.data[this.#at(i) + TIMESTAMP]
  }

  observedAt(i: number): number {
    return this.#slab.data[this.#at(i) + OBSERVED]
  }

  lag(i: number): number | null {
    const lag = this.#slab.data[this.#at(i) + LAG]
    return Number.isNaN(lag) ? null : lag
  }

  entry(i: number): CommitEntry {
    const d = this.#slab.data
    const at = this.#at(i)
    const lag = d[at + LAG]
    return { offset: d[at + OFFSET], order: d[at + ORDER], timestamp: d[at + TIMESTAMP], observedAt: d[at + OBSERVED], lag: Number.isNaN(lag) ? null : lag }
  }

  /** Copies of all commits, oldest first. */
  entries(): CommitEntry[] {
    const out: CommitEntry[] = []
    for (let i = 0; i < this.#count; i++) out.push(this.entry(i))
    return out
  }

  /** Appends a commit; the oldest falls off a full ring. */
  push(offset: number, order: number, timestamp: number, observedAt: number, lag: number | null): void {
    if (this.#count === this.#slab.capacity) {
      this.#head = (this.#head + 1) % this.#slab.capacity
      this.#count--
    }
    this.#write(this.#count++, offset, order, timestamp, observedAt, lag)
  }

  /** Inserts a commit at position `at` (0 = oldest), shifting newer ones; the oldest falls off a full ring. */
  insert(at: number, offset: number, order: number, timestamp: number, observedAt: number, lag: number | null): void {
    let position = at
    if (this.#count === this.#slab.capacity) {
      this.#head = (this.#head + 1) % this.#slab.capacity
      this.#count--
      position--
    }
    if (position < 0) return
    const d = this.#slab.data
    for (let i = this.#count; i > position; i--) d.copyWithin(this.#at(i), this.#at(i - 1), this.#at(i - 1) + FIELDS)
    this.#count++
    this.#write(position, offset, order, timestamp, observedAt, lag)
  }

  /** Overwrites the newest commit's offset, order, observedAt and lag (its timestamp is kept). */
  overwriteLast(offset: number, order: number, observedAt: number, lag: number | null): void {
    const d = this.#slab.data
    const at = this.#at(this.#count - 1)
    d[at + OFFSET] = offset
    d[at + ORDER] = order
    d[at + OBSERVED] = observedAt
    d[at + LAG] = lag ?? Number.NaN
  }

  /** Called by the slab when the ring is freed. */
  release(): void {
    this.#slot = -1
    this.#count = 0
  }

  #write(i: number, offset: number, order: number, timestamp: number, observedAt: number, lag: number | null): void {
    const d = this.#slab.data
    const at = this.#at(i)
    d[at + OFFSET] = offset
    d[at + ORDER] = order
    d[at + TIMESTAMP] = timestamp
    d[at + OBSERVED] = observedAt
    d[at + LAG] = lag ?? Number.NaN
  }

  #at(i: number): number {
    const capacity = this.#slab.capacity
    return (this.#slot * capacity + ((this.#head + i) % capacity)) * FIELDS
  }
}
