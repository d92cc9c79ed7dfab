/**
 * The consumer-facing shapes of the Kinesis worker: gokini's `RecordConsumer` with KCL's shutdown
 * reasons, the records it receives and the checkpointer it writes with.
 * @module
 */

/** The checkpoint value of a shard that ended and was fully processed. */
export const SHARD_END = 'SHARD_END'

/**
 * Why a shard's consumer stops (KCL's reasons):
 * - `REQUESTED`: the worker shuts down, or hands the shard to a worker that claimed it; checkpoints still work.
 * - `TERMINATE`: the shard ended (split or merge); the worker checkpoints `SHARD_END` after `shutdown`.
 * - `ZOMBIE`: the lease was lost to another worker; checkpoints throw `TRIB_LEASE_LOST`.
 */
export type ShutdownReason = 'REQUESTED' | 'TERMINATE' | 'ZOMBIE'

/** One (de-aggregated) Kinesis record. */
export interface KinesisRecord {
  readonly shardId: string
  readonly sequenceNumber: string
  /** Position inside a KPL aggregated record (0 for plain records). */
  readonly subSequenceNumber: number
  readonly partitionKey: string
  readonly explicitHashKey: string | undefined
  readonly data: Buffer
  readonly approximateArrivalTimestamp: Date | undefined
}

/** Fenced checkpoints of one shard. */
export interface Checkpointer {
  /** The shard this checkpointer writes for. */
  readonly shardId: string
  /**
   * Saves `sequenceNumber` (default: the last record handed to `processRecords`) as processed.
   * Throws `TRIB_LEASE_LOST` when this worker no longer owns the shard; the write then changed nothing.
   */
  checkpoint(sequenceNumber?: string): Promise<void>
}

/** A batch handed to `processRecords`. */
export interface ProcessRecordsInput {
  readonly millisBehindLatest: number | undefined
}

/** What users implement (gokini's `RecordConsumer`, with KCL's shutdown reason). */
export interface RecordConsumer {
  /** Called once per shard before its first batch. */
  init(shardId: string): void | Promise<void>
  /** Called with each non-empty batch, in order; the next batch waits for it. */
  processRecords(records: readonly KinesisRecord[], checkpointer: Checkpointer, input: ProcessRecordsInput): void | Promise<void>
  /** Called once when the shard's processing stops. */
  shutdown(reason: ShutdownReason, checkpointer: Checkpointer): void | Promise<void>
}

/** Builds one {@link RecordConsumer} per shard (a single object may serve every shard). */
export type RecordConsumerFactory = (shardId: string) => RecordConsumer
