/**
 * A group-less reader of the embedded log: positions of its own over the partitions it was given,
 * read through the same partition read path as group consumers, nothing committed.
 *
 * @example
 * ```ts
 * const reader = new EmbeddedReader(broker, { topic: 'clicks', from: 'earliest' })
 * const records = await reader.poll({ timeoutMs: 500 })
 * ```
 * @module
 */
import { TributaryError } from '../../core/errors.ts'
import { partitionKey, type Record, type TopicPartition } from '../../core/record.ts'
import { checkReaderOptions, DEFAULT_MAX_POLL_RECORDS, notReadError, readerClosedError, readerPartitions } from '../reader-options.ts'
import type { LogReader, PollOptions, ReaderOptions } from '../types.ts'
import type { EmbeddedBroker } from './broker.ts'
import type { PartitionLog } from './partition.ts'
import { pollBatches } from '../poll-batches.ts'

const DEFAULT_POLL_TIMEOUT = 1_000

/** A {@link LogReader} of the embedded log. */
export class EmbeddedReader implements LogReader {
  readonly topic: string
  readonly #broker: EmbeddedBroker
  readonly #options: ReaderOptions
  /** Undefined until the first poll resolved the partitions. */
  #assigned: TopicPartition[] | undefined
  readonly #positions = new Map<string, number>()
  #cursor = 0
  #closed = false
  #wake: (() => void) | undefined

  constructor(broker: EmbeddedBroker, options: ReaderOptions) {
    this.#options = checkReaderOptions(options)
    this.topic = options.topic
    this.#broker = broker
  }

  async poll(options: PollOptions = {}): Promise<Record[]> {
    if (this.#closed) throw readerClosedError(this.topic)
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_POLL_TIMEOUT)
    const max = options.maxRecords ?? this.#options.maxPollRecords ?? DEFAULT_MAX_POLL_RECORDS
    if (!Number.isInteger(max) || max < 1) throw new TributaryError('TRIB_INVALID_ARGUMENT', `poll: maxRecords must be a positive integer, got ${max}`)
    const assigned = (this.#assigned ??= this.#resolve())
    const signal = options.signal
    for (;;) {
      if (this.#closed || assigned.length === 0) return []
      this.#cursor = (this.#cursor + 1) % assigned.length
      const out = this.#broker.readRound(assigned, this.#positions, this.#cursor, max, earliest)
      if (out.length > 0 || Date.now() >= deadline || signal?.aborted) return out
      await this.#broker.waitForAppend(deadline, signal, (wake) => (this.#wake = wake))
    }
  }

  seek(partition: TopicPartition, offset: number): void {
    if (this.#closed) throw readerClosedError(this.topic)
    const key = partitionKey(partition.topic, partition.partition)
    if (!this.#positions.has(key)) throw notReadError(partition.topic, partition.partition, 'seek')
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `seek ${key}: offset must be a non-negative integer, got ${offset}`)
    }
    this.#positions.set(key, offset)
  }

  position(partition: TopicPartition): number | undefined {
    return this.#positions.get(partitionKey(partition.topic, partition.partition))
  }

  assignment(): TopicPartition[] {
    return (this.#assigned ?? []).map((tp) => ({ topic: tp.topic, partition: tp.partition }))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#positions.clear()
    this.#broker.forget(this)
    this.#wake?.()
  }

  [Symbol.asyncIterator](): AsyncIterator<Record[]> {
    return pollBatches(() => this.poll(), () => this.#closed)
  }

  /** Checks the topic and partitions and sets the start positions. */
  #resolve(): TopicPartition[] {
    const topic = this.topic
    const config = this.#broker.requireTopic(topic)
    const partitions = readerPartitions(this.#options, config.partitions)
    const from = this.#options.from ?? 'earliest'
    for (const p of partitions) {
      const log = this.#broker.partition(topic, p)
      const offset = from === 'latest' ? log.endOffset : from === 'earliest' ? log.startOffset : (from.get(p) ?? log.startOffset)
      this.#positions.set(partitionKey(topic, p), offset)
    }
    return partitions.map((partition) => ({ topic, partition }))
  }
}

function earliest(partition: PartitionLog): number {
  return partition.startOffset
}
