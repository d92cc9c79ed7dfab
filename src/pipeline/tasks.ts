/**
 * The tasks a worker runs: one source task, processor tasks and destination tasks (Conduit's funnel
 * tasks). A processor or destination task works on a {@link Batch} in place: it replaces records and
 * marks them filtered, nacked or for retry; the worker decides what happens next.
 *
 * - {@link SourceTask} reads a batch and checks that every record has a position.
 * - {@link ProcessorTask} hands the batch's active records (those matching `condition`, if set) to
 *   the processor, on `workers` concurrent calls over contiguous slices whose outcomes are put back
 *   in order. Fewer outcomes than records mark the rest for retry; none at all, too many, or a throw
 *   is an error of the task; an outcome that is not a record, filter, error or split nacks its record.
 * - {@link DestinationTask} writes the active records and checks that the acks name the written
 *   positions in order; an ack with an error nacks its record, missing acks mark the rest for retry.
 *
 * @example
 * ```ts
 * const task = new ProcessorTask('upper', plugin.create(settings, ctx), { workers: 4 })
 * await task.do(batch, signal)
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { Batch } from './batch.ts'
import type { Destination, Source } from './connector.ts'
import { asError, markFatal } from './fatal.ts'
import type { PipelineProcessor, ProcessedRecord } from './processor.ts'
import { MetadataKeys, type PipelineRecord } from './record.ts'

/** Counts a task adds to while it works (the pipeline's counters). */
export interface TaskCounters {
  read: number
  written: number
  filtered: number
  nacked: number
}

const SOURCE_CONNECTOR_ID = MetadataKeys.sourceConnectorId

/** Reads batches from a source and sets `conduit.source.connector.id` on each record. */
export class SourceTask {
  readonly id: string
  readonly plugin: string
  readonly source: Source
  /** The batch `read` returned last, and its raw key and payload bytes (counted in the same pass that checks it; for metrics). */
  lastRead: { readonly records: readonly PipelineRecord[]; readonly rawBytes: number } | undefined

  constructor(id: string, source: Source, plugin = 'unknown') {
    this.id = id
    this.source = source
    this.plugin = plugin
  }

  open(signal: AbortSignal): Promise<void> {
    return this.source.open(signal)
  }

  /** The next records; `[]` when `signal` aborted. Throws `TRIB_PIPELINE_ACK` for a record without a position. */
  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    const records = await this.source.read(signal)
    const id = this.id
    let rawBytes = 0
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      const position = record?.position
      if (!Buffer.isBuffer(position) || position.length === 0) {
        throw markFatal(new TributaryError('TRIB_PIPELINE_ACK', `source ${this.id}: record ${i} of the batch read has an empty position; every record needs one to be acknowledged`))
      }
      // Conduit's source node stamps every record with the connector's id. Connectors that know
      // it may set it already (in sorted key order, which keeps the JSON writer's fast path).
      const metadata = record.metadata
      if (metadata[SOURCE_CONNECTOR_ID] !== id) metadata[SOURCE_CONNECTOR_ID] = id
      const { key, payload } = record
      if (key !== null && Buffer.isBuffer(key)) rawBytes += key.byteLength
      if (payload !== null && payload !== undefined) {
        if (payload.before !== null && Buffer.isBuffer(payload.before)) rawBytes += payload.before.byteLength
        if (payload.after !== null && Buffer.isBuffer(payload.after)) rawBytes += payload.after.byteLength
      }
    }
    this.lastRead = { records, rawBytes }
    return records
  }

  /** Acknowledges positions (never empty ones: `TRIB_PIPELINE_ACK`). */
  ack(positions: readonly Buffer[]): Promise<void> {
    for (const p of positions) {
      if (p.length === 0) throw markFatal(new TributaryError('TRIB_PIPELINE_ACK', `source ${this.id}: refusing to acknowledge an empty position`))
    }
    return this.source.ack(positions)
  }

  teardown(): Promise<void> {
    return this.source.teardown()
  }
}

/** Options of a {@link ProcessorTask}. */
export interface ProcessorTaskOptions {
  /** Only records for which this is true are processed; the others pass unchanged. */
  condition?: (record: PipelineRecord) => boolean
  /** Concurrent calls of `process` over slices of the batch (default 1). */
  workers?: number
  plugin?: string
}

function isRecordLike(value: unknown): value is PipelineRecord {
  if (typeof value !== 'object' || value === null) return false
  const r = value as PipelineRecord
  return Buffer.isBuffer(r.position) && typeof r.operation === 'string' && typeof r.metadata === 'object' && r.metadata !== null && typeof r.payload === 'object' && r.payload !== null
}

/** Runs a processor over a batch. */
export class ProcessorTask {
  readonly id: string
  readonly plugin: string
  readonly processor: PipelineProcessor
  readonly #condition: ((record: PipelineRecord) => boolean) | undefined
  readonly #workers: number
  counters: TaskCounters | undefined

  constructor(id: string, processor: PipelineProcessor, options: ProcessorTaskOptions = {}) {
    this.id = id
    this.processor = processor
    this.#condition = options.condition
    this.#workers = Math.max(1, Math.floor(options.workers ?? 1))
    this.plugin = options.plugin ?? 'unknown'
  }

  async open(signal: AbortSignal): Promise<void> {
    await this.processor.open?.(signal)
  }

  async close(): Promise<void> {
    await this.processor.teardown?.()
  }

  /** Processes the batch's active records in place. */
  async do(batch: Batch, signal: AbortSignal): Promise<void> {
    if (!batch.hasActiveRecords()) return
    const active = batch.activeRecords()
    let slots: number[] | undefined // selected active record → slot; undefined: active record i → batch.slotOf(i)
    let input: readonly PipelineRecord[] = active
    if (this.#condition) {
      const selected: PipelineRecord[] = []
      slots = []
      for (let i = 0; i < active.length; i++) {
        let keep: boolean
        try {
          keep = this.#condition(active[i])
        } catch (err) {
          batch.nackSlot(batch.slotOf(i), new TributaryError('TRIB_PIPELINE_PROCESSOR', `processor ${this.id}: condition failed: ${asError(err).message}`, { cause: err }), this.id)
          continue
        }
        if (keep) {
          selected.push(active[i])
          slots.push(batch.slotOf(i))
        }
      }
      if (selected.length === 0) return
      input = selected
    } else if (batch.filteredCount > 0) {
      slots = new Array(active.length)
      for (let i = 0; i < active.length; i++) slots[i] = batch.slotOf(i)
    }
    const slotOf = slots ? (i: number): number => slots[i] : (i: number): number => i
    if (this.#workers === 1 || input.length < 2) {
      const outcomes = await this.#call(input, signal)
      this.#apply(batch, input.length, outcomes, 0, slotOf)
      return
    }
    const parts = Math.min(this.#workers, input.length)
    const size = Math.ceil(input.length / parts)
    const calls: Promise<ProcessedRecord[]>[] = []
    for (let from = 0; from < input.length; from += size) calls.push(this.#call(input.slice(from, from + size), signal))
    const results = await Promise.all(calls)
    const splits = new Map<number, readonly PipelineRecord[]>()
    for (let c = 0; c < results.length; c++) {
      const from = c * size
      const n = Math.min(size, input.length - from)
      this.#apply(batch, n, results[c], from, slotOf, splits)
    }
    if (splits.size > 0) batch.splitSlots(splits)
  }

  async #call(records: readonly PipelineRecord[], signal: AbortSignal): Promise<ProcessedRecord[]> {
    let outcomes: ProcessedRecord[]
    try {
      outcomes = await this.processor.process(records, signal)
    } catch (err) {
      throw new TributaryError('TRIB_PIPELINE_PROCESSOR', `processor ${this.id}: ${asError(err).message}`, { cause: err })
    }
    if (!Array.isArray(outcomes)) throw new TributaryError('TRIB_PIPELINE_PROCESSOR', `processor ${this.id} returned ${outcomes === null ? 'null' : typeof outcomes} instead of an array of outcomes`)
    if (outcomes.length === 0) throw new TributaryError('TRIB_PIPELINE_PROCESSOR', `processor ${this.id} returned no outcomes for ${records.length} record(s)`)
    if (outcomes.length > records.length) throw new TributaryError('TRIB_PIPELINE_PROCESSOR', `processor ${this.id} returned ${outcomes.length} outcomes for ${records.length} record(s)`)
    return outcomes
  }

  #apply(batch: Batch, n: number, outcomes: ProcessedRecord[], from: number, slotOf: (i: number) => number, pending?: Map<number, readonly PipelineRecord[]>): void {
    let splits = pending
    for (let k = 0; k < outcomes.length; k++) {
      const outcome = outcomes[k] as unknown
      const slot = slotOf(from + k)
      if (typeof outcome === 'object' && outcome !== null && 'kind' in outcome) {
        const o = outcome as ProcessedRecord & { kind: unknown }
        if (o.kind === 'filter') {
          batch.filterSlot(slot)
          if (this.counters) this.counters.filtered++
          continue
        }
        if (o.kind === 'error') {
          batch.nackSlot(slot, asError((o as { error: unknown }).error), this.id)
          continue
        }
        if (o.kind === 'multi' && Array.isArray((o as { records: unknown }).records) && (o as { records: unknown[] }).records.every(isRecordLike)) {
          splits ??= new Map()
          splits.set(slot, (o as { records: PipelineRecord[] }).records)
          continue
        }
      } else if (isRecordLike(outcome)) {
        batch.records[slot] = outcome
        continue
      }
      batch.nackSlot(slot, new TributaryError('TRIB_PIPELINE_PROCESSOR', `processor ${this.id} returned an invalid outcome for record ${from + k} (${describe(outcome)}); expected a record, filterRecord(), errorRecord() or multiRecord()`), this.id)
    }
    for (let k = outcomes.length; k < n; k++) batch.retrySlot(slotOf(from + k))
    if (!pending && splits && splits.size > 0) batch.splitSlots(splits)
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value !== 'object') return typeof value
  const keys = Object.keys(value).slice(0, 5)
  return `an object with ${keys.length === 0 ? 'no fields' : `fields ${keys.join(', ')}`}`
}

/** Writes batches to a destination. */
export class DestinationTask {
  readonly id: string
  readonly plugin: string
  readonly destination: Destination
  counters: TaskCounters | undefined

  constructor(id: string, destination: Destination, plugin = 'unknown') {
    this.id = id
    this.destination = destination
    this.plugin = plugin
  }

  open(signal: AbortSignal): Promise<void> {
    return this.destination.open(signal)
  }

  close(): Promise<void> {
    return this.destination.teardown()
  }

  /** Writes the active records; acks with errors nack, missing acks retry. Mismatched acks are fatal. */
  async do(batch: Batch, signal: AbortSignal): Promise<void> {
    if (!batch.hasActiveRecords()) return
    const records = batch.activeRecords()
    const acks = await this.destination.write(records, signal)
    if (!Array.isArray(acks) || acks.length > records.length) {
      throw markFatal(new TributaryError('TRIB_PIPELINE_ACK', `destination ${this.id} answered ${Array.isArray(acks) ? acks.length : 'no'} acks for ${records.length} records`))
    }
    let written = 0
    for (let i = 0; i < acks.length; i++) {
      const ack = acks[i]
      const expected = records[i].position
      if (!ack || (ack.position !== expected && (!Buffer.isBuffer(ack.position) || !ack.position.equals(expected)))) {
        throw markFatal(
          new TributaryError(
            'TRIB_PIPELINE_ACK',
            `destination ${this.id}: ack ${i} is for position ${ack && Buffer.isBuffer(ack.position) ? ack.position.toString('base64') : String(ack?.position)} but record ${i} written has position ${expected.toString('base64')}; acks must match the written positions in order`,
          ),
        )
      }
      if (ack.error !== undefined && ack.error !== null) batch.nack(i, asError(ack.error), this.id)
      else written++
    }
    if (this.counters) this.counters.written += written
    if (acks.length < records.length) batch.retry(acks.length, records.length)
  }
}
