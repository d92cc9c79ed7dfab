/**
 * The dead-letter queue: where nacked records go, through any destination plugin, guarded by
 * Conduit's nack window ({@link NackWindow}).
 *
 * Each nacked record is first counted in the window. When the window refuses it, the pipeline stops:
 * with `window-nack-threshold` above 0 with a fatal `TRIB_PIPELINE_NACK` ("threshold exceeded"),
 * with threshold 0 (the default) with the record's own error, which is not fatal (the pipeline
 * restarts with backoff and meets the record again). Accepted records are written as Conduit shapes
 * them ({@link dlqRecord}); a failed write is fatal (`TRIB_PIPELINE_DLQ`, pipeline `degraded`).
 *
 * @example
 * ```ts
 * const dlq = new DeadLetterQueue({ destination, windowSize: 10, windowNackThreshold: 2, sourceConnectorId: 'p:src' })
 * const { written, error } = await dlq.write(nackRun, signal)
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { Batch } from './batch.ts'
import type { Destination } from './connector.ts'
import { NackWindow } from './dlq-window.ts'
import { asError, markFatal } from './fatal.ts'
import { MetadataKeys, recordToJsonValue, unixNanos, type PipelineRecord, type StructuredData } from './record.ts'

/** Options of a {@link DeadLetterQueue}. */
export interface DeadLetterQueueOptions {
  destination: Destination
  /** Node id for logs and errors (default `dlq`). */
  id?: string
  plugin?: string
  /** Conduit `window-size` (default 1). */
  windowSize?: number
  /** Conduit `window-nack-threshold` (default 0). */
  windowNackThreshold?: number
  /** The pipeline's source connector id, stamped as `conduit.source.connector.id`. */
  sourceConnectorId: string
}

/** What {@link DeadLetterQueue.write} did: how many records of the run are safely in the DLQ, and why it stopped if it did. */
export interface DlqWriteResult {
  written: number
  error?: Error
}

/**
 * The record Conduit writes to a DLQ for `record` nacked by `nodeId` with `error`: operation create,
 * no key, `payload.after` the original record as a structured map (raw parts base64, as Go marshals
 * bytes), and the DLQ metadata.
 */
export function dlqRecord(record: PipelineRecord, error: Error, nodeId: string, sourceConnectorId: string): PipelineRecord {
  return {
    position: record.position,
    operation: 'create',
    metadata: {
      [MetadataKeys.createdAt]: unixNanos(),
      [MetadataKeys.dlqNackError]: error.message,
      [MetadataKeys.dlqNackNodeId]: nodeId,
      [MetadataKeys.sourceConnectorId]: sourceConnectorId,
    },
    key: null,
    payload: { before: null, after: recordToJsonValue(record) as StructuredData },
  }
}

/** The pipeline's dead-letter queue. */
export class DeadLetterQueue {
  readonly id: string
  readonly plugin: string
  readonly window: NackWindow
  readonly #destination: Destination
  readonly #sourceConnectorId: string

  constructor(options: DeadLetterQueueOptions) {
    this.id = options.id ?? 'dlq'
    this.plugin = options.plugin ?? 'unknown'
    this.#destination = options.destination
    this.#sourceConnectorId = options.sourceConnectorId
    this.window = new NackWindow(options.windowSize ?? 1, options.windowNackThreshold ?? 0)
  }

  open(signal: AbortSignal): Promise<void> {
    return this.#destination.open(signal)
  }

  close(): Promise<void> {
    return this.#destination.teardown()
  }

  /** Counts `n` records acknowledged without a nack. */
  ack(n: number): void {
    this.window.ack(n)
  }

  /**
   * Counts the run's nacks in the window and writes the accepted ones. Returns how many records
   * (a prefix of the run) are safely in the DLQ, and the error that stopped it, if any.
   */
  async write(run: Batch, signal: AbortSignal): Promise<DlqWriteResult> {
    const records: PipelineRecord[] = []
    let refusal: Error | undefined
    for (let slot = 0; slot < run.length; slot++) {
      const reason = run.reasonAt(slot) ?? { error: new Error('nacked without a reason'), nodeId: 'unknown' }
      if (!this.window.nack()) {
        refusal =
          this.window.threshold > 0
            ? markFatal(
                new TributaryError(
                  'TRIB_PIPELINE_NACK',
                  `DLQ nack threshold exceeded (${this.window.nackCount} nacks in a window of ${this.window.size}, threshold ${this.window.threshold}); last error from ${reason.nodeId}: ${reason.error.message}`,
                  { cause: reason.error },
                ),
              )
            : reason.error
        break
      }
      records.push(dlqRecord(run.records[slot], reason.error, reason.nodeId, this.#sourceConnectorId))
    }
    if (records.length === 0) return { written: 0, error: refusal }
    let acks
    try {
      acks = await this.#destination.write(records, signal)
    } catch (err) {
      return { written: 0, error: markFatal(new TributaryError('TRIB_PIPELINE_DLQ', `DLQ ${this.id} (${this.plugin}): write failed: ${asError(err).message}`, { cause: err })) }
    }
    let written = 0
    while (written < records.length && written < (acks?.length ?? 0)) {
      const ack = acks[written]
      if (!ack || !Buffer.isBuffer(ack.position) || !ack.position.equals(records[written].position)) {
        return { written, error: markFatal(new TributaryError('TRIB_PIPELINE_DLQ', `DLQ ${this.id} (${this.plugin}): ack ${written} does not match the position written`)) }
      }
      if (ack.error) {
        return { written, error: markFatal(new TributaryError('TRIB_PIPELINE_DLQ', `DLQ ${this.id} (${this.plugin}): write of record ${written} failed: ${asError(ack.error).message}`, { cause: ack.error })) }
      }
      written++
    }
    if (written < records.length) {
      return { written, error: markFatal(new TributaryError('TRIB_PIPELINE_DLQ', `DLQ ${this.id} (${this.plugin}): acknowledged ${written} of ${records.length} records`)) }
    }
    return { written, error: refusal }
  }
}
