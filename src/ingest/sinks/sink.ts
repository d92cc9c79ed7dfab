/**
 * The sink interface of ingestion jobs, and the pipeline destination that drives a sink with the
 * job's retry failure handler.
 *
 * A sink saves a batch of rows atomically or throws. When a save fails, the destination retries it
 * with AresDB's intervals (`failureHandler.config`); when the retry window is used up every record
 * of the batch is nacked with the last error, so the pipeline puts them in the job's DLQ and only
 * then commits their offsets. Nothing is acknowledged that was not saved or dead-lettered.
 *
 * @example
 * ```ts
 * class MySink implements IngestSink { ... }
 * const destination = new SinkDestination(job, new MySink(), logger)
 * ```
 * @module
 */
import type { Logger } from '../../core/logger.ts'
import type { Destination, DestinationAck } from '../../pipeline/connector.ts'
import { decodeLogPosition } from '../../pipeline/connectors/tributary-log/position.ts'
import type { PipelineRecord, StructuredData } from '../../pipeline/record.ts'
import type { JobConfig } from '../job-config.ts'
import { RetryFailureHandler } from '../retry-handler.ts'
import type { Row } from '../row-mapper.ts'

/** Where a row came from: the partition and offset of its message. */
export interface RowOrigin {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** Where mapped rows go. */
export interface IngestSink {
  /** A short description for logs and status (`postgresql table public.trips`). */
  readonly description: string
  open(signal: AbortSignal): Promise<void>
  /**
   * Saves `rows` (values in the order of the job's columns) all or nothing. `origins[i]` is where
   * `rows[i]` came from (null when unknown); a sink that stores offsets with the rows uses them to
   * apply each message at most once.
   */
  save(rows: readonly Row[], signal: AbortSignal, origins: readonly (RowOrigin | null)[]): Promise<void>
  close(): Promise<void>
}

/** The partition and offset in a log source's position, or null for other sources. */
function originOf(record: PipelineRecord): RowOrigin | null {
  try {
    const p = decodeLogPosition(record.position)
    return { topic: p.topic, partition: p.partition, offset: p.offset }
  } catch {
    return null
  }
}

/** Counters a {@link SinkDestination} keeps. */
export interface SinkCounters {
  savedRows: number
  failedSaves: number
  retriedSaves: number
  deadLetteredRows: number
}

/** A pipeline destination writing through an {@link IngestSink} with the job's retry handler. */
export class SinkDestination implements Destination {
  readonly counters: SinkCounters = { savedRows: 0, failedSaves: 0, retriedSaves: 0, deadLetteredRows: 0 }
  readonly #job: JobConfig
  readonly #sink: IngestSink
  readonly #retry: RetryFailureHandler
  readonly #logger: Logger

  constructor(job: JobConfig, sink: IngestSink, logger: Logger, retry?: RetryFailureHandler) {
    this.#job = job
    this.#sink = sink
    this.#logger = logger
    this.#retry = retry ?? new RetryFailureHandler(job.streamConfig.failureHandler.config)
  }

  open(signal: AbortSignal): Promise<void> {
    return this.#sink.open(signal)
  }

  async write(records: readonly PipelineRecord[], signal: AbortSignal): Promise<DestinationAck[]> {
    const columns = this.#job.rules.columns
    const rows: Row[] = records.map((r) => {
      const after = r.payload.after as StructuredData
      return columns.map((c) => after[c.name] ?? null)
    })
    const origins = records.map(originOf)
    const save = (): Promise<void> => this.#sink.save(rows, signal, origins)
    try {
      await save()
    } catch (first) {
      this.counters.failedSaves++
      this.#logger.warn({ err: (first as Error).message, rows: rows.length }, `job ${this.#job.job}: saving to ${this.#sink.description} failed; retrying`)
      const outcome = await this.#retry.handle(first, save, signal)
      this.counters.retriedSaves += outcome.attempts
      if (!outcome.ok) {
        const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error))
        this.counters.deadLetteredRows += rows.length
        this.#logger.error({ err: error.message, rows: rows.length }, `job ${this.#job.job}: ${this.#sink.description} still failing after retries; the batch goes to the DLQ`)
        const nack = new Error(`job ${this.#job.job}: ${this.#sink.description}: ${error.message}`, { cause: error })
        return records.map((r) => ({ position: r.position, error: nack }))
      }
    }
    this.counters.savedRows += rows.length
    return records.map((r) => ({ position: r.position }))
  }

  teardown(): Promise<void> {
    return this.#sink.close()
  }
}
