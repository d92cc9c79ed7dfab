/**
 * The Kafka group consumer: a poll-based {@link GroupConsumer} built from {@link GroupMember}
 * (membership, commits) and {@link Fetcher} (positions, prefetch, seek, pause).
 *
 * Rebalances happen inside `poll`, as in Kafka's Java client:
 * 1. A heartbeat answered REBALANCE_IN_PROGRESS flags the member and wakes a waiting `poll`.
 * 2. `poll` stops returning records, awaits `onRevoke(all owned partitions)` (commit there), drops
 *    the partitions and their buffers, then starts JoinGroup/SyncGroup in the background.
 *    Heartbeats go on until then, so a member busy with a batch is not expired (up to the rebalance
 *    timeout, Kafka's `max.poll.interval.ms`).
 * 3. `poll` waits for the join until its own timeout; a join that takes longer goes on in the
 *    background and the next `poll` picks it up (two members polled one after the other in one
 *    task do not deadlock each other).
 * 4. With the new assignment, `poll` reads the committed offsets (OffsetFetch with
 *    `require_stable`), resets partitions without one to `autoOffsetReset` (ListOffsets), awaits
 *    `onAssign`, and only then returns records of those partitions.
 *
 * @example
 * ```ts
 * const consumer = log.consumer({ groupId: 'billing', topics: ['orders'], onRevoke: () => consumer.commit() })
 * for await (const batch of consumer) {
 *   for (const record of batch) handle(record)
 *   await consumer.commit()
 * }
 * ```
 * @module
 */
import { ConnectionPool, ListOffsetTimestamps, type Consumer } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import { partitionKey, type Record, type TopicPartition, type TopicPartitionOffset } from '../../core/record.ts'
import { DEFAULT_MAX_POLL_RECORDS } from '../reader-options.ts'
import type { ConsumerOptions, GroupConsumer, PollOptions } from '../types.ts'
import { toTributaryError } from './errors.ts'
import { Fetcher, PREFETCH_RECORDS, type StartPosition } from './fetcher.ts'
import { GroupMember } from './group.ts'
import { lookupTopics, unknownTopic } from './metadata.ts'
import { fetchClient, Serial, Wakeup } from './polling.ts'
import type { KafkaSettings } from './settings.ts'
import { pollBatches } from '../poll-batches.ts'

const DEFAULT_POLL_TIMEOUT_MS = 1_000
const DEFAULT_SESSION_TIMEOUT_MS = 10_000
const DEFAULT_MAX_POLL_INTERVAL_MS = 300_000

/** A member of a Kafka consumer group with the poll-based {@link GroupConsumer} API. */
export class KafkaGroupConsumer implements GroupConsumer {
  readonly groupId: string
  readonly #options: ConsumerOptions
  readonly #settings: KafkaSettings
  readonly #client: Consumer
  readonly #groupPool: ConnectionPool
  readonly #fetchPool: ConnectionPool
  readonly #member: GroupMember
  readonly #fetcher: Fetcher
  readonly #maxPollRecords: number
  readonly #onClose: (consumer: KafkaGroupConsumer) => void
  #assigned: TopicPartition[] = []
  #assignedKeys = new Set<string>()
  #pendingAssignment: TopicPartition[] | undefined
  #topicsChecked = false
  #closed = false
  #closing: Promise<void> | undefined
  readonly #polls = new Serial()
  readonly #wakeup = new Wakeup()
  readonly #maxPollIntervalMs: number
  readonly #pollWatch: NodeJS.Timeout
  #polling = 0
  #lastPollAt = Date.now()

  constructor(settings: KafkaSettings, options: ConsumerOptions, onClose: (consumer: KafkaGroupConsumer) => void = () => {}) {
    validateOptions(options)
    this.#options = options
    this.#settings = settings
    this.groupId = options.groupId
    this.#onClose = onClose
    this.#maxPollRecords = options.maxPollRecords ?? DEFAULT_MAX_POLL_RECORDS
    const sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS
    this.#maxPollIntervalMs = options.maxPollIntervalMs ?? DEFAULT_MAX_POLL_INTERVAL_MS
    const rebalanceTimeoutMs = settings.rebalanceTimeoutMs ?? this.#maxPollIntervalMs
    const role = options.clientId ?? `consumer-${options.groupId}`
    const { client, fetchPool, clientId, poolOptions } = fetchClient(settings, role, options.groupId)
    this.#client = client
    this.#client.topics.trackAll(...options.topics)
    this.#fetchPool = fetchPool
    // JoinGroup is held by the broker for up to the rebalance timeout: the request must outlive it.
    this.#groupPool = new ConnectionPool(clientId, { ...poolOptions, requestTimeout: Math.max(settings.requestTimeoutMs, rebalanceTimeoutMs + 5_000) })
    const wake = (): void => this.#notify()
    this.#member = new GroupMember({
      client: this.#client,
      pool: this.#groupPool,
      settings,
      groupId: options.groupId,
      groupInstanceId: options.groupInstanceId,
      topics: [...options.topics],
      strategy: options.assignment ?? 'range',
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      onChange: wake,
      leavePool: () => new ConnectionPool(clientId, poolOptions),
    })
    this.#fetcher = new Fetcher({
      client: this.#client,
      pool: this.#fetchPool,
      settings,
      autoOffsetReset: options.autoOffsetReset ?? 'earliest',
      prefetchRecords: Math.max(this.#maxPollRecords, PREFETCH_RECORDS),
      onData: wake,
    })
    this.#pollWatch = setInterval(() => this.#checkPollInterval(), Math.max(20, Math.min(1_000, Math.floor(this.#maxPollIntervalMs / 10))))
    this.#pollWatch.unref()
  }

  poll(options: PollOptions = {}): Promise<Record[]> {
    if (this.#closed) return Promise.reject(closedError(this.groupId))
    this.#polling++
    return this.#polls.run(() => this.#poll(options)).finally(() => {
      this.#polling--
      this.#lastPollAt = Date.now()
    })
  }

  /** Leaves the group when the application has not called `poll` for `maxPollIntervalMs`. */
  #checkPollInterval(): void {
    if (this.#closed || this.#polling > 0 || this.#assigned.length === 0) return
    const idleMs = Date.now() - this.#lastPollAt
    if (idleMs <= this.#maxPollIntervalMs) return
    void this.#member.leave(`consumer poll timeout: no poll for ${idleMs} ms (maxPollIntervalMs ${this.#maxPollIntervalMs}); the application is too slow or stuck`)
  }

  async commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    if (this.#closed) throw closedError(this.groupId)
    const list: TopicPartitionOffset[] = []
    if (offsets === undefined) {
      for (const tp of this.#assigned) {
        const offset = this.#fetcher.position(tp)
        if (offset !== undefined) list.push({ topic: tp.topic, partition: tp.partition, offset })
      }
    } else {
      if (!Array.isArray(offsets)) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'commit: offsets must be an array')
      for (const o of offsets) {
        if (!Number.isSafeInteger(o?.offset) || o.offset < 0) {
          throw new TributaryError('TRIB_INVALID_ARGUMENT', `commit ${o?.topic}/${o?.partition}: offset must be a non-negative integer, got ${o?.offset}`, {
            details: { topic: o?.topic, partition: o?.partition, offset: o?.offset },
          })
        }
        if (!this.#assignedKeys.has(partitionKey(o.topic, o.partition))) {
          throw new TributaryError(
            'TRIB_LOG_NOT_ASSIGNED',
            `commit rejected: partition ${o.topic}/${o.partition} is not assigned to this member of group ${this.groupId} (it was revoked or never assigned); nothing of this commit was applied`,
            { details: { groupId: this.groupId, topic: o.topic, partition: o.partition, offset: o.offset } },
          )
        }
        list.push({ topic: o.topic, partition: o.partition, offset: o.offset })
      }
    }
    if (list.length === 0) return
    if (this.#member.lost) {
      const names = list.map((o) => partitionKey(o.topic, o.partition)).join(', ')
      throw new TributaryError(
        'TRIB_LOG_NOT_ASSIGNED',
        `commit rejected: this member of group ${this.groupId} lost ${names} (its session expired or it left the group); nothing of this commit was applied`,
        { details: { groupId: this.groupId, lost: true } },
      )
    }
    await this.#member.commit(list)
  }

  seek(partition: TopicPartition, offset: number): void {
    if (this.#closed) throw closedError(this.groupId)
    const key = this.#requireAssigned(partition, 'seek')
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `seek ${key}: offset must be a non-negative integer, got ${offset}`)
    }
    this.#fetcher.seek(partition, offset)
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#requireAssigned(tp, 'pause')
    for (const tp of partitions) this.#fetcher.pause(tp)
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#fetcher.resume(tp)
  }

  /** The owned partitions; none once they are lost (even before the next `poll` runs `onLost`). */
  assignment(): TopicPartition[] {
    if (this.#member.lost) return []
    return this.#assigned.map((tp) => ({ topic: tp.topic, partition: tp.partition }))
  }

  position(partition: TopicPartition): number | undefined {
    return this.#fetcher.position(partition)
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  [Symbol.asyncIterator](): AsyncIterator<Record[]> {
    return pollBatches(() => this.poll(), () => this.#closed)
  }

  async #close(): Promise<void> {
    if (this.#assigned.length > 0 && !this.#member.lost) {
      try {
        await this.#options.onRevoke?.(this.assignment())
      } catch (err) {
        this.#settings.logger.warn({ groupId: this.groupId, err }, 'onRevoke failed while closing')
      }
    }
    this.#closed = true
    clearInterval(this.#pollWatch)
    this.#notify()
    this.#fetcher.close()
    this.#assigned = []
    this.#assignedKeys = new Set()
    try {
      await this.#member.close(true)
    } finally {
      await Promise.allSettled([this.#groupPool.close(), this.#fetchPool.close(), this.#client.close()])
      this.#onClose(this)
    }
  }

  async #poll(options: PollOptions): Promise<Record[]> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_POLL_TIMEOUT_MS)
    const max = options.maxRecords ?? this.#maxPollRecords
    if (!Number.isInteger(max) || max < 1) throw new TributaryError('TRIB_INVALID_ARGUMENT', `poll: maxRecords must be a positive integer, got ${max}`)
    const signal = options.signal
    for (;;) {
      if (this.#closed) return []
      this.#wakeup.reset()
      await this.#maintain(deadline, signal)
      if (this.#closed) return []
      if (this.#pendingAssignment === undefined && !this.#member.joining && this.#assigned.length > 0) {
        const records = this.#fetcher.drain(max)
        if (records.length > 0) return records
        this.#fetcher.kick()
      }
      if (Date.now() >= deadline || signal?.aborted) return []
      if (!this.#wakeup.signalled) await this.#wakeup.wait(deadline, signal)
    }
  }

  /** Runs whatever the group needs: first checks, revoke + rejoin, new assignment. */
  async #maintain(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const fatal = this.#member.fatal
    if (fatal) throw fatal
    if (!this.#topicsChecked) {
      const { unknown } = await lookupTopics(this.#client, this.#options.topics, this.#settings, 'poll')
      if (unknown.size > 0) throw unknownTopic(`consumer of group ${this.groupId}`, [...unknown][0])
      this.#topicsChecked = true
    }
    let listenerError: unknown
    if (this.#member.needsRejoin) {
      listenerError = await this.#revoke()
      if (this.#closed) return
      this.#member.startJoin()
    }
    if (this.#member.joining) {
      await this.#waitJoin(deadline, signal)
      if (this.#member.joining) {
        if (listenerError) throw listenerError
        return
      }
      if (this.#member.fatal) throw this.#member.fatal
    }
    const joinError = this.#member.takeJoinError()
    if (joinError) throw joinError
    const assignment = this.#member.takeAssignment()
    if (assignment !== undefined) this.#pendingAssignment = assignment
    if (this.#pendingAssignment !== undefined && !this.#member.needsRejoin) {
      const error = await this.#assign(this.#pendingAssignment)
      listenerError ??= error
    }
    if (listenerError) throw listenerError
  }

  /**
   * Runs `onRevoke` for the owned partitions and drops them — or, when they were lost (session
   * expired, removed, left after the poll timeout), drops them first and then runs `onLost`, so
   * nothing of them can be committed or returned any more. Returns the listener's error, if any.
   */
  async #revoke(): Promise<unknown> {
    const owned = this.#assigned.map((tp) => ({ topic: tp.topic, partition: tp.partition }))
    this.#pendingAssignment = undefined
    if (owned.length === 0) return undefined
    let error: unknown
    if (this.#member.lost) {
      this.#fetcher.clear()
      this.#assigned = []
      this.#assignedKeys = new Set()
      this.#settings.logger.warn({ groupId: this.groupId, partitions: owned.map((tp) => partitionKey(tp.topic, tp.partition)) }, 'partitions lost')
      try {
        await this.#options.onLost?.(owned)
      } catch (err) {
        error = err
      }
      return error
    }
    try {
      // Positions stay readable (and committable) inside onRevoke; nothing is returned meanwhile.
      await this.#options.onRevoke?.(owned)
    } catch (err) {
      error = err
    }
    this.#fetcher.clear()
    this.#assigned = []
    this.#assignedKeys = new Set()
    return error
  }

  /** Resolves start positions, installs the assignment, then runs `onAssign`. Returns the listener's error. */
  async #assign(partitions: TopicPartition[]): Promise<unknown> {
    let positions: StartPosition[]
    try {
      positions = await this.#startPositions(partitions)
    } catch (err) {
      const error = toTributaryError(err, { op: 'poll', groupId: this.groupId, brokers: this.#settings.brokers })
      // Transient (broker briefly away): the assignment stays pending and the next poll tries again.
      if (!error.retriable) throw error
      this.#settings.logger.warn({ groupId: this.groupId, err: error.message }, 'reading committed offsets failed; will retry')
      return undefined
    }
    if (this.#pendingAssignment !== partitions || this.#member.needsRejoin || this.#closed) return undefined
    this.#pendingAssignment = undefined
    this.#fetcher.assign(positions)
    this.#assigned = partitions
    this.#assignedKeys = new Set(partitions.map((tp) => partitionKey(tp.topic, tp.partition)))
    this.#settings.logger.debug({ groupId: this.groupId, partitions: partitions.length }, 'partitions assigned')
    let error: unknown
    if (partitions.length > 0) {
      try {
        await this.#options.onAssign?.(this.assignment())
      } catch (err) {
        error = err
      }
    }
    this.#fetcher.kick()
    return error
  }

  /** Committed offsets where they exist; the earliest or latest offset elsewhere. */
  async #startPositions(partitions: TopicPartition[]): Promise<StartPosition[]> {
    if (partitions.length === 0) return []
    const committed = await this.#member.committed(partitions)
    const out: StartPosition[] = []
    const missing: { [topic: string]: number[] } = {}
    for (const tp of partitions) {
      const offset = committed.get(partitionKey(tp.topic, tp.partition)) ?? -1
      if (offset >= 0) out.push({ topic: tp.topic, partition: tp.partition, offset })
      else (missing[tp.topic] ??= []).push(tp.partition)
    }
    const topics = Object.keys(missing)
    if (topics.length > 0) {
      const timestamp = this.#options.autoOffsetReset === 'latest' ? ListOffsetTimestamps.LATEST : ListOffsetTimestamps.EARLIEST
      const offsets = await this.#client.listOffsets({ topics, partitions: missing, timestamp })
      for (const topic of topics) {
        for (const partition of missing[topic]) {
          const offset = offsets.get(topic)?.[partition]
          out.push({ topic, partition, offset: offset === undefined ? undefined : Number(offset) })
        }
      }
    }
    const order = new Map(partitions.map((tp, i) => [partitionKey(tp.topic, tp.partition), i]))
    return out.sort((a, b) => (order.get(partitionKey(a.topic, a.partition)) ?? 0) - (order.get(partitionKey(b.topic, b.partition)) ?? 0))
  }

  async #waitJoin(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    while (this.#member.joining && !this.#closed && Date.now() < deadline && !signal?.aborted) {
      this.#wakeup.reset()
      await Promise.race([this.#member.waitJoin(), this.#wakeup.wait(deadline, signal)])
    }
  }

  #notify(): void {
    this.#wakeup.notify()
  }

  #requireAssigned(tp: TopicPartition, action: string): string {
    const key = partitionKey(tp.topic, tp.partition)
    if (!this.#assignedKeys.has(key)) {
      throw new TributaryError('TRIB_LOG_NOT_ASSIGNED', `${action}: partition ${key} is not assigned to this member of group ${this.groupId}`, {
        details: { groupId: this.groupId, topic: tp.topic, partition: tp.partition },
      })
    }
    return key
  }
}

function closedError(groupId: string): TributaryError {
  return new TributaryError('TRIB_CLOSED', `consumer of group ${groupId} is closed`)
}

function validateOptions(options: ConsumerOptions): void {
  if (!options || typeof options.groupId !== 'string' || !/^\S+$/.test(options.groupId)) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', 'consumer: groupId is required (a string without spaces)')
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0 || options.topics.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `consumer of group ${options.groupId}: topics must name at least one topic`)
  }
  if (options.assignment !== undefined && options.assignment !== 'range' && options.assignment !== 'roundrobin') {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `consumer of group ${options.groupId}: assignment must be "range" or "roundrobin"`)
  }
  if (options.autoOffsetReset !== undefined && options.autoOffsetReset !== 'earliest' && options.autoOffsetReset !== 'latest') {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `consumer of group ${options.groupId}: autoOffsetReset must be "earliest" or "latest"`)
  }
  for (const [name, value] of [['sessionTimeoutMs', options.sessionTimeoutMs], ['maxPollRecords', options.maxPollRecords], ['maxPollIntervalMs', options.maxPollIntervalMs]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `consumer of group ${options.groupId}: ${name} must be a positive integer, got ${value}`)
    }
  }
}
