/**
 * One shard's read loop: an iterator from the checkpoint (`AFTER_SEQUENCE_NUMBER`) or the configured
 * start, `GetRecords` with backoff on throttling, expired iterators refreshed, records de-aggregated
 * and handed to the user's `processRecords` in order, automatic fenced checkpoints, and one
 * `shutdown(reason)` at the end: `TERMINATE` when the shard ended (then `SHARD_END` is checkpointed
 * and the lease closed), `ZOMBIE` when the lease was lost, `REQUESTED` otherwise.
 * @module
 */
import { GetRecordsCommand, GetShardIteratorCommand, type GetRecordsCommandOutput, type KinesisClient, type ShardIteratorType, type _Record } from '@aws-sdk/client-kinesis'
import { performance } from 'node:perf_hooks'
import { Backoff, sleep } from '../core/backoff.ts'
import { TributaryError, isTributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Lease, LeaseCoordinator } from '../lease/index.ts'
import type { WorkerSettings } from './config.ts'
import { deaggregate } from './deaggregate.ts'
import type { KinesisMetrics } from './metrics.ts'
import { kinesisError } from './shards.ts'
import { SHARD_END, type Checkpointer, type KinesisRecord, type RecordConsumer, type ShutdownReason } from './types.ts'

const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'KMSThrottlingException', 'LimitExceededException', 'ThrottlingException'])

/** What a {@link ShardConsumer} needs from its worker. */
export interface ShardConsumerContext {
  readonly lease: Lease
  readonly kinesis: KinesisClient
  readonly coordinator: LeaseCoordinator
  readonly consumer: RecordConsumer
  readonly settings: WorkerSettings
  readonly metrics: KinesisMetrics | undefined
  readonly logger: Logger
  /** Called after the shard ended and `SHARD_END` was checkpointed. */
  readonly onShardEnd: (shardId: string) => void
}

/** Reads one shard for as long as this worker holds its lease. */
export class ShardConsumer implements Checkpointer {
  readonly shardId: string
  readonly #c: ShardConsumerContext
  readonly #controller = new AbortController()
  readonly #log: Logger
  #reason: ShutdownReason | undefined
  #lastDelivered: string | undefined
  #lastCheckpoint: string | undefined
  #millisBehindLatest: number | undefined
  #done: Promise<void> | undefined
  /** The acquisition this consumer belongs to: its checkpoints are fenced to it. */
  readonly #epoch: number | undefined

  constructor(context: ShardConsumerContext) {
    this.#c = context
    this.shardId = context.lease.key
    this.#epoch = context.coordinator.epoch(this.shardId)
    this.#lastCheckpoint = context.lease.checkpoint
    this.#log = context.logger.child({ shard: this.shardId })
  }

  /** `MillisBehindLatest` of the last `GetRecords`. */
  get millisBehindLatest(): number | undefined {
    return this.#millisBehindLatest
  }

  /** The last checkpoint this consumer wrote or started from. */
  get lastCheckpoint(): string | undefined {
    return this.#lastCheckpoint
  }

  /** Starts the loop; the promise settles when it ended. */
  start(): Promise<void> {
    this.#done ??= this.#run().catch(async (err: unknown) => {
      // init or processRecords threw: the batch is not checkpointed; let the lease go so the shard is
      // read again from its last checkpoint (by this worker at its next tick, or by another)
      this.#log.error({ err }, 'shard consumer failed; releasing its lease')
      await this.#c.coordinator.release(this.shardId, this.#epoch).catch(() => {})
    })
    return this.#done
  }

  /** Stops reading (an in-flight `processRecords` finishes first) and waits for `shutdown(reason)`. */
  stop(reason: ShutdownReason): Promise<void> {
    this.#reason ??= reason
    this.#controller.abort()
    return this.#done ?? Promise.resolve()
  }

  async checkpoint(sequenceNumber?: string): Promise<void> {
    const seq = sequenceNumber ?? this.#lastDelivered
    if (seq === undefined || seq === this.#lastCheckpoint) {
      if (this.#holds()) return
      throw new TributaryError('TRIB_LEASE_LOST', `shard ${this.shardId} is no longer leased by worker ${this.#c.coordinator.workerId}; checkpoint refused`, {
        details: { key: this.shardId, owner: this.#c.coordinator.workerId },
      })
    }
    await this.#c.coordinator.checkpoint(this.shardId, seq, { epoch: this.#epoch })
    this.#lastCheckpoint = seq
  }

  #holds(): boolean {
    return this.#epoch !== undefined && this.#c.coordinator.epoch(this.shardId) === this.#epoch
  }

  async #iterator(after: string | undefined): Promise<string | undefined> {
    const { settings, lease } = this.#c
    let type: ShardIteratorType = settings.shardIteratorType
    if (after !== undefined) type = 'AFTER_SEQUENCE_NUMBER'
    else if (lease.parents.length > 0) type = 'TRIM_HORIZON' // a child starts where its parents ended
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 })
    for (;;) {
      try {
        const out = await this.#c.kinesis.send(
          new GetShardIteratorCommand({
            StreamName: settings.streamName,
            ShardId: this.shardId,
            ShardIteratorType: type,
            StartingSequenceNumber: type === 'AFTER_SEQUENCE_NUMBER' ? after : undefined,
            Timestamp: type === 'AT_TIMESTAMP' ? settings.timestamp : undefined,
          }),
          { abortSignal: this.#controller.signal },
        )
        return out.ShardIterator
      } catch (err) {
        if (this.#controller.signal.aborted) return undefined
        const name = (err as { name?: string }).name ?? ''
        if (!THROTTLED.has(name)) this.#log.warn({ err: kinesisError(err, 'GetShardIterator', settings.streamName) }, 'GetShardIterator failed; retrying')
        await sleep(backoff.next(), this.#controller.signal).catch(() => {})
      }
    }
  }

  #toRecords(raw: readonly _Record[]): KinesisRecord[] {
    const out: KinesisRecord[] = []
    for (const r of raw) {
      const base = { shardId: this.shardId, sequenceNumber: r.SequenceNumber ?? '', approximateArrivalTimestamp: r.ApproximateArrivalTimestamp }
      const data = r.Data ?? new Uint8Array()
      try {
        for (const user of deaggregate(data, r.PartitionKey ?? '')) out.push({ ...base, ...user })
      } catch (err) {
        // Like the KCL: a record that is not a valid aggregate is delivered as it is, never dropped.
        this.#log.error({ err, sequenceNumber: r.SequenceNumber }, `${(err as Error).message} (shard ${this.shardId}, sequence ${r.SequenceNumber}); delivered as one raw record`)
        out.push({ ...base, partitionKey: r.PartitionKey ?? '', explicitHashKey: undefined, data: Buffer.from(data), subSequenceNumber: 0 })
      }
    }
    return out
  }

  async #run(): Promise<void> {
    const { consumer, settings, metrics, coordinator } = this.#c
    const signal = this.#controller.signal
    const labels = { kinesisStream: settings.streamName, shard: this.shardId }
    let ended = false
    await consumer.init(this.shardId)
    let iterator = await this.#iterator(this.#lastCheckpoint)
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 })
    type Fetched = { out: GetRecordsCommandOutput; ms: number } | { err: unknown }
    const fetch = (it: string): Promise<Fetched> => {
      const started = performance.now()
      return this.#c.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: settings.maxRecords }), { abortSignal: signal }).then(
        (out) => ({ out, ms: performance.now() - started }),
        (err: unknown) => ({ err }),
      )
    }
    // One batch is read ahead while the previous one is processed and checkpointed (the KCL's prefetch);
    // a read-ahead batch is dropped on stop, before anything of it was delivered or checkpointed.
    let prefetched: Promise<Fetched> | undefined
    while (!signal.aborted && iterator !== undefined) {
      const fetched = await (prefetched ?? fetch(iterator))
      prefetched = undefined
      if (signal.aborted) break
      if ('err' in fetched) {
        const err = fetched.err
        const name = (err as { name?: string }).name ?? ''
        if (name === 'ExpiredIteratorException') {
          iterator = await this.#iterator(this.#lastDelivered ?? this.#lastCheckpoint)
          continue
        }
        // a shard reads at most 5 times a second: throttling clears within a second or two
        const throttled = THROTTLED.has(name)
        if (throttled) this.#log.debug({ name }, 'GetRecords throttled; backing off')
        else this.#log.warn({ err: kinesisError(err, 'GetRecords', settings.streamName) }, 'GetRecords failed; retrying')
        await sleep(throttled ? Math.min(backoff.next(), 2_000) : backoff.next(), signal).catch(() => {})
        continue
      }
      const out = fetched.out
      backoff.reset()
      metrics?.getRecordsDuration.observe(labels, fetched.ms)
      this.#millisBehindLatest = out.MillisBehindLatest
      if (out.MillisBehindLatest !== undefined) metrics?.behindLatestMillis.set(labels, out.MillisBehindLatest)
      const records = this.#toRecords(out.Records ?? [])
      if (out.NextShardIterator) iterator = out.NextShardIterator
      if (records.length > 0) {
        if (!this.#holds()) {
          this.#reason ??= 'ZOMBIE'
          break
        }
        if (out.NextShardIterator && (out.MillisBehindLatest ?? 1) > 0) prefetched = fetch(out.NextShardIterator)
        // checkpoint() without an argument inside processRecords means "this whole batch"
        this.#lastDelivered = out.Records?.at(-1)?.SequenceNumber
        const t0 = performance.now()
        await consumer.processRecords(records, this, { millisBehindLatest: out.MillisBehindLatest })
        metrics?.processRecordsDuration.observe(labels, performance.now() - t0)
        metrics?.processedRecords.inc(labels, records.length)
        metrics?.processedBytes.inc(labels, records.reduce((n, r) => n + r.data.length, 0))
        if (!settings.disableAutomaticCheckpoints) {
          try {
            await this.checkpoint()
          } catch (err) {
            if (!isTributaryError(err, 'TRIB_LEASE_LOST')) throw err
            this.#reason ??= 'ZOMBIE'
            break
          }
        }
      }
      if (!out.NextShardIterator) {
        ended = true
        break
      }
      if (records.length === 0) await sleep(settings.emptyRecordBackoffMs, signal).catch(() => {})
    }
    const reason: ShutdownReason = ended && this.#reason === undefined ? 'TERMINATE' : (this.#reason ?? 'REQUESTED')
    try {
      await consumer.shutdown(reason, this)
    } catch (err) {
      this.#log.warn({ err, reason }, 'shutdown callback failed')
    }
    if (reason === 'TERMINATE') {
      try {
        if (!settings.disableAutomaticCheckpoints) await this.checkpoint()
        await coordinator.checkpoint(this.shardId, SHARD_END, { close: true, epoch: this.#epoch })
        this.#lastCheckpoint = SHARD_END
        await coordinator.release(this.shardId, this.#epoch)
        this.#c.onShardEnd(this.shardId)
      } catch (err) {
        if (!isTributaryError(err, 'TRIB_LEASE_LOST')) throw err
        this.#log.warn('lease lost before SHARD_END was checkpointed; the new owner finishes the shard')
      }
    }
  }
}
