/**
 * A deterministic, in-memory test harness for group graphs (goka's `tester`): no log, no broker, no
 * timers. Feed input messages, then read group-table values and emitted messages.
 *
 * Messages are processed in order, to completion, by the same partition-processor code a real
 * processor runs (so context errors, nil handling and bad-input handling behave the same). Emits
 * to a topic another registered graph consumes, and loopbacks, are delivered in the same `consume`
 * call, breadth first. Table writes are visible at once.
 *
 * @example
 * ```ts
 * const tester = new Tester()
 * tester.register(graph)
 * await tester.consume('clicks', 'alice', { page: '/' })
 * assert.equal(tester.tableValue('click-counter-table', 'alice'), 1)
 * assert.deepEqual(tester.emitted('alerts').map((m) => m.value), [])
 * ```
 * @module
 */
import type { Codec } from '../core/codec.ts'
import { TributaryError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { NO_HEADERS, toHeaders, type Headers, type ProduceRecord, type Record } from '../core/record.ts'
import { resolvePartitioner, type Partitioner, type PartitionerName } from '../log/partitioner.ts'
import { MemoryStore } from '../state/memory-store.ts'
import type { Edge, GroupGraph } from './graph.ts'
import type { BadInputPolicy, NilHandling } from './options.ts'
import { PartitionProcessor, type PartitionStats } from './partition-processor.ts'

/** Options of a {@link Tester}. */
export interface TesterOptions {
  /** Partitions of every topic. Default 1. */
  partitions?: number
  /** Default `murmur2`. */
  partitioner?: PartitionerName | Partitioner
  /** Where skipped-message warnings go. Default: a silent logger. */
  logger?: Logger
}

/** Per-graph options of {@link Tester.register}. */
export interface TesterGraphOptions {
  nilHandling?: NilHandling
  badInput?: BadInputPolicy
}

/** A message the graphs emitted. */
export interface EmittedMessage<M> {
  readonly key: string
  readonly value: M | undefined
  readonly partition: number
  readonly headers: Headers
  readonly timestamp: number
}

/** Options of one fed message. */
export interface ConsumeOptions {
  headers?: ProduceRecord['headers']
  timestamp?: number
}

interface Registered {
  readonly graph: GroupGraph
  readonly options: Required<TesterGraphOptions>
  readonly partitions: Map<number, PartitionProcessor>
}

interface Queued {
  readonly topic: string
  readonly partition: number
  readonly key: string
  readonly value: Buffer | null
  readonly headers: Headers
  readonly timestamp: number
}

/** Runs group graphs in memory. */
export class Tester {
  readonly #partitions: number
  readonly #partitioner: Partitioner
  readonly #logger: Logger
  readonly #graphs: Registered[] = []
  readonly #tables = new Map<string, MemoryStore[]>()
  readonly #emitted = new Map<string, Queued[]>()
  readonly #offsets = new Map<string, number>()
  #clock = 0
  #chain: Promise<unknown> = Promise.resolve()

  constructor(options: TesterOptions = {}) {
    const partitions = options.partitions ?? 1
    if (!Number.isInteger(partitions) || partitions < 1) throw new TributaryError('TRIB_INVALID_ARGUMENT', `/options/partitions: must be a positive integer, got ${partitions}`)
    this.#partitions = partitions
    this.#partitioner = resolvePartitioner(options.partitioner)
    this.#logger = options.logger ?? createLogger({ level: 'silent' })
  }

  /** Adds a graph (validated) to run on fed messages. */
  register(graph: GroupGraph, options: TesterGraphOptions = {}): this {
    graph.validate()
    if (this.#graphs.some((g) => g.graph.group === graph.group)) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `tester: group ${graph.group} is registered already`)
    }
    this.#graphs.push({ graph, options: { nilHandling: options.nilHandling ?? 'ignore', badInput: options.badInput ?? 'fail' }, partitions: new Map() })
    return this
  }

  /** Feeds a message encoded with the codec of the topic's input edge, and processes everything it causes. */
  async consume(topic: string, key: string, message: unknown, options: ConsumeOptions = {}): Promise<void> {
    const edge = this.#edgeFor(topic, ['input', 'loop'])
    const value = message === null || message === undefined ? null : edge.codec.encode(message)
    await this.consumeBytes(topic, key, value, options)
  }

  /** Feeds raw bytes (or `null`), e.g. to test undecodable input or nil handling. */
  consumeBytes(topic: string, key: string, value: Buffer | null, options: ConsumeOptions = {}): Promise<void> {
    // Calls made without awaiting the previous one still run one after the other.
    const run = this.#chain.then(() => this.#run(topic, key, value, options))
    this.#chain = run.catch(() => {})
    return run
  }

  async #run(topic: string, key: string, value: Buffer | null, options: ConsumeOptions): Promise<void> {
    const queue: Queued[] = [this.#message(topic, key, value, options.headers, options.timestamp)]
    while (queue.length > 0) {
      const next = queue.shift() as Queued
      for (const registered of this.#graphs) {
        if (!registered.graph.consumedTopics.includes(next.topic)) continue
        await this.#deliver(registered, next, queue)
      }
    }
  }

  /** The decoded value of `key` in a table (a group table or a table set with {@link setTableValue}). */
  tableValue<V = unknown>(table: string, key: string): V | undefined {
    const bytes = this.#table(table)[this.#partition(key)].get(key)
    if (bytes === undefined) return undefined
    return this.#edgeFor(table, ['persist', 'join', 'lookup']).codec.decode(bytes) as V
  }

  /** Sets a row of a joined or lookup table (or a group table), encoded with that table's codec. */
  setTableValue(table: string, key: string, value: unknown): void {
    const edge = this.#edgeFor(table, ['persist', 'join', 'lookup'])
    this.#table(table)[this.#partition(key)].set(key, edge.codec.encode(value))
  }

  /** Deletes a row of a table. */
  deleteTableValue(table: string, key: string): void {
    this.#table(table)[this.#partition(key)].delete(key)
  }

  /** Every key/value of a table, decoded. */
  tableEntries<V = unknown>(table: string): [key: string, value: V][] {
    const codec = this.#edgeFor(table, ['persist', 'join', 'lookup']).codec as Codec<V>
    return this.#table(table).flatMap((store) => [...store.iterate()].map((e): [string, V] => [e.key, codec.decode(e.value)]))
  }

  /** Messages emitted to `topic` (an output or the loop), decoded with its codec, in order. */
  emitted<M = unknown>(topic: string): EmittedMessage<M>[] {
    const list = this.#emitted.get(topic) ?? []
    const codec = this.#edgeFor(topic, ['output', 'loop', 'input']).codec as Codec<M>
    return list.map((m) => ({ key: m.key, value: m.value === null ? undefined : codec.decode(m.value), partition: m.partition, headers: m.headers, timestamp: m.timestamp }))
  }

  /** Forgets emitted messages (of one topic, or all). */
  clearEmitted(topic?: string): void {
    if (topic === undefined) this.#emitted.clear()
    else this.#emitted.delete(topic)
  }

  /** Stats of a registered group's partitions. */
  stats(group: string): PartitionStats[] {
    const registered = this.#graphs.find((g) => g.graph.group === group)
    if (!registered) throw new TributaryError('TRIB_INVALID_ARGUMENT', `tester: group ${group} is not registered`)
    return [...registered.partitions.values()].map((pp) => structuredClone(pp.stats))
  }

  #partition(key: string): number {
    return this.#partitioner(Buffer.from(key, 'utf8'), this.#partitions)
  }

  #table(topic: string): MemoryStore[] {
    let stores = this.#tables.get(topic)
    if (!stores) {
      stores = Array.from({ length: this.#partitions }, (_, p) => new MemoryStore(`${topic}/${p}`))
      this.#tables.set(topic, stores)
    }
    return stores
  }

  #edgeFor(topic: string, kinds: Edge['kind'][]): Edge {
    for (const { graph } of this.#graphs) {
      for (const edge of graph.edges) if (edge.topic === topic && kinds.includes(edge.kind)) return edge
    }
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `tester: no registered graph has a ${kinds.join('/')} edge for topic ${JSON.stringify(topic)}`)
  }

  #message(topic: string, key: string, value: Buffer | null, headers: ProduceRecord['headers'], timestamp: number | undefined, partition?: number): Queued {
    return {
      topic,
      partition: partition ?? this.#partition(key),
      key,
      value,
      headers: headers === undefined ? NO_HEADERS : toHeaders(headers),
      timestamp: timestamp ?? ++this.#clock,
    }
  }

  #processor(registered: Registered, partition: number): PartitionProcessor {
    let pp = registered.partitions.get(partition)
    if (pp) return pp
    const { graph, options } = registered
    pp = new PartitionProcessor(graph, partition, {
      nilHandling: options.nilHandling,
      badInput: options.badInput,
      logger: this.#logger,
      tableRead: (table, key, p) => this.#table(table)[p ?? this.#partition(key)].get(key),
    })
    if (graph.groupTableEdge) pp.attach(this.#table(graph.groupTable)[partition])
    pp.state.set('running')
    registered.partitions.set(partition, pp)
    return pp
  }

  async #deliver(registered: Registered, message: Queued, queue: Queued[]): Promise<void> {
    const pp = this.#processor(registered, message.partition)
    const offsetKey = `${registered.graph.group}:${message.topic}/${message.partition}`
    const offset = this.#offsets.get(offsetKey) ?? 0
    this.#offsets.set(offsetKey, offset + 1)
    const record: Record = {
      topic: message.topic,
      partition: message.partition,
      offset,
      timestamp: message.timestamp,
      key: Buffer.from(message.key, 'utf8'),
      value: message.value,
      headers: message.headers,
    }
    try {
      const pending = pp.process(record)
      if (pending !== undefined) await pending
    } catch (err) {
      pp.discard()
      throw err
    }
    const outputs = pp.takeOutputs()
    pp.commitStore()
    for (const out of outputs) {
      if (out.topic === registered.graph.groupTable) continue
      const key = typeof out.key === 'string' ? out.key : (out.key?.toString('utf8') ?? '')
      const value = typeof out.value === 'string' ? Buffer.from(out.value) : out.value
      const emitted = this.#message(out.topic, key, value, out.headers, out.timestamp, out.partition)
      let list = this.#emitted.get(out.topic)
      if (!list) this.#emitted.set(out.topic, (list = []))
      list.push(emitted)
      queue.push(emitted)
    }
  }
}
