/**
 * The embedded log: Tributary's zero-setup `Log`, in memory or in files, with consumer groups among
 * the consumers of one process.
 *
 * @example
 * ```ts
 * const log = openEmbeddedLog({ mode: 'file', dir: './.tributary' })
 * await log.admin.createTopic({ name: 'events', partitions: 3 })
 * ```
 * @module
 */
import { TributaryError } from '../../core/errors.ts'
import { rootLogger, type Logger } from '../../core/logger.ts'
import type { TopicPartitionOffset } from '../../core/record.ts'
import type {
  ConsumerOptions,
  GroupConsumer,
  Log,
  LogAdmin,
  LogOffsets,
  LogProducer,
  LogReader,
  PartitionLag,
  ProducerOptions,
  ReaderOptions,
  TopicDescription,
  TopicSpec,
} from '../types.ts'
import { EmbeddedBroker } from './broker.ts'
import { EmbeddedConsumer } from './consumer.ts'
import type { CommitRecord } from './offset-store.ts'
import { EmbeddedProducer } from './producer.ts'
import { EmbeddedReader } from './reader.ts'
import { describe } from './topic-config.ts'

/** Options of {@link openEmbeddedLog}. */
export interface EmbeddedLogOptions {
  /** `memory` (default) keeps everything in the process; `file` keeps it in `dir`. */
  mode?: 'memory' | 'file'
  /** The directory of a `file` log. Created if missing. */
  dir?: string
  /**
   * `never` (default): an acknowledged append is in the OS page cache, so it survives a crash of the
   * process (kill -9) but not of the machine. `always`: fsync before acknowledging.
   */
  fsync?: 'always' | 'never'
  /** How often retention and compaction run (ms). Default 15,000 (Kafka's cleaner backoff); 0 turns it off. */
  cleanerIntervalMs?: number
  /**
   * `file` mode only: open a directory that another process may own, to look at it — topics, offsets,
   * lag, committed offsets, readers and group consumers that do not commit. Nothing is locked,
   * written, truncated or cleaned; the log shows the data as of the open (open again to see more).
   * Writes throw `TRIB_LOG_READ_ONLY`.
   */
  readOnly?: boolean
  logger?: Logger
}

/** An embedded log, with a few extras beyond the `Log` interface. */
export interface EmbeddedLog extends Log {
  readonly backend: 'memory' | 'file'
  /** Runs retention and compaction now (`force` compacts regardless of the dirty ratio). */
  runCleaner(force?: boolean): void
  /** fsyncs all partitions. */
  sync(): void
  /**
   * Reads the history of committed offsets, as Kafka tools read `__consumer_offsets`: up to `max`
   * records from `fromPosition` on, oldest first. Continue from the last `position + 1`; an empty
   * result means the reader is caught up. Compaction may have removed superseded records.
   *
   * @example
   * ```ts
   * let next = 0
   * for (const c of log.readCommits(next, 1_000)) { console.log(c.group, c.topic, c.partition, c.offset); next = c.position + 1 }
   * ```
   */
  readCommits(fromPosition: number, max?: number): CommitRecord[]
  /**
   * For a read-only open: takes in what the owning process wrote since the open or the last
   * refresh (topics, records, segments rolled, compacted or removed, commits), reading only the new
   * bytes. Returns the bytes scanned. A no-op (0) for a writable log, which is always current.
   *
   * @example
   * ```ts
   * const view = openEmbeddedLog({ mode: 'file', dir: './.tributary', readOnly: true })
   * setInterval(() => view.refresh(), 1_000) // follows the running app
   * ```
   */
  refresh(): number
}

class EmbeddedLogImpl implements EmbeddedLog {
  readonly backend: 'memory' | 'file'
  readonly admin: LogAdmin
  readonly offsets: LogOffsets
  readonly #broker: EmbeddedBroker

  constructor(broker: EmbeddedBroker) {
    this.#broker = broker
    this.backend = broker.mode
    this.admin = {
      createTopic: async (spec: TopicSpec) => {
        broker.createTopic(spec)
      },
      describeTopic: async (name: string): Promise<TopicDescription> => describe(broker.requireTopic(name)),
      listTopics: async () => broker.topicNames(),
      deleteTopic: async (name: string) => broker.deleteTopic(name),
    }
    this.offsets = {
      committed: async (groupId: string, topic?: string): Promise<TopicPartitionOffset[]> => {
        if (topic !== undefined) broker.requireTopic(topic)
        return broker.offsetStore.list(groupId, topic)
      },
      endOffsets: async (topic: string) => broker.partitions(topic).map((p) => p.endOffset),
      startOffsets: async (topic: string) => broker.partitions(topic).map((p) => p.startOffset),
      lag: async (groupId: string, topic: string): Promise<PartitionLag[]> =>
        broker.partitions(topic).map((p) => {
          const committed = broker.offsetStore.get(groupId, topic, p.partition) ?? -1
          const from = committed >= 0 ? committed : p.startOffset
          return { topic, partition: p.partition, committed, end: p.endOffset, lag: Math.max(0, p.endOffset - from) }
        }),
      listGroups: async () => [...new Set([...broker.offsetStore.groups(), ...broker.coordinator.activeGroups()])].sort(),
    }
  }

  producer(options?: ProducerOptions): LogProducer {
    this.#ensureOpen()
    this.#broker.assertWritable('producer')
    const producer = new EmbeddedProducer(this.#broker, options)
    this.#broker.track(producer)
    return producer
  }

  consumer(options: ConsumerOptions): GroupConsumer {
    this.#ensureOpen()
    const consumer = new EmbeddedConsumer(this.#broker, options)
    this.#broker.track(consumer)
    return consumer
  }

  reader(options: ReaderOptions): LogReader {
    this.#ensureOpen()
    const reader = new EmbeddedReader(this.#broker, options)
    this.#broker.track(reader)
    return reader
  }

  runCleaner(force = false): void {
    this.#broker.clean(Date.now(), force)
  }

  sync(): void {
    this.#broker.sync()
  }

  refresh(): number {
    return this.#broker.refresh()
  }

  readCommits(fromPosition: number, max = 10_000): CommitRecord[] {
    this.#ensureOpen()
    if (!Number.isInteger(fromPosition) || !Number.isInteger(max) || max < 1) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `readCommits: fromPosition must be an integer and max a positive integer, got ${fromPosition} and ${max}`)
    }
    return this.#broker.offsetStore.history(fromPosition, max)
  }

  close(): Promise<void> {
    return this.#broker.close()
  }

  #ensureOpen(): void {
    if (this.#broker.closed) throw new TributaryError('TRIB_CLOSED', 'the embedded log is closed')
  }
}

/** Opens an embedded log (memory by default). Throws `TRIB_LOG_LOCKED` if another process holds `dir`. */
export function openEmbeddedLog(options: EmbeddedLogOptions = {}): EmbeddedLog {
  const brokerOptions = {
    mode: options.mode ?? 'memory',
    dir: options.dir,
    fsync: options.fsync ?? 'never',
    cleanerIntervalMs: options.cleanerIntervalMs ?? 15_000,
    logger: options.logger ?? rootLogger().child({ component: 'embedded-log' }),
    readOnly: options.readOnly,
  } as const
  for (let attempt = 1; ; attempt++) {
    try {
      return new EmbeddedLogImpl(new EmbeddedBroker(brokerOptions))
    } catch (err) {
      // Read-only beside a live owner, a segment may go (retention, compaction) between listing and
      // opening it: look again.
      if (!options.readOnly || (err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw err
    }
  }
}
