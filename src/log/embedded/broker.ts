/**
 * The state of one embedded log: topics and their partitions, committed offsets, the group
 * coordinator, and the cleaner that applies retention and compaction.
 *
 * File layout (`file` mode):
 * ```
 * <dir>/LOCK, <dir>/.clean-shutdown
 * <dir>/topics/<topic>/topic.json                 the TopicSpec, written atomically
 * <dir>/topics/<topic>/<partition>/<base>.log     batches (batch-codec.ts)
 * <dir>/topics/<topic>/<partition>/<base>.index   sparse offset index
 * <dir>/topics/__consumer_offsets/0/...           committed offsets (offset-store.ts)
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { TributaryError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { partitionKey, type Record, type TopicPartition } from '../../core/record.ts'
import type { TopicSpec } from '../types.ts'
import { mkdirDurably, writeFileDurably } from './durable-fs.ts'
import { lockDir, type DirLock } from './dir-lock.ts'
import { FileSegmentStore } from './file-segment.ts'
import { GroupCoordinator } from './group-coordinator.ts'
import { OffsetStore } from './offset-store.ts'
import { PartitionLog } from './partition.ts'
import { MemorySegmentStore, type SegmentStore } from './segment.ts'
import { resolveTopicConfig, type TopicConfig } from './topic-config.ts'

/** The internal topic that holds committed offsets. */
export const OFFSETS_TOPIC = '__consumer_offsets'

/** Options of an embedded broker. */
export interface EmbeddedBrokerOptions {
  mode: 'memory' | 'file'
  dir?: string
  fsync: 'always' | 'never'
  cleanerIntervalMs: number
  logger: Logger
  /**
   * `file` mode: look at a directory another process may own — no lock, no cleaner, nothing written,
   * truncated or removed; the data as of the open. Writes throw `TRIB_LOG_READ_ONLY`.
   */
  readOnly?: boolean
}

interface Topic {
  config: TopicConfig
  partitions: PartitionLog[]
}

/** Something that is closed when the broker closes. */
export interface Closable {
  close(): Promise<void>
}

/** Topics, partitions, offsets and groups of one embedded log. */
export class EmbeddedBroker {
  readonly mode: 'memory' | 'file'
  readonly coordinator: GroupCoordinator
  readonly offsetStore: OffsetStore
  /** Waiters woken after every append. */
  readonly appended = new Set<() => void>()
  readonly logger: Logger
  readonly readOnly: boolean
  readonly #options: EmbeddedBrokerOptions
  readonly #topics = new Map<string, Topic>()
  readonly #clients = new Set<Closable>()
  readonly #lock: DirLock | undefined
  readonly #topicsDir: string | undefined
  readonly #cleaner: NodeJS.Timeout | undefined
  #closed = false

  constructor(options: EmbeddedBrokerOptions) {
    this.mode = options.mode
    this.#options = options
    this.logger = options.logger
    this.readOnly = options.readOnly === true
    if (this.readOnly && options.mode !== 'file') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'only a file-mode embedded log can be opened read-only')
    if (options.mode === 'file') {
      if (!options.dir) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'embedded log in file mode needs a directory')
      const dir = path.resolve(options.dir)
      this.#topicsDir = path.join(dir, 'topics')
      if (this.readOnly) {
        if (!fs.existsSync(this.#topicsDir)) {
          throw new TributaryError('TRIB_LOG_NOT_FOUND', `no log at ${dir}: ${fs.existsSync(dir) ? 'the directory holds no topics' : 'no such directory'}`, { details: { dir } })
        }
      } else {
        this.#lock = lockDir(options.dir)
        mkdirDurably(this.#topicsDir)
        if (this.#lock.unclean) this.logger.warn({ dir: options.dir }, 'embedded log was not closed cleanly; verifying active segments')
      }
      try {
        this.#loadTopics()
      } catch (err) {
        for (const topic of this.#topics.values()) for (const p of topic.partitions) p.close()
        throw err
      }
    }
    const offsetsSpec: TopicSpec = {
      name: OFFSETS_TOPIC,
      partitions: 1,
      cleanupPolicy: 'compact',
      configs: { 'segment.bytes': String(4 * 1024 * 1024), 'delete.retention.ms': '0' },
    }
    const offsets = this.#topics.get(OFFSETS_TOPIC) ?? (this.readOnly ? this.#openTopic(resolveTopicConfig(offsetsSpec)) : this.#createTopic(offsetsSpec))
    this.offsetStore = new OffsetStore(offsets.partitions[0])
    this.coordinator = new GroupCoordinator((topic) => this.#topics.get(topic)?.config.partitions ?? 0)
    if (options.cleanerIntervalMs > 0 && !this.readOnly) {
      this.#cleaner = setInterval(() => this.clean(Date.now()), options.cleanerIntervalMs)
      this.#cleaner.unref()
    }
  }

  /** Creates a topic, or throws `TRIB_LOG_TOPIC_EXISTS`. */
  createTopic(spec: TopicSpec): TopicConfig {
    this.#ensureOpen()
    this.assertWritable(`create topic ${spec?.name}`)
    if (spec?.name?.startsWith('__')) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `topic ${spec.name}: names starting with '__' are reserved for internal topics`)
    }
    const config = resolveTopicConfig(spec)
    if (this.#topics.has(config.name)) {
      throw new TributaryError('TRIB_LOG_TOPIC_EXISTS', `topic ${config.name} already exists`, { details: { topic: config.name } })
    }
    const topic = this.#createTopic(spec)
    this.coordinator.topicChanged(config.name)
    return topic.config
  }

  /** The config of a topic, or throws `TRIB_LOG_UNKNOWN_TOPIC`. */
  requireTopic(name: string): TopicConfig {
    const topic = this.#topics.get(name)
    if (!topic || name === OFFSETS_TOPIC) {
      throw new TributaryError('TRIB_LOG_UNKNOWN_TOPIC', `unknown topic ${JSON.stringify(name)}: create it first (tributary log create ${name} --partitions N)`, {
        details: { topic: name },
      })
    }
    return topic.config
  }

  /** User topic names, sorted. */
  topicNames(): string[] {
    return [...this.#topics.keys()].filter((n) => n !== OFFSETS_TOPIC).sort()
  }

  /** A partition, or throws `TRIB_LOG_UNKNOWN_TOPIC` / `TRIB_LOG_PARTITION_OUT_OF_RANGE`. */
  partition(topic: string, partition: number): PartitionLog {
    const config = this.requireTopic(topic)
    if (!Number.isInteger(partition) || partition < 0 || partition >= config.partitions) {
      throw new TributaryError(
        'TRIB_LOG_PARTITION_OUT_OF_RANGE',
        `partition ${partition} of topic ${topic} is out of range: the topic has partitions 0..${config.partitions - 1}`,
        { details: { topic, partition, partitions: config.partitions } },
      )
    }
    return (this.#topics.get(topic) as Topic).partitions[partition]
  }

  /** A partition, or undefined when the topic was deleted meanwhile. */
  partitionIfExists(topic: string, partition: number): PartitionLog | undefined {
    return this.#topics.get(topic)?.partitions[partition]
  }

  /** All partitions of a topic. */
  partitions(topic: string): PartitionLog[] {
    this.requireTopic(topic)
    return (this.#topics.get(topic) as Topic).partitions
  }

  /** Deletes a topic, its files and the offsets committed for it. */
  deleteTopic(name: string): void {
    this.#ensureOpen()
    this.assertWritable(`delete topic ${name}`)
    this.requireTopic(name)
    const topic = this.#topics.get(name) as Topic
    this.#topics.delete(name)
    for (const p of topic.partitions) p.destroy()
    if (this.#topicsDir) fs.rmSync(path.join(this.#topicsDir, name), { recursive: true, force: true })
    this.offsetStore.deleteTopic(name, Date.now())
    this.coordinator.topicChanged(name)
  }

  /** Wakes consumers waiting for records. */
  notifyAppended(): void {
    if (this.appended.size === 0) return
    const waiters = [...this.appended]
    this.appended.clear()
    for (const w of waiters) w()
  }

  /**
   * Waits for the next append, until `deadline`, or until `signal` aborts. `onWaiting` receives the
   * function that ends the wait early (a consumer or reader being closed calls it).
   */
  waitForAppend(deadline: number, signal: AbortSignal | undefined, onWaiting: (wake: (() => void) | undefined) => void): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.appended.delete(done)
        onWaiting(undefined)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()))
      signal?.addEventListener('abort', done, { once: true })
      this.appended.add(done)
      onWaiting(done)
    })
  }

  /**
   * One read round over `partitions` (a group consumer's or a reader's): up to `max` records,
   * starting at partition `start` and going round, in offset order per partition, from and
   * advancing `positions` (keyed by `partitionKey`). A position outside a partition's retained
   * range is first moved to `reset(partition)`. Paused partitions and deleted topics are skipped.
   */
  readRound(
    partitions: readonly TopicPartition[],
    positions: Map<string, number>,
    start: number,
    max: number,
    reset: (partition: PartitionLog) => number,
    paused?: ReadonlySet<string>,
  ): Record[] {
    const out: Record[] = []
    const n = partitions.length
    for (let k = 0; k < n && out.length < max; k++) {
      const tp = partitions[(start + k) % n]
      const key = partitionKey(tp.topic, tp.partition)
      if (paused?.has(key)) continue
      const partition = this.partitionIfExists(tp.topic, tp.partition)
      if (!partition) continue
      let position = positions.get(key) as number
      if (position < partition.startOffset || position > partition.endOffset) position = reset(partition)
      const before = out.length
      partition.read(position, max - out.length, out)
      if (out.length > before) position = out[out.length - 1].offset + 1
      positions.set(key, position)
    }
    return out
  }

  /**
   * A read-only view takes in what the owner wrote since the open or the last refresh: topics
   * created or deleted, records appended, segments rolled, compacted or removed, commits. Only new
   * bytes are read (a segment replaced by compaction is read again). Returns the bytes scanned.
   */
  refresh(): number {
    this.#ensureOpen()
    if (!this.readOnly || !this.#topicsDir) return 0
    const dir = this.#topicsDir
    const onDisk = new Map<string, TopicSpec>()
    for (const name of fs.readdirSync(dir)) {
      const specFile = path.join(dir, name, 'topic.json')
      try {
        onDisk.set(name, JSON.parse(fs.readFileSync(specFile, 'utf8')) as TopicSpec)
      } catch {
        // no topic.json (yet), or being written: not a topic for now
      }
    }
    for (const [name, topic] of this.#topics) {
      const spec = onDisk.get(name)
      if (name === OFFSETS_TOPIC || (spec && spec.partitions === topic.config.partitions)) continue
      // Deleted (or deleted and created again with another partition count).
      for (const p of topic.partitions) p.close()
      this.#topics.delete(name)
    }
    let bytesRead = 0
    for (const [name, spec] of onDisk) {
      const existing = this.#topics.get(name)
      if (existing) {
        for (const p of existing.partitions) bytesRead += p.refresh()
      } else {
        const topic = this.#openTopic(resolveTopicConfig(spec))
        for (const p of topic.partitions) bytesRead += p.sizeBytes
      }
    }
    this.offsetStore.catchUp()
    return bytesRead
  }

  /** Throws `TRIB_LOG_READ_ONLY` naming `op` and the directory when the log was opened read-only. */
  assertWritable(op: string): void {
    if (!this.readOnly) return
    const dir = path.resolve(this.#options.dir as string)
    throw new TributaryError('TRIB_LOG_READ_ONLY', `${op}: the embedded log ${dir} is open read-only; write through the process that owns it`, { details: { dir } })
  }

  /** Forces every partition's data to stable storage. */
  sync(): void {
    for (const topic of this.#topics.values()) for (const p of topic.partitions) p.sync()
  }

  /** One cleaner pass: retention for `delete` topics, compaction for `compact` topics. */
  clean(now: number, force = false): void {
    if (this.readOnly) return
    for (const topic of this.#topics.values()) {
      for (const p of topic.partitions) {
        try {
          if (topic.config.cleanupPolicy === 'compact') {
            const result = p.compact(now, force)
            if (result.removedRecords > 0) {
              this.logger.debug({ topic: p.topic, partition: p.partition, removed: result.removedRecords }, 'compacted')
            }
          } else {
            p.enforceRetention(now)
          }
        } catch (err) {
          this.logger.error({ err, topic: p.topic, partition: p.partition }, 'embedded log cleaner failed on a partition')
        }
      }
    }
  }

  /** Registers a producer or consumer to close with the broker. */
  track(client: Closable): void {
    this.#clients.add(client)
  }

  /** Unregisters a closed client. */
  forget(client: Closable): void {
    this.#clients.delete(client)
  }

  get closed(): boolean {
    return this.#closed
  }

  async close(): Promise<void> {
    if (this.#closed) return
    for (const client of [...this.#clients]) await client.close().catch(() => {})
    this.#closed = true
    clearInterval(this.#cleaner)
    this.coordinator.close()
    this.notifyAppended()
    // The clean-shutdown marker (written by release) promises every segment and index is on disk.
    if (this.#lock) for (const topic of this.#topics.values()) for (const p of topic.partitions) p.syncAll()
    for (const topic of this.#topics.values()) for (const p of topic.partitions) p.close()
    this.#lock?.release()
  }

  #ensureOpen(): void {
    if (this.#closed) throw new TributaryError('TRIB_CLOSED', 'the embedded log is closed')
  }

  #store(topic: string, partition: number): SegmentStore {
    if (!this.#topicsDir) return new MemorySegmentStore(topic, partition)
    return new FileSegmentStore({
      dir: path.join(this.#topicsDir, topic, String(partition)),
      topic,
      partition,
      logger: this.logger,
      fsync: this.#options.fsync,
      unclean: this.#lock?.unclean ?? false,
      readOnly: this.readOnly,
    })
  }

  #createTopic(spec: TopicSpec): Topic {
    const config = resolveTopicConfig(spec)
    if (this.#topicsDir) {
      const dir = path.join(this.#topicsDir, config.name)
      mkdirDurably(dir)
      writeFileDurably(path.join(dir, 'topic.json'), JSON.stringify(spec, null, 2))
    }
    return this.#openTopic(config)
  }

  #openTopic(config: TopicConfig): Topic {
    const partitions: PartitionLog[] = []
    for (let p = 0; p < config.partitions; p++) partitions.push(new PartitionLog(config.name, p, config, this.#store(config.name, p)))
    const topic = { config, partitions }
    this.#topics.set(config.name, topic)
    return topic
  }

  #loadTopics(): void {
    const dir = this.#topicsDir as string
    for (const name of fs.readdirSync(dir)) {
      const specFile = path.join(dir, name, 'topic.json')
      if (!fs.existsSync(specFile)) {
        this.logger.warn({ dir: path.join(dir, name) }, 'embedded log: ignoring a topic directory without topic.json')
        continue
      }
      let spec: TopicSpec
      try {
        spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as TopicSpec
      } catch (err) {
        throw new TributaryError('TRIB_LOG_CORRUPT', `cannot read ${specFile}: ${(err as Error).message}`, { cause: err, details: { file: specFile } })
      }
      this.#openTopic(resolveTopicConfig(spec))
    }
  }
}
