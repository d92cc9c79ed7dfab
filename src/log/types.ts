/**
 * The `Log` interface: a partitioned, replayable record log with consumer groups.
 *
 * Every backend (embedded `memory`, embedded `file`, `kafka`) implements this interface and passes
 * the same conformance suite (`test/log/conformance.ts`), so code written against it runs unchanged
 * on a laptop and on a Kafka cluster.
 *
 * Offsets are per partition, start at 0 and grow by one per record. A committed offset is the offset
 * of the next record the group will read (Kafka's convention).
 *
 * @example
 * ```ts
 * const log = await openLog('file:./.tributary')
 * await log.admin.createTopic({ name: 'clicks', partitions: 4 })
 * const producer = log.producer()
 * await producer.send([{ topic: 'clicks', key: 'user-1', value: '/home' }])
 * const consumer = log.consumer({ groupId: 'counter', topics: ['clicks'] })
 * for await (const batch of consumer) {
 *   for (const record of batch) console.log(record.offset, record.value?.toString())
 *   await consumer.commit()
 * }
 * ```
 * @module
 */
import type {
  ProduceRecord,
  Record,
  RecordMetadata,
  TopicPartition,
  TopicPartitionOffset,
} from '../core/record.ts'
import type { PartitionerName, Partitioner } from './partitioner.ts'

/** `delete` drops old segments by retention; `compact` keeps the latest value per key. */
export type CleanupPolicy = 'delete' | 'compact'

/** What to create. */
export interface TopicSpec {
  name: string
  partitions: number
  /** Default `delete`. */
  cleanupPolicy?: CleanupPolicy
  /** Drop data older than this (ms). Default: keep forever (-1) on the embedded log, broker default on Kafka. */
  retentionMs?: number
  /** Drop the oldest segments once a partition is larger than this (bytes). Default: unlimited. */
  retentionBytes?: number
  /** Extra backend-specific topic configs (Kafka topic configs, e.g. `segment.ms`). */
  configs?: { [name: string]: string }
}

/** What a topic looks like. */
export interface TopicDescription {
  readonly name: string
  readonly partitions: number
  readonly cleanupPolicy: CleanupPolicy
  readonly retentionMs: number
  readonly retentionBytes: number
}

/** Topic administration. */
export interface LogAdmin {
  /** Creates a topic. Rejects with `TRIB_LOG_TOPIC_EXISTS` if it exists. */
  createTopic(spec: TopicSpec): Promise<void>
  /** Describes a topic. Rejects with `TRIB_LOG_UNKNOWN_TOPIC` if it does not exist. */
  describeTopic(name: string): Promise<TopicDescription>
  /** Names of all topics, sorted, without internal ones (`__consumer_offsets`). */
  listTopics(): Promise<string[]>
  /** Deletes a topic and its data. Rejects with `TRIB_LOG_UNKNOWN_TOPIC` if it does not exist. */
  deleteTopic(name: string): Promise<void>
}

/** Producer options. */
export interface ProducerOptions {
  /**
   * How keyed records pick a partition: `murmur2` (Java client's default, the default here) or
   * `fnv1a` (sarama/goka's hash partitioner), or a function. Records without a key are spread
   * round-robin.
   */
  partitioner?: PartitionerName | Partitioner
  /** Wait up to this long (ms) to gather single sends into one batch. Default 0 (same tick only). */
  lingerMs?: number
  /**
   * Kafka: the most bytes of records (keys, values, headers) waiting to be acknowledged, like Java's
   * `buffer.memory`. A `send` that does not fit waits for room. Default 32 MiB.
   */
  bufferMemoryBytes?: number
  /**
   * Kafka: how long a `send` may wait for room in the buffer before it fails with
   * `TRIB_LOG_BUFFER_FULL` (nothing of it written), like Java's `max.block.ms`. Default 60,000 ms.
   */
  maxBlockMs?: number
  /**
   * Kafka: the most bytes of records in one partition's batch, like Java's `batch.size`. A batch
   * leaves when full, after `lingerMs`, or on flush. Default 262,144 (Java's default is 16,384;
   * larger batches were faster on the bench machine). At most 1 MiB.
   */
  batchSize?: number
  /**
   * Kafka: Produce requests in flight per broker connection, like Java's
   * `max.in.flight.requests.per.connection` (1 to 5; idempotence keeps order). Default 5.
   */
  maxInFlightRequests?: number
  /**
   * Kafka: how long a record may take from `send` to its acknowledgement, retries included, before
   * its call fails with `TRIB_TIMEOUT`, like Java's `delivery.timeout.ms`. Default 120,000 ms.
   */
  deliveryTimeoutMs?: number
}

/** Appends records. */
export interface LogProducer {
  /**
   * Appends records and resolves once they are acknowledged (written to the embedded log's files, or
   * acknowledged by all in-sync replicas on Kafka). Order is kept per partition.
   * Rejects with `TRIB_LOG_UNKNOWN_TOPIC` or `TRIB_LOG_PARTITION_OUT_OF_RANGE` without appending any
   * record of the call. On Kafka a call too large for one request is sent in several; if a later one
   * still fails after retries, the earlier ones stay written (the resolved metadata is all-or-nothing,
   * the log is not).
   */
  send(records: ProduceRecord | ProduceRecord[]): Promise<RecordMetadata[]>
  /** Resolves when everything sent so far is acknowledged. */
  flush(): Promise<void>
  /** Flushes and releases resources. */
  close(): Promise<void>
}

/** How a group's partitions are split among its members. */
export type AssignmentStrategy = 'range' | 'roundrobin'

/** Called with the partitions of a (re)assignment or revocation; awaited before the rebalance goes on. */
export type PartitionsListener = (partitions: TopicPartition[]) => void | Promise<void>

/** Group-consumer options. */
export interface ConsumerOptions {
  /** The consumer group. Members of one group split the partitions of the topics. */
  groupId: string
  /** Topics to subscribe to. They must exist. */
  topics: string[]
  /** Default `range`, like the Java client. */
  assignment?: AssignmentStrategy
  /** Where to start on a partition with no committed offset. Default `earliest`. */
  autoOffsetReset?: 'earliest' | 'latest'
  /** Called after partitions were assigned and before records from them are returned. */
  onAssign?: PartitionsListener
  /** Called before partitions are taken away; commit here to hand over cleanly. */
  onRevoke?: PartitionsListener
  /**
   * Called instead of `onRevoke` when partitions were **lost**: the member's session expired (no
   * heartbeat got through for `sessionTimeoutMs`, e.g. the broker was unreachable or the process
   * stopped), it was removed from the group, or it left after `maxPollIntervalMs`. Other members may
   * already own the partitions, so a commit would be rejected (`TRIB_LOG_NOT_ASSIGNED`): drop the
   * uncommitted work of these partitions. Records of lost partitions are no longer returned; the
   * member rejoins inside the next `poll`.
   */
  onLost?: PartitionsListener
  /** A member that does not heartbeat (Kafka) or poll (embedded) for this long is removed. Default 10,000 ms. */
  sessionTimeoutMs?: number
  /**
   * Kafka: the longest time between two `poll` calls (Java's `max.poll.interval.ms`). A member that
   * does not poll within it leaves the group so its partitions move, and finds them lost at its next
   * `poll`. Also the default rebalance timeout: the time members get to finish a batch and rejoin
   * during a rebalance. Default 300,000 ms. (The embedded log removes members by `sessionTimeoutMs`.)
   */
  maxPollIntervalMs?: number
  /** Static membership id (Kafka's `group.instance.id`): a restart within the session timeout keeps the assignment. */
  groupInstanceId?: string
  /** The most records one `poll` returns. Default 10,000. */
  maxPollRecords?: number
  /** A name for logs and Kafka's `client.id`. */
  clientId?: string
}

/** Options for one `poll`. */
export interface PollOptions {
  /** How long to wait for records when none are ready (ms). Default 1,000. */
  timeoutMs?: number
  /** Overrides `maxPollRecords` for this call. */
  maxRecords?: number
  /** Aborts the wait; the poll then resolves with whatever it has (possibly nothing). */
  signal?: AbortSignal
}

/**
 * A member of a consumer group. Rebalances happen inside `poll` (as in Kafka's Java client):
 * `onRevoke` runs there, then `onAssign`, then records flow again.
 *
 * Iterating it (`for await (const batch of consumer)`) polls until the consumer is closed.
 */
export interface GroupConsumer extends AsyncIterable<Record[]> {
  readonly groupId: string
  /** Returns the next records of the assigned partitions, in offset order per partition. */
  poll(options?: PollOptions): Promise<Record[]>
  /**
   * Commits offsets (the next offset to read, per partition). Without arguments, commits the
   * positions of all assigned partitions (everything returned by `poll` so far).
   * Rejects with `TRIB_LOG_NOT_ASSIGNED` for a partition this member does not own; nothing of the
   * call is applied then.
   */
  commit(offsets?: TopicPartitionOffset[]): Promise<void>
  /** Moves the position of an assigned partition; the next poll reads from `offset`. */
  seek(partition: TopicPartition, offset: number): void
  /** Stops returning records of these partitions until resumed. */
  pause(partitions: TopicPartition[]): void
  /** Resumes paused partitions. */
  resume(partitions: TopicPartition[]): void
  /** The partitions this member owns now. */
  assignment(): TopicPartition[]
  /** The offset of the next record `poll` will return for the partition, if assigned. */
  position(partition: TopicPartition): number | undefined
  /**
   * Runs `onRevoke`, leaves the group (its partitions go to the other members) and releases
   * resources. Exception: a static member (`groupInstanceId`) on Kafka does not leave, so a restart
   * within the session timeout gets its partitions back without a rebalance.
   */
  close(): Promise<void>
}

/** Where a {@link LogReader} starts reading. */
export type ReaderStart = 'earliest' | 'latest' | ReadonlyMap<number, number>

/** Options of a group-less reader ({@link Log.reader}). */
export interface ReaderOptions {
  /** The topic to read. It must exist. */
  topic: string
  /** The partitions to read. Default: all partitions of the topic. */
  partitions?: number[]
  /**
   * Where to start: the first retained offset (`earliest`, the default), the end (`latest`: only
   * records appended after the first `poll`), or per partition the offset of the first record to
   * return (partitions missing from the map start at the earliest offset). An offset outside the
   * retained range — below the log start, above the end — starts at the earliest retained offset,
   * as does a position that retention later overtakes.
   */
  from?: ReaderStart
  /** The most records one `poll` returns. Default 10,000. */
  maxPollRecords?: number
  /** A name for logs and Kafka's `client.id`. */
  clientId?: string
}

/**
 * Reads partitions of one topic without a consumer group (Kafka's manual `assign()` + `seek()`):
 * no join, no rebalances, no commits, and it never appears in `listGroups` or lag reports. Use it to
 * replay a table or changelog into local state, or to follow a topic from offsets you keep yourself.
 *
 * The reader resolves its partitions and start offsets in its first `poll`; that poll rejects with
 * `TRIB_LOG_UNKNOWN_TOPIC` for a missing topic and `TRIB_LOG_PARTITION_OUT_OF_RANGE` for a
 * partition the topic does not have. Until then `assignment()` is empty. Iterating it polls until
 * it is closed.
 *
 * @example
 * ```ts
 * const reader = log.reader({ topic: 'clicks-table', from: new Map([[0, store.offset() ?? 0]]), partitions: [0] })
 * try {
 *   for await (const batch of reader) {
 *     for (const record of batch) store.apply(record)
 *     if (reader.position({ topic: 'clicks-table', partition: 0 })! >= end) break
 *   }
 * } finally {
 *   await reader.close()
 * }
 * ```
 */
export interface LogReader extends AsyncIterable<Record[]> {
  readonly topic: string
  /** Returns the next records of the partitions, in offset order per partition. */
  poll(options?: PollOptions): Promise<Record[]>
  /**
   * Moves the position of a partition of this reader; the next poll reads from `offset`.
   * Throws `TRIB_LOG_NOT_ASSIGNED` for a partition the reader does not read (or before the first poll).
   */
  seek(partition: TopicPartition, offset: number): void
  /** The offset of the next record `poll` will return for the partition; undefined while not known yet. */
  position(partition: TopicPartition): number | undefined
  /** The partitions this reader reads (empty before its first poll). */
  assignment(): TopicPartition[]
  /** Releases resources. Nothing is committed. */
  close(): Promise<void>
}

/** Lag of one partition for one group. */
export interface PartitionLag extends TopicPartition {
  /** The committed offset, or -1 when the group committed nothing for the partition. */
  readonly committed: number
  /** The high watermark: the offset the next appended record will get. */
  readonly end: number
  /** `end - committed` (or `end - start` with nothing committed). */
  readonly lag: number
}

/** Offsets of partitions and groups. */
export interface LogOffsets {
  /** Committed offsets of a group (all topics, or one). */
  committed(groupId: string, topic?: string): Promise<TopicPartitionOffset[]>
  /** High watermarks: per partition, the offset the next appended record gets. */
  endOffsets(topic: string): Promise<number[]>
  /** Per partition, the first offset still retained. */
  startOffsets(topic: string): Promise<number[]>
  /** Lag of a group on a topic's partitions (all partitions, committed or not). */
  lag(groupId: string, topic: string): Promise<PartitionLag[]>
  /** Groups that have committed offsets or live members. */
  listGroups(): Promise<string[]>
}

/** The backends. */
export type LogBackend = 'memory' | 'file' | 'kafka'

/** A partitioned record log with topic admin, producers, group consumers, group-less readers and offsets. */
export interface Log {
  readonly backend: LogBackend
  readonly admin: LogAdmin
  readonly offsets: LogOffsets
  /** A producer. Producers are cheap on the embedded log; on Kafka each holds connections. */
  producer(options?: ProducerOptions): LogProducer
  /** A new member of a consumer group. It joins on its first `poll`. */
  consumer(options: ConsumerOptions): GroupConsumer
  /**
   * A reader of a topic's partitions without a consumer group: it commits nothing and is never
   * listed as a group. See {@link LogReader}.
   */
  reader(options: ReaderOptions): LogReader
  /** Closes producers and consumers made by this log and releases files or connections. */
  close(): Promise<void>
}
