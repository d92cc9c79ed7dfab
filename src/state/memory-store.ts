/**
 * The in-memory {@link Store}: a `Map` plus a lazily sorted key list for ordered iteration. For
 * tests, the test harness and small tables; nothing survives the process.
 *
 * @example
 * ```ts
 * const processor = new Processor(log, graph, { storage: memoryStore() })
 * ```
 * @module
 */
import { compareKeys, type Store, type StoreBuilder, type StoreChange, type StoreEntry, type StoreSpec } from './store.ts'

/** A store held in a `Map`. */
export class MemoryStore implements Store {
  readonly name: string
  readonly #data = new Map<string, Buffer>()
  #sorted: string[] | undefined
  #offset: number | undefined

  constructor(name: string) {
    this.name = name
  }

  get(key: string): Buffer | undefined {
    return this.#data.get(key)
  }

  has(key: string): boolean {
    return this.#data.has(key)
  }

  set(key: string, value: Buffer): void {
    if (!this.#data.has(key)) this.#sorted = undefined
    this.#data.set(key, value)
  }

  delete(key: string): void {
    if (this.#data.delete(key)) this.#sorted = undefined
  }

  write(changes: Iterable<StoreChange>, offset?: number): void {
    for (const [key, value] of changes) {
      if (value === null) this.delete(key)
      else this.set(key, value)
    }
    if (offset !== undefined) this.#offset = offset
  }

  offset(): number | undefined {
    return this.#offset
  }

  setOffset(offset: number): void {
    this.#offset = offset
  }

  iterate(): IterableIterator<StoreEntry> {
    return this.range()
  }

  *range(start?: string, end?: string): IterableIterator<StoreEntry> {
    const keys = this.#keys()
    let i = 0
    if (start !== undefined) {
      let lo = 0
      let hi = keys.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (compareKeys(keys[mid], start) < 0) lo = mid + 1
        else hi = mid
      }
      i = lo
    }
    for (; i < keys.length; i++) {
      const key = keys[i]
      if (end !== undefined && compareKeys(key, end) >= 0) return
      const value = this.#data.get(key)
      // Keys deleted while iterating are skipped.
      if (value !== undefined) yield { key, value }
    }
  }

  size(): number {
    return this.#data.size
  }

  clear(): void {
    this.#data.clear()
    this.#sorted = undefined
    this.#offset = undefined
  }

  async close(): Promise<void> {}

  #keys(): string[] {
    this.#sorted ??= [...this.#data.keys()].sort(compareKeys)
    return this.#sorted
  }
}

/**
 * A {@link StoreBuilder} of in-memory stores (goka's `storage.MemoryBuilder`). Each call opens an
 * empty store, so a restarted processor recovers its whole table from the changelog.
 */
export function memoryStore(): StoreBuilder {
  return (spec: StoreSpec) => new MemoryStore(`${spec.topic}/${spec.partition}`)
}
