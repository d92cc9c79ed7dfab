/**
 * One partition of a processor: its group-table store with a write-back cache, the messages its
 * callbacks produced, the input offsets it processed, its stats and its lifecycle
 * (`idle → recovering → waiting → running → stopping → stopped`).
 *
 * Messages are processed one at a time. Table writes go to the cache and queue a changelog record
 * for the input's partition; the owner sends the queued records, and at commit time writes the cache
 * to the store in one transaction together with the changelog offset after the acknowledged writes,
 * then commits the input offsets. So an input offset is committed only after everything it caused
 * is acknowledged (at-least-once), and the store's offset always matches its data.
 *
 * @example
 * ```ts
 * const pp = new PartitionProcessor(graph, 0, env)
 * pp.attach(store)
 * pp.state.set('running')
 * pp.process(record)
 * ```
 * @module
 */
import { TributaryError, isTributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { ProduceRecord, Record, RecordMetadata, TopicPartitionOffset } from '../core/record.ts'
import type { Store } from '../state/store.ts'
import { MessageContext, type ContextHost, type OutRecord } from './context.ts'
import type { Edge, GroupGraph } from './graph.ts'
import type { BadInputPolicy, NilHandling } from './options.ts'
import { StateSignal } from './signal.ts'

/** Lifecycle of a partition processor. */
export type PartitionState = 'idle' | 'recovering' | 'waiting' | 'running' | 'stopping' | 'stopped'

/** Counts of one input topic. */
export interface InputStats {
  count: number
  bytes: number
  /** Offset of the last processed message, -1 before the first. */
  lastOffset: number
  /** Messages behind the end of the partition (filled in by `Processor.stats()`). */
  lag?: number
}

/** Counts of one output (including the group table and the loop). */
export interface OutputStats {
  count: number
  bytes: number
}

/** Recovery progress of the group-table partition. */
export interface RecoveryStats {
  /** Changelog offset recovery started from. */
  startOffset: number
  /** Next changelog offset to apply. */
  offset: number
  /** Changelog end when recovery started. */
  hwm: number
  records: number
  startedAt?: number
  finishedAt?: number
}

/** Stats of one partition (goka's `PartitionProcStats`). */
export interface PartitionStats {
  readonly partition: number
  state: PartitionState
  recovery: RecoveryStats
  input: { [topic: string]: InputStats }
  output: { [topic: string]: OutputStats }
  /** Undecodable messages skipped (`badInput: 'skip'`). */
  skipped: number
  /** `null` messages skipped (`nilHandling: 'ignore'`). */
  nilSkipped: number
}

/** What a partition processor needs from its owner. */
export interface PartitionEnv {
  readonly nilHandling: NilHandling
  readonly badInput: BadInputPolicy
  readonly logger: Logger
  /** Raw value of `key` in a joined (co-partitioned, read at `partition`) or lookup table. */
  tableRead(table: string, key: string, partition: number | undefined): Buffer | undefined
}

const EMPTY = Buffer.alloc(0)

function countOutput(stats: OutputStats, value: Buffer | null): void {
  stats.count++
  if (value !== null) stats.bytes += value.length
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
}

/** Processes the messages of one partition. */
export class PartitionProcessor implements ContextHost {
  readonly graph: GroupGraph
  readonly partition: number
  readonly state = new StateSignal<PartitionState>('idle', ['stopped'])
  readonly stats: PartitionStats
  readonly #env: PartitionEnv
  readonly #controller = new AbortController()
  /** Per consumed topic: its edge, and its stats once a message arrived. */
  readonly #inputs = new Map<string, { edge: Edge; stats?: InputStats }>()
  readonly #tableTopic: string | undefined
  #tableStats: OutputStats | undefined
  #store: Store | undefined
  /** Table writes not yet in the store: value, or null for a delete. */
  readonly #dirty = new Map<string, Buffer | null>()
  #outputs: ProduceRecord[] = []
  /**
   * Group-table writes not yet sent: the last one per key. Earlier writes of a key in the same send
   * would be overwritten in the compacted changelog anyway, and no reader could see them apart: the
   * whole batch is sent at once after the poll that caused it.
   */
  readonly #unsent = new Map<string, ProduceRecord>()
  /** The changelog offset after the last acknowledged table write (what the store will record). */
  #changelogNext = -1
  #storedChangelog = -1
  /** Per input topic: the next offset to commit (processed up to, exclusive). */
  readonly #positions = new Map<string, number>()
  readonly #committed = new Map<string, number>()

  constructor(graph: GroupGraph, partition: number, env: PartitionEnv) {
    this.graph = graph
    this.partition = partition
    this.#env = env
    for (const e of graph.edges) if (e.kind === 'input' || e.kind === 'loop') this.#inputs.set(e.topic, { edge: e })
    this.#tableTopic = graph.groupTableEdge?.topic
    this.stats = {
      partition,
      state: 'idle',
      recovery: { startOffset: 0, offset: 0, hwm: 0, records: 0 },
      input: {},
      output: {},
      skipped: 0,
      nilSkipped: 0,
    }
    this.state.observe((s) => {
      this.stats.state = s
    })
  }

  /** Aborts when the partition stops; handed to callbacks as `ctx.signal`. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** The group-table store (after {@link attach}). */
  get store(): Store | undefined {
    return this.#store
  }

  /** Uses `store` for the group table; its offset is the changelog position recovery continues from. */
  attach(store: Store): void {
    this.#store = store
    const offset = store.offset() ?? -1
    this.#changelogNext = offset
    this.#storedChangelog = offset
  }

  /** Recovery applied the changelog up to `next` (exclusive) to the store. */
  recovered(next: number): void {
    this.#changelogNext = Math.max(this.#changelogNext, next)
    this.#storedChangelog = this.#changelogNext
  }

  /** Aborts the partition's signal (recovery and async callbacks see it). */
  abort(): void {
    this.#controller.abort(new TributaryError('TRIB_CLOSED', `partition ${this.partition} of group ${this.graph.group} is stopping`))
  }

  // ---- ContextHost

  tableGet(key: string): Buffer | undefined {
    const pending = this.#dirty.get(key)
    if (pending !== undefined) return pending === null ? undefined : pending
    return this.#store?.get(key)
  }

  tableSet(key: string, value: Buffer | null, timestamp: number, keyBytes?: Buffer): void {
    const topic = this.#tableTopic as string
    this.#dirty.set(key, value)
    this.#unsent.set(key, { topic, partition: this.partition, key: keyBytes ?? key, value, timestamp })
    countOutput((this.#tableStats ??= this.#outputStats(topic)), value)
  }

  produce(record: OutRecord): void {
    this.#outputs.push(record as ProduceRecord)
    countOutput(this.#outputStats(record.topic), record.value)
  }

  tableRead(table: string, key: string): Buffer | undefined {
    const joined = this.graph.edge(table, 'join') !== undefined
    return this.#env.tableRead(table, key, joined ? this.partition : undefined)
  }

  // ---- processing

  /**
   * Processes one input message. Returns a promise only when the callback returned one. Throws (or
   * rejects) with `TRIB_CODEC` for an undecodable message (unless `badInput: 'skip'`),
   * `TRIB_PROCESSOR_FAILED` after `ctx.fail()`, the callback's `TRIB_PROCESSOR_UNDECLARED`, or
   * `TRIB_PROCESSOR_CALLBACK` wrapping anything else it threw.
   */
  process(record: Record): void | Promise<void> {
    const consumed = this.#inputs.get(record.topic)
    if (!consumed) return this.#done(record)
    const edge = consumed.edge
    const input = (consumed.stats ??= this.stats.input[record.topic] = { count: 0, bytes: 0, lastOffset: -1 })
    input.count++
    input.bytes += record.value === null ? 0 : record.value.length
    input.lastOffset = record.offset
    let message: unknown
    if (record.value === null && this.#env.nilHandling !== 'decode') {
      if (this.#env.nilHandling === 'ignore') {
        this.stats.nilSkipped++
        return this.#done(record)
      }
      message = undefined
    } else {
      try {
        message = edge.codec.decode(record.value ?? EMPTY)
      } catch (err) {
        const error = new TributaryError(
          'TRIB_CODEC',
          `group ${this.graph.group}: cannot decode the message at ${record.topic}/${record.partition} offset ${record.offset}: ${(err as Error).message}`,
          { cause: err, details: { group: this.graph.group, topic: record.topic, partition: record.partition, offset: record.offset } },
        )
        if (this.#env.badInput === 'fail') throw error
        this.stats.skipped++
        this.#env.logger.warn({ topic: record.topic, partition: record.partition, offset: record.offset, err: (err as Error).message }, 'skipped an undecodable input message')
        return this.#done(record)
      }
    }
    const ctx = new MessageContext(this, record, record.key === null ? '' : record.key.toString('utf8'))
    let result: unknown
    try {
      result = (edge.callback as NonNullable<Edge['callback']>)(ctx, message)
    } catch (err) {
      throw this.#callbackError(err, record)
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        () => this.#done(record),
        (err: unknown) => {
          throw this.#callbackError(err, record)
        },
      )
    }
    this.#done(record)
  }

  #done(record: Record): void {
    this.#positions.set(record.topic, record.offset + 1)
  }

  #callbackError(err: unknown, record: Record): TributaryError {
    if (isTributaryError(err) && (err.code === 'TRIB_PROCESSOR_FAILED' || err.code === 'TRIB_PROCESSOR_UNDECLARED' || err.code === 'TRIB_CODEC')) return err
    const reason = err instanceof Error ? err.message : String(err)
    return new TributaryError(
      'TRIB_PROCESSOR_CALLBACK',
      `group ${this.graph.group}: the callback for ${record.topic}/${record.partition} offset ${record.offset} threw: ${reason}`,
      { cause: err, details: { group: this.graph.group, topic: record.topic, partition: record.partition, offset: record.offset } },
    )
  }

  #outputStats(topic: string): OutputStats {
    return (this.stats.output[topic] ??= { count: 0, bytes: 0 })
  }

  // ---- flushing and committing

  /** Whether callbacks queued messages that were not taken yet. */
  get hasOutputs(): boolean {
    return this.#outputs.length > 0 || this.#unsent.size > 0
  }

  /** Takes the queued messages (to send them in order): emits, then the last table write per key. */
  takeOutputs(): ProduceRecord[] {
    const out = this.#outputs
    this.#outputs = []
    for (const record of this.#unsent.values()) out.push(record)
    this.#unsent.clear()
    return out
  }

  /** Records where the sent messages landed: the changelog offset the store will record. */
  acknowledged(metadata: readonly RecordMetadata[]): void {
    const table = this.#tableTopic
    if (table === undefined) return
    for (let i = metadata.length - 1; i >= 0; i--) {
      const m = metadata[i]
      if (m.topic === table) {
        if (m.offset + 1 > this.#changelogNext) this.#changelogNext = m.offset + 1
        return
      }
    }
  }

  /**
   * Writes the cached table changes and the changelog offset to the store in one transaction. Call
   * only when every sent message was acknowledged.
   */
  commitStore(): void {
    const store = this.#store
    if (!store) return
    if (this.#dirty.size === 0 && this.#changelogNext === this.#storedChangelog) return
    store.write(this.#dirty, this.#changelogNext >= 0 ? this.#changelogNext : undefined)
    this.#dirty.clear()
    this.#storedChangelog = this.#changelogNext
  }

  /** Input offsets processed since the last call, to commit. */
  takeCommitOffsets(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = []
    for (const [topic, offset] of this.#positions) {
      if (this.#committed.get(topic) !== offset) out.push({ topic, partition: this.partition, offset })
    }
    return out
  }

  /** The offsets were committed. */
  markCommitted(offsets: readonly TopicPartitionOffset[]): void {
    for (const o of offsets) if (o.partition === this.partition) this.#committed.set(o.topic, o.offset)
  }

  /** Drops uncommitted table changes (the store keeps its last committed state). */
  discard(): void {
    this.#dirty.clear()
    this.#outputs = []
    this.#unsent.clear()
  }

  /** Stops and closes the store. */
  async close(): Promise<void> {
    this.abort()
    this.state.set('stopping')
    try {
      await this.#store?.close()
    } finally {
      this.#store = undefined
      this.state.set('stopped')
    }
  }
}
