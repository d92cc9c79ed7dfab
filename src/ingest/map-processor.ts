/**
 * The job's processor in the pipeline: decodes each message (JSON, AresDB's only decoder), holds
 * the stream to `megaBytePerSec`, and maps it to a row of the job's table.
 *
 * A mapped record carries the row as structured `payload.after` (column → typed value) and the
 * original message bytes as `payload.before`, so the DLQ and sinks see both. A message that cannot
 * become a row — not JSON, not an object, a null primary key, a fact table's missing event time, a
 * value that does not fit its column — becomes an error outcome: the record is nacked and lands in
 * the job's DLQ with the reason, counted per reason. AresDB panicked on the first and silently
 * dropped the others.
 *
 * @example
 * ```ts
 * const processor = new JobMapProcessor(job, { onReject: (reason) => metrics.rejected.inc({ reason }) })
 * const outcomes = await processor.process(records, signal)
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { PipelineProcessor, ProcessedRecord } from '../pipeline/processor.ts'
import { errorRecord } from '../pipeline/processor.ts'
import type { PipelineRecord, StructuredData } from '../pipeline/record.ts'
import type { JobConfig } from './job-config.ts'
import { RateLimiter } from './rate-limiter.ts'
import { RowMapper, type RejectReason } from './row-mapper.ts'

/** Why a message was rejected, including messages that are not JSON at all. */
export type RejectKind = RejectReason | 'not_json'

/** Options of {@link JobMapProcessor}. */
export interface JobMapProcessorOptions {
  /** Called once per rejected message. */
  onReject?: (reason: RejectKind, message: string) => void
  /** Bytes per second; default the job's `megaBytePerSec`. */
  bytesPerSec?: number
}

/** Where a record came from, for messages: topic, partition and offset when the source said. */
function origin(record: PipelineRecord): string {
  const topic = record.metadata['opencdc.collection']
  const text = record.position.toString('utf8')
  try {
    const p = JSON.parse(text) as { Partition?: number; Offset?: number }
    if (typeof p.Partition === 'number' && typeof p.Offset === 'number') return `${topic ?? '?'}/${p.Partition}@${p.Offset}`
  } catch {
    // not a log position: fall through
  }
  return `${topic ? `${topic} ` : ''}position ${text}`
}

/** Decodes and maps messages of one job. */
export class JobMapProcessor implements PipelineProcessor {
  readonly #job: JobConfig
  readonly #mapper: RowMapper
  readonly #limiter: RateLimiter
  readonly #onReject: (reason: RejectKind, message: string) => void

  constructor(job: JobConfig, options: JobMapProcessorOptions = {}) {
    this.#job = job
    this.#mapper = new RowMapper(job.rules)
    this.#limiter = new RateLimiter(options.bytesPerSec ?? job.streamConfig.megaBytePerSec * 1024 * 1024)
    this.#onReject = options.onReject ?? (() => {})
  }

  #reject(record: PipelineRecord, reason: RejectKind, message: string): ProcessedRecord {
    this.#onReject(reason, message)
    return errorRecord(new TributaryError('TRIB_INGEST_ROW', `job ${this.#job.job}: message ${origin(record)}: ${message}`, { details: { job: this.#job.job, reason } }))
  }

  async process(records: readonly PipelineRecord[], signal: AbortSignal): Promise<ProcessedRecord[]> {
    let bytes = 0
    for (const r of records) bytes += Buffer.isBuffer(r.payload.after) ? r.payload.after.length : 0
    await this.#limiter.take(bytes, signal)
    const columns = this.#job.rules.columns
    const out: ProcessedRecord[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      const raw = record.payload.after
      let message: unknown
      if (Buffer.isBuffer(raw)) {
        try {
          message = JSON.parse(raw.toString('utf8'))
        } catch (err) {
          out[i] = this.#reject(record, 'not_json', `not JSON (${(err as Error).message})`)
          continue
        }
      } else {
        message = raw
      }
      const mapped = this.#mapper.map(message)
      if (!mapped.ok) {
        out[i] = this.#reject(record, mapped.reason, mapped.message)
        continue
      }
      const row: StructuredData = {}
      for (let c = 0; c < columns.length; c++) row[columns[c].name] = mapped.row[c]
      out[i] = { ...record, payload: { before: Buffer.isBuffer(raw) ? raw : null, after: row } }
    }
    return out
  }
}
