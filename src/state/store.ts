/**
 * The `Store` interface: the local, per-partition state of a table (a processor's group table or a
 * view's replica), with the changelog offset it reflects kept beside the data.
 *
 * Keys are strings (UTF-8), values raw bytes: codecs live in the layers above. Iteration is in
 * byte order of the UTF-8 keys, like LevelDB and LMDB. Reads are synchronous, so a processor
 * callback can read its row without awaiting; writes come in batches, one transaction per batch,
 * and a batch may carry the changelog offset so the data and the offset never disagree.
 *
 * Concurrency contract: one store is used by one partition processor (or one view partition) at a
 * time; the owner serialises writes. Reads may interleave with writes from the same thread.
 *
 * @example
 * ```ts
 * const store = await memoryStore()({ topic: 'clicks-table', partition: 0, role: 'processor' })
 * store.write([['alice', Buffer.from('3')], ['bob', null]], 42) // set alice, delete bob, next changelog offset 42
 * store.get('alice')?.toString() // '3'
 * store.offset() // 42
 * ```
 * @module
 */

/** One key/value pair of a store. */
export interface StoreEntry {
  readonly key: string
  readonly value: Buffer
}

/** A change in a batch: a value sets the key, `null` deletes it (a tombstone). */
export type StoreChange = readonly [key: string, value: Buffer | null]

/** Which table partition a store holds, and for whom. */
export interface StoreSpec {
  /** The table topic (`<group>-table` for group tables). */
  readonly topic: string
  readonly partition: number
  /** `processor`: a group table owned by a processor; `view`: a replica kept by a view. */
  readonly role: 'processor' | 'view'
}

/** The local state of one table partition. */
export interface Store {
  /** `topic/partition`, for logs and errors. */
  readonly name: string
  /** The value of `key`, or `undefined`. */
  get(key: string): Buffer | undefined
  /** Whether `key` has a value. */
  has(key: string): boolean
  /** Sets one key (its own transaction; use {@link Store.write} for many). */
  set(key: string, value: Buffer): void
  /** Deletes one key (its own transaction). */
  delete(key: string): void
  /**
   * Applies `changes` in order in one transaction, and, when given, stores `offset` (the next
   * changelog offset to read) in the same transaction.
   */
  write(changes: Iterable<StoreChange>, offset?: number): void
  /** The stored changelog offset (the next offset to read), or `undefined` if none was stored. */
  offset(): number | undefined
  /** Stores the changelog offset alone. */
  setOffset(offset: number): void
  /** Every entry, in key order. */
  iterate(): IterableIterator<StoreEntry>
  /** Entries with `start <= key < end` in key order (`undefined` bounds are open). */
  range(start?: string, end?: string): IterableIterator<StoreEntry>
  /** The number of entries. */
  size(): number
  /** Deletes every entry and the stored offset. */
  clear(): void
  /** Releases the store (files stay, for the next start). */
  close(): Promise<void>
}

/**
 * Opens the store of a table partition, like goka's `storage.Builder`. Processors and views call it
 * once per partition they hold; return a fresh or a previously persisted store.
 */
export type StoreBuilder = (spec: StoreSpec) => Store | Promise<Store>

/**
 * Compares two keys in UTF-8 byte order (the order of LMDB and LevelDB), which is code point order.
 * Plain `<` on JS strings compares UTF-16 code units and differs for characters above U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF: they sort after every BMP character.
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    if (xs !== ys) return xs ? 1 : -1
    return x < y ? -1 : 1
  }
  return a.length - b.length
}
