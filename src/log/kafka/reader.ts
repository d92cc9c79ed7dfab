/**
 * The group-less Kafka reader (the Java client's `assign()` + `seek()`): a {@link Fetcher} over the
 * partitions it was given, started from offsets it looks up itself. It sends only Metadata,
 * ListOffsets and Fetch requests — no FindCoordinator, JoinGroup, OffsetFetch or OffsetCommit — so
 * the broker knows no group of it and it shows in no group listing or lag report.
 *
 * The first `poll` looks the topic up (`TRIB_LOG_UNKNOWN_TOPIC`), checks the partitions
 * (`TRIB_LOG_PARTITION_OUT_OF_RANGE`) and resolves `latest` with ListOffsets; `earliest` and
 * partitions missing from a `from` map are left to the fetcher's reset (ListOffsets EARLIEST), which
 * also handles OFFSET_OUT_OF_RANGE later.
 *
 * @example
 * ```ts
 * const reader = new KafkaReader(settings, { topic: 'clicks-table', from: new Map([[0, 1200]]), partitions: [0] })
 * const records = await reader.poll({ timeoutMs: 500 })
 * await reader.close()
 * ```
 * @module
 */
import { ListOffsetTimestamps, type Consumer, type ConnectionPool } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import { partitionKey, type Record, type TopicPartition } from '../../core/record.ts'
import { checkReaderOptions, DEFAULT_MAX_POLL_RECORDS, notReadError, readerClosedError, readerPartitions } from '../reader-options.ts'
import type { LogReader, PollOptions, ReaderOptions } from '../types.ts'
import { toTributaryError } from './errors.ts'
import { Fetcher, PREFETCH_RECORDS, type StartPosition } from './fetcher.ts'
import { requireTopic } from './metadata.ts'
import { fetchClient, Serial, Wakeup } from './polling.ts'
import type { KafkaSettings } from './settings.ts'
import { pollBatches } from '../poll-batches.ts'

const DEFAULT_POLL_TIMEOUT_MS = 1_000

/** platformatic's `Consumer` requires a group id; a reader never sends it (it makes no group request). */
const NO_GROUP = '__tributary-no-group'

/** A {@link LogReader} on Kafka. */
export class KafkaReader implements LogReader {
  readonly topic: string
  readonly #options: ReaderOptions
  readonly #settings: KafkaSettings
  readonly #client: Consumer
  readonly #fetchPool: ConnectionPool
  readonly #fetcher: Fetcher
  readonly #maxPollRecords: number
  readonly #onClose: (reader: KafkaReader) => void
  readonly #polls = new Serial()
  readonly #wakeup = new Wakeup()
  /** Undefined until the first poll resolved the partitions. */
  #assigned: TopicPartition[] | undefined
  #assignedKeys = new Set<string>()
  #closed = false
  #closing: Promise<void> | undefined

  constructor(settings: KafkaSettings, options: ReaderOptions, onClose: (reader: KafkaReader) => void = () => {}) {
    this.#options = checkReaderOptions(options)
    this.topic = options.topic
    this.#settings = settings
    this.#onClose = onClose
    this.#maxPollRecords = options.maxPollRecords ?? DEFAULT_MAX_POLL_RECORDS
    const { client, fetchPool } = fetchClient(settings, options.clientId ?? `reader-${options.topic}`, NO_GROUP)
    this.#client = client
    this.#client.topics.trackAll(options.topic)
    this.#fetchPool = fetchPool
    this.#fetcher = new Fetcher({
      client,
      pool: fetchPool,
      settings,
      autoOffsetReset: 'earliest',
      prefetchRecords: Math.max(this.#maxPollRecords, PREFETCH_RECORDS),
      onData: () => this.#wakeup.notify(),
    })
  }

  poll(options: PollOptions = {}): Promise<Record[]> {
    if (this.#closed) return Promise.reject(readerClosedError(this.topic))
    return this.#polls.run(() => this.#poll(options))
  }

  seek(partition: TopicPartition, offset: number): void {
    if (this.#closed) throw readerClosedError(this.topic)
    const key = partitionKey(partition.topic, partition.partition)
    if (!this.#assignedKeys.has(key)) throw notReadError(partition.topic, partition.partition, 'seek')
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `seek ${key}: offset must be a non-negative integer, got ${offset}`)
    }
    this.#fetcher.seek(partition, offset)
  }

  position(partition: TopicPartition): number | undefined {
    return this.#fetcher.position(partition)
  }

  assignment(): TopicPartition[] {
    return (this.#assigned ?? []).map((tp) => ({ topic: tp.topic, partition: tp.partition }))
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  [Symbol.asyncIterator](): AsyncIterator<Record[]> {
    return pollBatches(() => this.poll(), () => this.#closed)
  }

  async #close(): Promise<void> {
    this.#closed = true
    this.#wakeup.notify()
    this.#fetcher.close()
    this.#assigned = []
    this.#assignedKeys = new Set()
    try {
      await Promise.allSettled([this.#fetchPool.close(), this.#client.close()])
    } finally {
      this.#onClose(this)
    }
  }

  async #poll(options: PollOptions): Promise<Record[]> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_POLL_TIMEOUT_MS)
    const max = options.maxRecords ?? this.#maxPollRecords
    if (!Number.isInteger(max) || max < 1) throw new TributaryError('TRIB_INVALID_ARGUMENT', `poll: maxRecords must be a positive integer, got ${max}`)
    const signal = options.signal
    if (this.#assigned === undefined) await this.#resolve()
    for (;;) {
      if (this.#closed || this.#assignedKeys.size === 0) return []
      this.#wakeup.reset()
      const records = this.#fetcher.drain(max)
      if (records.length > 0) return records
      this.#fetcher.kick()
      if (Date.now() >= deadline || signal?.aborted) return []
      if (!this.#wakeup.signalled) await this.#wakeup.wait(deadline, signal)
    }
  }

  /** Looks the topic up, checks the partitions and hands the start positions to the fetcher. */
  async #resolve(): Promise<void> {
    const topic = this.topic
    const meta = await requireTopic(this.#client, topic, this.#settings, `reader of ${topic}`, true)
    const partitions = readerPartitions(this.#options, meta.partitionsCount)
    const from = this.#options.from ?? 'earliest'
    let positions: StartPosition[]
    if (from === 'latest') {
      let offsets: Map<string, bigint[]>
      try {
        offsets = await this.#client.listOffsets({ topics: [topic], partitions: { [topic]: partitions }, timestamp: ListOffsetTimestamps.LATEST })
      } catch (err) {
        throw toTributaryError(err, { op: `reader of ${topic}`, brokers: this.#settings.brokers })
      }
      positions = partitions.map((partition) => {
        const offset = offsets.get(topic)?.[partition]
        return { topic, partition, offset: offset === undefined ? undefined : Number(offset) }
      })
    } else {
      positions = partitions.map((partition) => ({ topic, partition, offset: from === 'earliest' ? undefined : from.get(partition) }))
    }
    if (this.#closed) return
    this.#fetcher.assign(positions)
    this.#assigned = partitions.map((partition) => ({ topic, partition }))
    this.#assignedKeys = new Set(partitions.map((p) => partitionKey(topic, p)))
    this.#fetcher.kick()
  }
}
