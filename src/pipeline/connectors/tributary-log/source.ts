/**
 * A source reading topics of a {@link Log} as a member of a consumer group, committing offsets only
 * for acknowledged records.
 *
 * Records are shaped as Conduit's Kafka source shapes them: operation `create`, the Kafka key as raw
 * key, the value as raw `payload.after`, metadata `opencdc.collection` (the topic),
 * `opencdc.createdAt` (the record's timestamp), `opencdc.readAt` and `kafka.header.<name>` per
 * header; the position is `{"GroupID","Topic","Partition","Offset"}` JSON.
 *
 * Acknowledgements: `ack` gets positions in read order and commits, per partition, the offset after
 * the last acknowledged record (Kafka's "next offset to read") before it returns — so a restart
 * resumes at the first unacknowledged record. Nothing is committed for records that were read but
 * not acknowledged. Rebalances: when partitions are revoked, records of them still in flight are
 * never committed (another member may own the partition now); if a partition comes back, reading
 * continues after the last record read rather than re-reading from the commit, so positions stay
 * unique. Those skipped acknowledgements cost at most duplicates after a crash, never a loss.
 *
 * @example
 * ```ts
 * const source = new LogSource({ url: 'memory:demo', topics: ['in'], ... }, ctx)
 * await source.open(signal)
 * const batch = await source.read(signal)
 * await source.ack(batch.map((r) => r.position)) // offsets committed
 * ```
 * @module
 */
import { TributaryError, isTributaryError } from '../../../core/errors.ts'
import { partitionKey, type Record as LogRecord, type TopicPartition, type TopicPartitionOffset } from '../../../core/record.ts'
import type { GroupConsumer } from '../../../log/index.ts'
import type { ConnectorContext, Source } from '../../connector.ts'
import { unixNanos, type PipelineRecord } from '../../record.ts'
import { acquireLog, type LogLease } from './log-registry.ts'
import { decodeLogPosition, encodeLogPosition } from './position.ts'

/** Metadata prefix of Kafka headers (Conduit's `kafka.header.`). */
export const METADATA_KAFKA_HEADER_PREFIX = 'kafka.header.'

/** What a log source needs; the `tributary-log` and `kafka` plugins fill it from their settings. */
export interface LogSourceOptions {
  /** Plugin name, for messages. */
  readonly plugin: string
  /** The setting that names where the log is (`url`, `servers`), for messages. */
  readonly locationSetting: string
  readonly url: string
  readonly topics: readonly string[]
  /** The configured group, or undefined to take the group from the stored position or `defaultGroupId`. */
  readonly groupId: string | undefined
  readonly defaultGroupId: () => string
  readonly readFromBeginning: boolean
  readonly batchSize: number
  readonly clientId: string | undefined
  readonly connectTimeoutMs: number
}

/** A partition this source has read from. */
interface PartitionInfo {
  readonly key: string
  readonly topic: string
  readonly partition: number
  /** The position JSON up to the offset's digits. */
  readonly positionPrefix: string
  /** The offset after the last record returned by `read` (any assignment). */
  readUpTo: number | undefined
}

/** One `read`'s records, acknowledged front to back (no object per record). */
interface InFlightBatch {
  readonly positions: Buffer[]
  readonly parts: PartitionInfo[]
  readonly offsets: number[]
  /** The assignment counter when the batch was read. */
  readonly epoch: number
  /** Index of the next position to be acknowledged. */
  next: number
}

/** The log source. */
export class LogSource implements Source {
  readonly #options: LogSourceOptions
  readonly #ctx: ConnectorContext
  #lease: LogLease | null = null
  #consumer: GroupConsumer | null = null
  #groupId = ''
  /** Per owned partition: the assignment it came with. */
  readonly #epochs = new Map<string, number>()
  #epoch = 0
  /** Partitions read from, by `topic/partition`. */
  readonly #partitions = new Map<string, PartitionInfo>()
  /** The acknowledgement in progress, if any. */
  #acking: Promise<void> = Promise.resolve()
  /** Batches returned and not yet fully acknowledged, in read order. */
  #inFlight: InFlightBatch[] = []

  constructor(options: LogSourceOptions, ctx: ConnectorContext) {
    this.#options = options
    this.#ctx = ctx
  }

  /** The consumer group in use (known after `open`). */
  get groupId(): string {
    return this.#groupId
  }

  async open(_signal: AbortSignal): Promise<void> {
    const o = this.#options
    const last = this.#ctx.lastPosition
    let fromPosition: string | undefined
    if (last !== null && last.length > 0) fromPosition = decodeLogPosition(last).groupId
    if (o.groupId !== undefined && fromPosition !== undefined && o.groupId !== fromPosition) {
      throw new TributaryError(
        'TRIB_CONNECTOR_POSITION',
        `${o.plugin} source: the stored position belongs to consumer group ${JSON.stringify(fromPosition)} but "groupID" is ${JSON.stringify(o.groupId)}; did the group ID change since the last run?`,
        { details: { groupId: o.groupId, positionGroupId: fromPosition } },
      )
    }
    this.#groupId = o.groupId ?? fromPosition ?? o.defaultGroupId()
    this.#lease = await acquireConnectorLog(o, this.#ctx)
    try {
      const log = this.#lease.log
      for (const topic of o.topics) {
        await log.admin.describeTopic(topic).catch((err: unknown) => {
          if (isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC')) {
            throw new TributaryError('TRIB_LOG_UNKNOWN_TOPIC', `${o.plugin} source: topic ${JSON.stringify(topic)} of "topics" does not exist in ${this.#lease!.url}`, { cause: err, details: { topic } })
          }
          throw err
        })
      }
      this.#consumer = log.consumer({
        groupId: this.#groupId,
        topics: [...o.topics],
        autoOffsetReset: o.readFromBeginning ? 'earliest' : 'latest',
        maxPollRecords: o.batchSize,
        clientId: o.clientId,
        onAssign: (partitions) => this.#onAssign(partitions),
        onRevoke: (partitions) => this.#onRevoke(partitions),
      })
    } catch (err) {
      await this.#lease.release()
      this.#lease = null
      throw err
    }
    this.#ctx.logger.info({ connector: this.#ctx.connectorId, groupId: this.#groupId, topics: o.topics }, `${o.plugin} source: consuming as group ${this.#groupId}`)
  }

  #onAssign(partitions: TopicPartition[]): void {
    this.#epoch++
    for (const tp of partitions) {
      const key = partitionKey(tp.topic, tp.partition)
      this.#epochs.set(key, this.#epoch)
      const readUpTo = this.#partitions.get(key)?.readUpTo
      const position = this.#consumer?.position(tp)
      if (readUpTo !== undefined && position !== undefined && position < readUpTo) this.#consumer!.seek(tp, readUpTo)
    }
  }

  #onRevoke(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#epochs.delete(partitionKey(tp.topic, tp.partition))
  }

  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    const consumer = this.#consumer
    if (consumer === null) throw new TributaryError('TRIB_CLOSED', `${this.#options.plugin} source is not open`)
    for (;;) {
      if (signal.aborted) return []
      const batch = await consumer.poll({ signal, timeoutMs: 1_000 })
      if (batch.length > 0) return this.#toRecords(batch)
    }
  }

  #toRecords(batch: LogRecord[]): PipelineRecord[] {
    const readAt = unixNanos()
    const records: PipelineRecord[] = new Array(batch.length)
    const flight: InFlightBatch = { positions: new Array(batch.length), parts: new Array(batch.length), offsets: new Array(batch.length), epoch: this.#epoch, next: 0 }
    let part: PartitionInfo | undefined
    let lastMs = NaN
    let createdAt = ''
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]
      if (part === undefined || part.topic !== r.topic || part.partition !== r.partition) part = this.#partitionInfo(r.topic, r.partition)
      const position = Buffer.from(part.positionPrefix + r.offset + '}')
      if (r.timestamp !== lastMs) {
        lastMs = r.timestamp
        createdAt = Number.isSafeInteger(lastMs) && lastMs > 0 ? lastMs + '000000' : unixNanos(lastMs)
      }
      // Keys in sorted order (kafka.header.* < opencdc.*), so the OpenCDC JSON writer needs no sorting.
      const metadata: { [key: string]: string } = {}
      for (const [name, value] of r.headers) metadata[METADATA_KAFKA_HEADER_PREFIX + name] = value.toString('utf8')
      metadata['opencdc.collection'] = r.topic
      metadata['opencdc.createdAt'] = createdAt
      metadata['opencdc.readAt'] = readAt
      records[i] = { position, operation: 'create', metadata, key: r.key, payload: { before: null, after: r.value } }
      flight.positions[i] = position
      flight.parts[i] = part
      flight.offsets[i] = r.offset
      part.readUpTo = r.offset + 1
    }
    this.#inFlight.push(flight)
    return records
  }

  /** The shared description of a partition (its key, its position text up to the offset). */
  #partitionInfo(topic: string, partition: number): PartitionInfo {
    const key = partitionKey(topic, partition)
    let info = this.#partitions.get(key)
    if (info === undefined) {
      const prefix = encodeLogPosition({ groupId: this.#groupId, topic, partition, offset: 0 }).toString()
      info = { key, topic, partition, positionPrefix: prefix.slice(0, prefix.length - '0}'.length), readUpTo: undefined }
      this.#partitions.set(key, info)
    }
    return info
  }

  /** Finds the in-flight batch and index of an acknowledged position (normally the oldest one), and drops what is done. */
  #take(position: Buffer): { batch: InFlightBatch; index: number } | undefined {
    const queue = this.#inFlight
    for (let b = 0; b < queue.length; b++) {
      const batch = queue[b]
      for (let i = batch.next; i < batch.positions.length; i++) {
        const p = batch.positions[i]
        if (p === position || p.equals(position)) {
          batch.next = i + 1
          // Everything before the acked one is done too (acks come in read order).
          const done = batch.next === batch.positions.length ? b + 1 : b
          if (done > 0) queue.splice(0, done)
          return { batch, index: i }
        }
      }
    }
    return undefined
  }

  ack(positions: readonly Buffer[]): Promise<void> {
    // Commits go out one after the other, so a later one never lands before an earlier one.
    const result = this.#acking.then(() => this.#ack(positions))
    this.#acking = result.catch(() => undefined)
    return result
  }

  async #ack(positions: readonly Buffer[]): Promise<void> {
    const consumer = this.#consumer
    if (consumer === null) throw new TributaryError('TRIB_CLOSED', `${this.#options.plugin} source is not open`)
    const commits = new Map<PartitionInfo, number>()
    let stale = 0
    for (const position of positions) {
      const found = this.#take(position)
      if (found === undefined) {
        const p = decodeLogPosition(position)
        throw new TributaryError('TRIB_CONNECTOR_POSITION', `${this.#options.plugin} source: ack for ${p.topic}/${p.partition} offset ${p.offset}, which this source did not read (or acked before)`, {
          details: { topic: p.topic, partition: p.partition, offset: p.offset },
        })
      }
      const part = found.batch.parts[found.index]
      // Stale: the partition was revoked since the read (and maybe assigned again, with a later epoch).
      const epoch = this.#epochs.get(part.key)
      if (epoch === undefined || epoch > found.batch.epoch) {
        stale++
        continue
      }
      commits.set(part, found.batch.offsets[found.index] + 1)
    }
    if (stale > 0) this.#ctx.logger.debug({ connector: this.#ctx.connectorId, stale }, 'acks for records of revoked partitions are not committed')
    await this.#commit(consumer, commits)
  }

  /** Commits offsets of partitions still owned; a rebalance racing the commit drops the lost ones. */
  async #commit(consumer: GroupConsumer, commits: Map<PartitionInfo, number>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const owned = new Set(consumer.assignment().map((tp) => partitionKey(tp.topic, tp.partition)))
      const list: TopicPartitionOffset[] = []
      for (const [part, offset] of commits) if (this.#epochs.has(part.key) && owned.has(part.key)) list.push({ topic: part.topic, partition: part.partition, offset })
      if (list.length === 0) return
      try {
        await consumer.commit(list)
        return
      } catch (err) {
        const racing = isTributaryError(err, 'TRIB_LOG_NOT_ASSIGNED') || isTributaryError(err, 'TRIB_LOG_REBALANCE_IN_PROGRESS')
        if (!racing || attempt >= 2) throw err
      }
    }
  }

  async teardown(): Promise<void> {
    await this.#acking
    const consumer = this.#consumer
    this.#consumer = null
    try {
      await consumer?.close()
    } finally {
      await this.#lease?.release()
      this.#lease = null
    }
  }
}

/** Opens (or shares) the log a connector names, with errors that name the setting. */
export async function acquireConnectorLog(
  o: { readonly plugin: string; readonly locationSetting: string; readonly url: string; readonly clientId: string | undefined; readonly connectTimeoutMs: number },
  ctx: ConnectorContext,
): Promise<LogLease> {
  try {
    return await acquireLog(o.url, { logger: ctx.logger, clientId: o.clientId, connectTimeoutMs: o.connectTimeoutMs })
  } catch (err) {
    if (isTributaryError(err)) {
      throw new TributaryError(err.code, `${o.plugin}: "${o.locationSetting}" (${o.url}): ${err.message}`, { cause: err, retriable: err.retriable, details: { ...err.details, setting: o.locationSetting } })
    }
    throw err
  }
}
