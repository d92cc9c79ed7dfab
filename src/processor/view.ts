/**
 * A view: a local replica of every partition of a table (goka's `View`), kept up to date from the
 * table topic, served from local stores with synchronous `get`, `has`, iteration and ranges. A
 * processor's joined table is a view of only the partitions assigned to it ({@link View.replicate}).
 *
 * States: `idle → initializing → connecting → catching-up → running`; on a transient error (broker
 * down) the view goes back to `connecting` and reconnects by itself with backoff
 * (`autoReconnect`, default on), serving its last state meanwhile. `waitRunning()` resolves once
 * the view has caught up with the end of the table as of its (re)connection.
 *
 * @example
 * ```ts
 * const view = new View(log, 'click-counter-table', codecs.json<number>())
 * view.run()
 * await view.waitRunning()
 * view.get('alice') // 3
 * ```
 * @module
 */
import { Backoff, sleep, whenAborted, type BackoffOptions } from '../core/backoff.ts'
import type { Codec } from '../core/codec.ts'
import { TributaryError, isTributaryError } from '../core/errors.ts'
import { rootLogger, type Logger } from '../core/logger.ts'
import type { Record } from '../core/record.ts'
import { resolvePartitioner, type Partitioner, type PartitionerName } from '../log/partitioner.ts'
import type { Log, LogReader } from '../log/types.ts'
import { lmdbStore } from '../state/lmdb-store.ts'
import type { Store, StoreBuilder } from '../state/store.ts'
import { isTransient } from './errors.ts'
import { StateSignal, type StateListener } from './signal.ts'
import { toChanges } from './table-reader.ts'

/** Lifecycle of a view. */
export type ViewState = 'idle' | 'initializing' | 'connecting' | 'catching-up' | 'running' | 'stopping' | 'stopped' | 'failed'

/** Options of a {@link View}. */
export interface ViewOptions<V> {
  /** Builds each partition's store. Default: LMDB under `./.tributary/state/views`, without fsync. */
  storage?: StoreBuilder
  /** Maps keys to partitions; must match the table's writers. Default `murmur2`; `fnv1a` for goka. */
  partitioner?: PartitionerName | Partitioner
  /**
   * Reconnect by itself after transient errors, and wait for a table topic that does not exist yet
   * (default `true`); `false` makes `run` reject instead.
   */
  autoReconnect?: boolean
  /** Reconnect backoff. Default 250 ms doubling up to 10 s. */
  backoff?: BackoffOptions
  /** Called for every applied update (`undefined` for a deletion), after the store was written. */
  onUpdate?: (key: string, value: V | undefined, partition: number) => void
  /**
   * Replicate only these partitions (default: all of them); {@link View.replicate} changes the set
   * later. Reads of a key in another partition throw `TRIB_INVALID_ARGUMENT`.
   */
  partitions?: readonly number[]
  clientId?: string
  logger?: Logger
}

/** Progress of one view partition. */
export interface ViewPartitionStats {
  readonly partition: number
  /** Next table offset to apply. */
  offset: number
  /** Table end when the view last checked. */
  hwm: number
  /** Updates applied since start. */
  updates: number
}

/** Stats of a view. */
export interface ViewStats {
  readonly table: string
  readonly state: ViewState
  readonly partitions: ViewPartitionStats[]
  /** How many times the view reconnected. */
  readonly reconnects: number
}

/** Whether two partition sets (`undefined`: all) are the same. */
function samePartitions(a: ReadonlySet<number> | undefined, b: ReadonlySet<number> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.size === b.size && [...a].every((p) => b.has(p))
}

/** A local replica of a table. */
export class View<V = unknown> {
  readonly table: string
  readonly #log: Log
  readonly #codec: Codec<V>
  readonly #storage: StoreBuilder
  readonly #partitioner: Partitioner
  readonly #autoReconnect: boolean
  readonly #backoff: Backoff
  readonly #onUpdate: ViewOptions<V>['onUpdate']
  readonly #clientId: string | undefined
  readonly #logger: Logger
  readonly #signal = new StateSignal<ViewState>('idle', ['stopped', 'failed'])
  readonly #controller = new AbortController()
  /** One slot per table partition (empty before `run` and after stop); replicated ones hold a store. */
  #stores: (Store | undefined)[] = []
  readonly #stats = new Map<number, ViewPartitionStats>()
  /** The partitions to replicate; `undefined` for all. */
  #wanted: Set<number> | undefined
  /** Aborts the current connection when the set of partitions changes. */
  #resync = new AbortController()
  #reconnects = 0
  #running: Promise<void> | undefined

  constructor(log: Log, table: string, codec: Codec<V>, options: ViewOptions<V> = {}) {
    if (!log || typeof log.consumer !== 'function') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'View: the first argument must be a Log')
    if (typeof table !== 'string' || table === '') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'View: table must be a topic name')
    if (!codec || typeof codec.decode !== 'function') throw new TributaryError('TRIB_INVALID_ARGUMENT', `View of ${table}: codec must have encode and decode`)
    this.table = table
    this.#log = log
    this.#codec = codec
    this.#logger = options.logger ?? rootLogger().child({ component: 'view', table })
    this.#storage = options.storage ?? lmdbStore({ dir: '.tributary/state/views', sync: false, logger: this.#logger })
    this.#partitioner = resolvePartitioner(options.partitioner)
    this.#autoReconnect = options.autoReconnect ?? true
    this.#backoff = new Backoff({ initialMs: 250, maxMs: 10_000, ...options.backoff })
    this.#onUpdate = options.onUpdate
    this.#clientId = options.clientId
    if (options.partitions !== undefined) this.#wanted = this.#partitionSet(options.partitions)
  }

  /** The current state. */
  get state(): ViewState {
    return this.#signal.state
  }

  /** Calls `listener(state, previous)` on every state change; returns a function that unsubscribes. */
  observeStateChanges(listener: StateListener<ViewState>): () => void {
    return this.#signal.observe(listener)
  }

  /** Resolves once the view caught up with its table; rejects if it failed or stopped first. */
  waitRunning(): Promise<void> {
    return this.#signal.waitFor('running')
  }

  /** How many partitions the table has (0 before `run` opened the stores). */
  get partitions(): number {
    return this.#stores.length
  }

  /**
   * Replicates exactly `partitions` from now on (`'all'` for every partition): opens and catches up
   * the new ones, closes the others (their local stores stay on disk for next time). The view
   * leaves `running` at once when the set changes, so `waitRunning()` resolves after the new
   * partitions caught up. A processor calls this for its joined tables on every assignment.
   */
  replicate(partitions: readonly number[] | 'all'): void {
    const wanted = partitions === 'all' ? undefined : this.#partitionSet(partitions)
    if (samePartitions(wanted, this.#wanted)) return
    this.#wanted = wanted
    // Before the stores are open the new set is simply used; once following, reconnect to it.
    if (this.state !== 'connecting' && this.state !== 'catching-up' && this.state !== 'running') return
    this.#signal.set('connecting')
    this.#resync.abort(new TributaryError('TRIB_CLOSED', `view of ${this.table}: the partitions to replicate changed`))
  }

  /**
   * Opens the stores and keeps them up to date until `stop()` or `signal`. Resolves when stopped;
   * rejects on a fatal error (unknown topic, store failure) or, without `autoReconnect`, on a
   * connection error.
   */
  run(signal?: AbortSignal): Promise<void> {
    if (this.#running) throw new TributaryError('TRIB_INVALID_ARGUMENT', `view of ${this.table} was already started`)
    if (signal) {
      if (signal.aborted) this.#controller.abort(signal.reason)
      else signal.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true })
    }
    this.#running = this.#run()
    return this.#running
  }

  /** Stops the view and closes its stores. */
  async stop(): Promise<void> {
    this.#controller.abort(new TributaryError('TRIB_CLOSED', `view of ${this.table} stopped`))
    if (!this.#running) {
      this.#signal.set('stopped')
      return
    }
    await this.#running.catch(() => {})
  }

  /** The decoded value of `key`, or `undefined`. Throws `TRIB_CODEC` if the stored bytes do not decode. */
  get(key: string): V | undefined {
    const bytes = this.getBytes(key)
    if (bytes === undefined) return undefined
    try {
      return this.#codec.decode(bytes)
    } catch (err) {
      throw new TributaryError('TRIB_CODEC', `view of ${this.table}: cannot decode the value of key ${JSON.stringify(key)}: ${(err as Error).message}`, {
        cause: err,
        details: { topic: this.table, key },
      })
    }
  }

  /** Whether `key` has a value. */
  has(key: string): boolean {
    return this.getBytes(key) !== undefined
  }

  /** The raw value of `key`, read from `partition` when given (co-partitioned joins), else the key's partition. */
  getBytes(key: string, partition?: number): Buffer | undefined {
    const stores = this.#requireStores()
    const p = partition ?? this.#partitioner(Buffer.from(key, 'utf8'), stores.length)
    return this.#store(p, key).get(key)
  }

  /** Every entry, partition by partition, each in key order. */
  *iterator(): IterableIterator<[key: string, value: V]> {
    yield* this.range()
  }

  /** Entries with `start <= key < end`, partition by partition, each in key order. */
  *range(start?: string, end?: string): IterableIterator<[key: string, value: V]> {
    for (const store of this.#requireStores()) {
      if (store === undefined) continue
      for (const { key, value } of store.range(start, end)) yield [key, this.#codec.decode(value)]
    }
  }

  /** Removes `key` from the local replica only (goka's `Evict`); the table is unchanged. */
  evict(key: string): void {
    const stores = this.#requireStores()
    this.#store(this.#partitioner(Buffer.from(key, 'utf8'), stores.length), key).delete(key)
  }

  /** Progress per replicated partition. */
  stats(): ViewStats {
    const partitions = [...this.#stats.values()].sort((a, b) => a.partition - b.partition).map((s) => ({ ...s }))
    return { table: this.table, state: this.state, partitions, reconnects: this.#reconnects }
  }

  #requireStores(): (Store | undefined)[] {
    if (this.#stores.length === 0) {
      throw new TributaryError('TRIB_VIEW_NOT_READY', `view of ${this.table} has no stores yet: call run() and await waitRunning()`, { retriable: true, details: { topic: this.table } })
    }
    return this.#stores
  }

  /** The store of partition `p`, which must be replicated. */
  #store(p: number, key: string): Store {
    const store = this.#stores[p]
    if (store === undefined) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `view of ${this.table}: key ${JSON.stringify(key)} is in partition ${p}, which this view does not replicate`, {
        details: { topic: this.table, partition: p, key },
      })
    }
    return store
  }

  #partitionSet(partitions: readonly number[]): Set<number> {
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', `view of ${this.table}: partition ${String(p)} is not a partition number`)
    }
    return new Set(partitions)
  }

  /** Partition numbers with an open store, ascending. */
  #replicated(): number[] {
    const out: number[] = []
    for (let p = 0; p < this.#stores.length; p++) if (this.#stores[p] !== undefined) out.push(p)
    return out
  }

  /** Opens the stores of wanted partitions (side by side) and closes the others. */
  async #syncStores(): Promise<void> {
    const count = this.#stores.length
    const wanted = this.#wanted
    for (const p of wanted ?? []) {
      if (p >= count) throw new TributaryError('TRIB_INVALID_ARGUMENT', `view of ${this.table}: partition ${p} does not exist (the table has ${count})`, { details: { topic: this.table, partition: p } })
    }
    for (let p = 0; p < count; p++) {
      const store = this.#stores[p]
      if (store === undefined || wanted === undefined || wanted.has(p)) continue
      this.#stores[p] = undefined
      this.#stats.delete(p)
      await this.#closeStore(store)
    }
    const opening: Promise<void>[] = []
    for (let p = 0; p < count; p++) {
      if (this.#stores[p] !== undefined || (wanted !== undefined && !wanted.has(p))) continue
      opening.push(
        (async () => {
          const store = await this.#storage({ topic: this.table, partition: p, role: 'view' })
          this.#stores[p] = store
          this.#stats.set(p, { partition: p, offset: store.offset() ?? 0, hwm: 0, updates: 0 })
        })(),
      )
    }
    const results = await Promise.allSettled(opening)
    for (const r of results) if (r.status === 'rejected') throw r.reason
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal
    try {
      this.#signal.set('initializing')
      // A view often starts beside the processor that creates its table: wait for the topic.
      let warned = false
      const partitions = await this.#retrying(async () => {
        try {
          return (await this.#log.admin.describeTopic(this.table)).partitions
        } catch (err) {
          if (!isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC') || !this.#autoReconnect) throw err
          if (!warned) this.#logger.warn({ table: this.table }, 'the table topic does not exist yet; waiting for it')
          warned = true
          throw new TributaryError('TRIB_LOG_UNKNOWN_TOPIC', err.message, { retriable: true, cause: err, details: { topic: this.table } })
        }
      })
      this.#stores = new Array<Store | undefined>(partitions).fill(undefined)
      for (;;) {
        signal.throwIfAborted()
        const resync = (this.#resync = new AbortController())
        const connection = AbortSignal.any([signal, resync.signal])
        try {
          await this.#syncStores()
          await this.#follow(connection)
        } catch (err) {
          if (signal.aborted) throw signal.reason
          if (resync.signal.aborted) continue
          if (!this.#autoReconnect || !isTransient(err)) throw err
          this.#reconnects++
          const delay = this.#backoff.next()
          this.#logger.warn({ err, delay }, 'view lost its connection; serving the last state and reconnecting')
          this.#signal.set('connecting')
          await sleep(delay, connection).catch((reason: unknown) => {
            if (signal.aborted) throw reason
          })
        }
      }
    } catch (err) {
      if (signal.aborted) {
        this.#signal.set('stopping')
        await this.#closeStores()
        this.#signal.set('stopped')
        return
      }
      this.#logger.error({ err }, 'view failed')
      await this.#closeStores()
      this.#signal.set('failed', err)
      throw err
    }
  }

  /** Runs `fn`, retrying transient errors with backoff when auto-reconnecting. */
  async #retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn()
      } catch (err) {
        if (this.#controller.signal.aborted || !this.#autoReconnect || !isTransient(err)) throw err
        await sleep(this.#backoff.next(), this.#controller.signal)
      }
    }
  }

  async #closeStores(): Promise<void> {
    // Stores stay readable until here; afterwards reads throw TRIB_VIEW_NOT_READY.
    const stores = this.#stores
    this.#stores = []
    this.#stats.clear()
    for (const store of stores) if (store !== undefined) await this.#closeStore(store)
  }

  #closeStore(store: Store): Promise<void> {
    return store.close().catch((err: unknown) => this.#logger.warn({ err, store: store.name }, 'closing a view store failed'))
  }

  /** One connection: a group-less reader from the stores' offsets, applying updates until an error. */
  async #follow(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    this.#signal.set('connecting')
    const partitions = this.#replicated()
    if (partitions.length === 0) {
      // Nothing to replicate (a processor with no partitions assigned): idle until the set changes.
      this.#signal.set('running')
      await whenAborted(signal)
      throw signal.reason
    }
    const [starts, ends] = await Promise.all([this.#log.offsets.startOffsets(this.table), this.#log.offsets.endOffsets(this.table)])
    const stores = this.#stores as Store[]
    for (const p of partitions) {
      // A store ahead of its topic belongs to an older incarnation of the topic: start over.
      if ((stores[p].offset() ?? 0) > (ends[p] ?? 0)) stores[p].clear()
    }
    const from = (p: number): number => Math.max(stores[p].offset() ?? 0, starts[p] ?? 0)
    const reader = this.#log.reader({ topic: this.table, partitions, from: new Map(partitions.map((p) => [p, from(p)])), clientId: this.#clientId })
    try {
      let hwm = ends
      for (const p of partitions) {
        const stats = this.#stats.get(p) as ViewPartitionStats
        stats.hwm = hwm[p] ?? 0
        stats.offset = from(p)
      }
      this.#signal.set('catching-up')
      let polls = 0
      for (;;) {
        signal.throwIfAborted()
        const records = await reader.poll({ timeoutMs: 500, signal })
        signal.throwIfAborted()
        if (records.length > 0) {
          this.#apply(records)
          this.#backoff.reset()
        }
        if (this.state === 'catching-up') {
          // Re-read the end every few polls while catching up: writers may have appended meanwhile.
          if (++polls % 20 === 0) hwm = await this.#log.offsets.endOffsets(this.table)
          if (this.#caughtUp(reader, partitions, hwm)) this.#signal.set('running')
        }
      }
    } finally {
      await reader.close().catch(() => {})
    }
  }

  #caughtUp(reader: LogReader, partitions: number[], hwm: number[]): boolean {
    for (const p of partitions) {
      const offset = this.#stores[p]?.offset() ?? 0
      const position = reader.position({ topic: this.table, partition: p }) ?? 0
      if (Math.max(offset, position) < (hwm[p] ?? 0)) return false
    }
    return true
  }

  #apply(records: Record[]): void {
    let start = 0
    while (start < records.length) {
      const partition = records[start].partition
      let end = start + 1
      while (end < records.length && records[end].partition === partition) end++
      const slice = records.slice(start, end)
      start = end
      const store = this.#stores[partition]
      if (!store) continue
      const from = store.offset() ?? 0
      const next = slice[slice.length - 1].offset + 1
      if (next <= from) continue
      const changes = toChanges(slice, from, Number.MAX_SAFE_INTEGER)
      store.write(changes, next)
      const stats = this.#stats.get(partition) as ViewPartitionStats
      stats.offset = next
      if (next > stats.hwm) stats.hwm = next
      stats.updates += changes.length
      if (this.#onUpdate) {
        for (const [key, value] of changes) this.#onUpdate(key, value === null ? undefined : this.#codec.decode(value), partition)
      }
    }
  }
}
