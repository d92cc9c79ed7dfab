/**
 * The message context handed to process callbacks (goka's `Context`): the input message's metadata,
 * the group-table row of its key, and the ways to emit.
 *
 * Misuse fails at the call with `TRIB_PROCESSOR_UNDECLARED` naming the missing edge: `emit` to a
 * topic without an `output` edge, `value`/`setValue`/`delete` without `persist`, `join`/`lookup`
 * of an undeclared table, `loopback` without `loop`. The error stops the processor.
 *
 * A context is valid only during its callback (and the promise it returns): do not keep it.
 *
 * @example
 * ```ts
 * input('clicks', codecs.json<Click>(), (ctx: Context<number>, click) => {
 *   const count = (ctx.value() ?? 0) + 1
 *   ctx.setValue(count)
 *   if (count % 100 === 0) ctx.emit('milestones', ctx.key, `${ctx.key} reached ${count}`)
 * })
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { toHeaders, type Headers, type ProduceRecord, type Record } from '../core/record.ts'
import type { Edge, GroupGraph } from './graph.ts'

/** Options of `ctx.emit` and `ctx.loopback`. */
export interface EmitOptions {
  /** Headers of the emitted message. */
  headers?: ProduceRecord['headers']
  /** Timestamp of the emitted message; by default the input message's. */
  timestamp?: number
}

/** What a process callback can see and do. `S` is the type of the group table's values. */
export interface Context<S = unknown> {
  /** The processor group. */
  readonly group: string
  /** The topic of the input message (an input stream or the loop). */
  readonly topic: string
  /** The key of the input message (UTF-8; `''` for a message without key). */
  readonly key: string
  readonly partition: number
  readonly offset: number
  /** The input message's timestamp (ms since the epoch). */
  readonly timestamp: number
  /** The input message's headers, in order. */
  readonly headers: Headers
  /** Aborts when the partition is being stopped (rebalance, shutdown): pass it to slow async work. */
  readonly signal: AbortSignal
  /** The first header named `name`, if any. */
  header(name: string): Buffer | undefined
  /** The group-table value of the message's key (needs `persist`). */
  value(): S | undefined
  /** Sets the group-table value of the message's key (needs `persist`). */
  setValue(value: S): void
  /** Deletes the message's key from the group table, writing a tombstone (needs `persist`). */
  delete(): void
  /** Emits a message to a declared `output` topic, encoded with its codec. */
  emit(topic: string, key: string, message: unknown, options?: EmitOptions): void
  /** Emits a message to the group's loop topic, processed by the `loop` callback (needs `loop`). */
  loopback(key: string, message: unknown, options?: EmitOptions): void
  /** The value of the message's key in a joined, co-partitioned table (needs `join(table)`). */
  join<V = unknown>(table: string): V | undefined
  /** The value of `key` in a lookup table (needs `lookup(table)`). */
  lookup<V = unknown>(table: string, key: string): V | undefined
  /** Stops the processor with `TRIB_PROCESSOR_FAILED` and `reason` as the cause. Never returns. */
  fail(reason: unknown): never
}

/** A message a callback produced, not yet sent. */
export interface OutRecord {
  readonly topic: string
  readonly key: string
  readonly value: Buffer | null
  /** Set for group-table writes (the input's partition); otherwise the partitioner decides. */
  readonly partition?: number
  readonly timestamp: number
  readonly headers?: Headers
}

/** What a context needs from the partition processor running it. */
export interface ContextHost {
  readonly graph: GroupGraph
  readonly partition: number
  readonly signal: AbortSignal
  /** The group-table row of `key` (including writes not yet committed). */
  tableGet(key: string): Buffer | undefined
  /**
   * Writes (or, with `null`, deletes) the row of `key` and queues its changelog record; `keyBytes`,
   * when given, is `key` already encoded.
   */
  tableSet(key: string, value: Buffer | null, timestamp: number, keyBytes?: Buffer): void
  /** Queues a message for an output or the loop topic. */
  produce(record: OutRecord): void
  /** The raw value of `key` in a joined or lookup table. */
  tableRead(table: string, key: string): Buffer | undefined
}

function undeclared(graph: GroupGraph, problem: string, fix: string, details: { [k: string]: unknown } = {}): TributaryError {
  return new TributaryError('TRIB_PROCESSOR_UNDECLARED', `group ${graph.group}: ${problem}; ${fix}`, { details: { group: graph.group, ...details } })
}

/** Decodes a table value; `key` names it in the error (the message is built only on failure). */
function decodeWith(edge: Edge, bytes: Buffer, key: string): unknown {
  try {
    return edge.codec.decode(bytes)
  } catch (err) {
    throw new TributaryError('TRIB_CODEC', `cannot decode the ${edge.topic} value of key ${JSON.stringify(key)}: ${(err as Error).message}`, {
      cause: err,
      details: { topic: edge.topic, key },
    })
  }
}

/** The context of one input message. */
export class MessageContext<S = unknown> implements Context<S> {
  readonly #host: ContextHost
  readonly #record: Record
  readonly key: string

  constructor(host: ContextHost, record: Record, key: string) {
    this.#host = host
    this.#record = record
    this.key = key
  }

  get group(): string {
    return this.#host.graph.group
  }

  get topic(): string {
    return this.#record.topic
  }

  get partition(): number {
    return this.#record.partition
  }

  get offset(): number {
    return this.#record.offset
  }

  get timestamp(): number {
    return this.#record.timestamp
  }

  get headers(): Headers {
    return this.#record.headers
  }

  get signal(): AbortSignal {
    return this.#host.signal
  }

  header(name: string): Buffer | undefined {
    for (const [n, v] of this.#record.headers) if (n === name) return v
    return undefined
  }

  value(): S | undefined {
    const edge = this.#persist('value()')
    const bytes = this.#host.tableGet(this.key)
    if (bytes === undefined) return undefined
    return decodeWith(edge, bytes, this.key) as S
  }

  setValue(value: S): void {
    const edge = this.#persist('setValue()')
    if (value === undefined || value === null) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `group ${this.group}: setValue(${String(value)}) for key ${JSON.stringify(this.key)}; use ctx.delete() to remove a row`)
    }
    this.#host.tableSet(this.key, edge.codec.encode(value), this.#record.timestamp, this.#record.key ?? undefined)
  }

  delete(): void {
    this.#persist('delete()')
    this.#host.tableSet(this.key, null, this.#record.timestamp, this.#record.key ?? undefined)
  }

  emit(topic: string, key: string, message: unknown, options: EmitOptions = {}): void {
    const graph = this.#host.graph
    const edge = graph.edge(topic, 'output')
    if (!edge) {
      if (topic === graph.loopStream) throw undeclared(graph, `emit to the loop topic ${topic}`, 'use ctx.loopback(key, message)', { topic })
      if (topic === graph.groupTable) throw undeclared(graph, `emit to the group table ${topic}`, 'use ctx.setValue(value)', { topic })
      throw undeclared(graph, `emit to topic ${JSON.stringify(topic)}, which has no output edge`, `add output(${JSON.stringify(topic)}, codec) to defineGroup`, { topic })
    }
    this.#out(edge, key, message, options)
  }

  loopback(key: string, message: unknown, options: EmitOptions = {}): void {
    const graph = this.#host.graph
    const edge = graph.loopEdge
    if (!edge) throw undeclared(graph, 'loopback() without a loop edge', 'add loop(codec, callback) to defineGroup')
    this.#out(edge, key, message, options)
  }

  join<V = unknown>(table: string): V | undefined {
    const graph = this.#host.graph
    const edge = graph.edge(table, 'join')
    if (!edge) {
      const hint = graph.edge(table, 'lookup') ? `it is declared as lookup: use ctx.lookup(${JSON.stringify(table)}, key)` : `add join(${JSON.stringify(table)}, codec) to defineGroup`
      throw undeclared(graph, `join(${JSON.stringify(table)}) of a table that is not joined`, hint, { table })
    }
    const bytes = this.#host.tableRead(table, this.key)
    return bytes === undefined ? undefined : (decodeWith(edge, bytes, this.key) as V)
  }

  lookup<V = unknown>(table: string, key: string): V | undefined {
    const graph = this.#host.graph
    const edge = graph.edge(table, 'lookup')
    if (!edge) {
      const hint = graph.edge(table, 'join') ? `it is declared as join: use ctx.join(${JSON.stringify(table)})` : `add lookup(${JSON.stringify(table)}, codec) to defineGroup`
      throw undeclared(graph, `lookup(${JSON.stringify(table)}) of a table that is not looked up`, hint, { table })
    }
    const bytes = this.#host.tableRead(table, key)
    return bytes === undefined ? undefined : (decodeWith(edge, bytes, key) as V)
  }

  fail(reason: unknown): never {
    const message = reason instanceof Error ? reason.message : String(reason)
    throw new TributaryError('TRIB_PROCESSOR_FAILED', `group ${this.group}: the callback failed ${this.topic}/${this.partition} at offset ${this.offset}: ${message}`, {
      cause: reason,
      details: { group: this.group, topic: this.topic, partition: this.partition, offset: this.offset, key: this.key },
    })
  }

  #persist(call: string): Edge {
    const graph = this.#host.graph
    const edge = graph.groupTableEdge
    if (!edge) throw undeclared(graph, `${call} without a group table`, 'add persist(codec) to defineGroup')
    return edge
  }

  #out(edge: Edge, key: string, message: unknown, options: EmitOptions): void {
    const value = message === null || message === undefined ? null : edge.codec.encode(message)
    this.#host.produce({
      topic: edge.topic,
      key,
      value,
      timestamp: options.timestamp ?? this.#record.timestamp,
      headers: options.headers === undefined ? undefined : toHeaders(options.headers),
    })
  }
}
