/**
 * `tributary/state`: the `Store` interface for table partitions and its implementations — LMDB (the
 * default, on disk) and memory (tests, small tables).
 *
 * @example
 * ```ts
 * import { lmdbStore, memoryStore } from 'tributary/state'
 * const storage = process.env.NODE_ENV === 'test' ? memoryStore() : lmdbStore({ dir: './state' })
 * ```
 * @module
 */
export { compareKeys, type Store, type StoreBuilder, type StoreChange, type StoreEntry, type StoreSpec } from './store.ts'
export { MemoryStore, memoryStore } from './memory-store.ts'
export { lmdbStore, type LmdbStoreOptions } from './lmdb-store.ts'
