/**
 * A group consumer of the embedded log. Joins on its first poll; rebalances run inside `poll`
 * (revoke → rejoin → wait for the group → assign), as in Kafka's Java client.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { TributaryError } from '../../core/errors.ts'
import { partitionKey, type Record, type TopicPartition, type TopicPartitionOffset } from '../../core/record.ts'
import type { ConsumerOptions, GroupConsumer, PollOptions } from '../types.ts'
import type { MemberHandle } from './group-coordinator.ts'
import type { EmbeddedBroker } from './broker.ts'
import type { PartitionLog } from './partition.ts'
import { pollBatches } from '../poll-batches.ts'

const DEFAULT_POLL_TIMEOUT = 1_000

/** A member of an embedded consumer group. */
export class EmbeddedConsumer implements GroupConsumer {
  readonly groupId: string
  readonly #broker: EmbeddedBroker
  readonly #options: ConsumerOptions
  readonly #handle: MemberHandle
  #joined = false
  #closed = false
  #generation = 0
  #assigned: TopicPartition[] = []
  readonly #positions = new Map<string, number>()
  readonly #paused = new Set<string>()
  #cursor = 0
  #wake: (() => void) | undefined

  constructor(broker: EmbeddedBroker, options: ConsumerOptions) {
    if (!options.groupId) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'consumer: groupId is required')
    if (!Array.isArray(options.topics) || options.topics.length === 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `consumer of group ${options.groupId}: topics must name at least one topic`)
    }
    this.#broker = broker
    this.#options = options
    this.groupId = options.groupId
    const id = `${options.groupInstanceId ?? options.clientId ?? 'consumer'}-${randomUUID()}`
    this.#handle = {
      id,
      topics: [...options.topics],
      strategy: options.assignment ?? 'range',
      rebalanceTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      wake: () => this.#wake?.(),
    }
  }

  /** This member's id in its group. */
  get memberId(): string {
    return this.#handle.id
  }

  async poll(options: PollOptions = {}): Promise<Record[]> {
    this.#ensureOpen()
    const timeout = options.timeoutMs ?? DEFAULT_POLL_TIMEOUT
    const deadline = Date.now() + timeout
    const max = options.maxRecords ?? this.#options.maxPollRecords ?? 10_000
    const signal = options.signal
    for (;;) {
      await this.#syncGroup(deadline, signal)
      if (this.#closed) return []
      const out = this.#fetch(max)
      if (out.length > 0 || Date.now() >= deadline || signal?.aborted) return out
      await this.#waitForData(deadline, signal)
    }
  }

  async commit(offsets?: TopicPartitionOffset[]): Promise<void> {
    this.#ensureOpen()
    const coordinator = this.#broker.coordinator
    const list =
      offsets ??
      this.#assigned.flatMap((tp) => {
        const position = this.#positions.get(partitionKey(tp.topic, tp.partition))
        return position === undefined ? [] : [{ topic: tp.topic, partition: tp.partition, offset: position }]
      })
    for (const o of list) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new TributaryError('TRIB_INVALID_ARGUMENT', `commit ${o.topic}/${o.partition}: offset must be a non-negative integer, got ${o.offset}`, {
          details: { topic: o.topic, partition: o.partition, offset: o.offset },
        })
      }
      if (!coordinator.owns(this.groupId, this.#handle.id, o.topic, o.partition)) {
        throw new TributaryError(
          'TRIB_LOG_NOT_ASSIGNED',
          `commit rejected: partition ${o.topic}/${o.partition} is not assigned to this member of group ${this.groupId} (it was revoked or never assigned); nothing of this commit was applied`,
          { details: { groupId: this.groupId, topic: o.topic, partition: o.partition, offset: o.offset } },
        )
      }
    }
    this.#broker.assertWritable(`commit for group ${this.groupId}`)
    this.#broker.offsetStore.commit(this.groupId, list, Date.now())
  }

  seek(partition: TopicPartition, offset: number): void {
    this.#ensureOpen()
    const key = this.#requireAssigned(partition, 'seek')
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `seek ${key}: offset must be a non-negative integer, got ${offset}`)
    }
    this.#positions.set(key, offset)
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#paused.add(this.#requireAssigned(tp, 'pause'))
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#paused.delete(partitionKey(tp.topic, tp.partition))
  }

  assignment(): TopicPartition[] {
    return [...this.#assigned]
  }

  position(partition: TopicPartition): number | undefined {
    return this.#positions.get(partitionKey(partition.topic, partition.partition))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#joined && this.#assigned.length > 0) {
      try {
        await this.#options.onRevoke?.(this.assignment())
      } catch (err) {
        // Leaving matters more than the callback: the other members must get the partitions.
        this.#broker.logger.warn({ groupId: this.groupId, err }, 'onRevoke failed while closing')
      }
    }
    this.#closed = true
    if (this.#joined) this.#broker.coordinator.leave(this.groupId, this.#handle.id)
    this.#assigned = []
    this.#positions.clear()
    this.#broker.forget(this)
    this.#wake?.()
  }

  [Symbol.asyncIterator](): AsyncIterator<Record[]> {
    return pollBatches(() => this.poll(), () => this.#closed)
  }

  /** Joins, rejoins after a rebalance started, and takes the new assignment once the group is stable. */
  async #syncGroup(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const coordinator = this.#broker.coordinator
    for (;;) {
      if (this.#closed) return
      if (!this.#joined || !coordinator.isMember(this.groupId, this.#handle.id)) {
        // First poll, or removed from the group for not rejoining in time: join as a new member.
        if (this.#joined) await this.#lose()
        for (const topic of this.#options.topics) this.#broker.requireTopic(topic)
        this.#joined = true
        this.#generation = 0
        coordinator.join(this.groupId, this.#handle)
      }
      if (coordinator.needsRejoin(this.groupId, this.#handle.id)) {
        await this.#revoke()
        if (this.#closed) return
        coordinator.rejoin(this.groupId, this.#handle.id)
      }
      const current = coordinator.assignment(this.groupId, this.#handle.id)
      if (current) {
        if (current.generation !== this.#generation) await this.#assign(current.generation, current.partitions)
        return
      }
      if (Date.now() >= deadline || signal?.aborted) return
      await coordinator.waitStable(this.groupId, deadline, signal)
    }
  }

  /** Removed from the group (did not poll in time): the partitions are gone; `onLost`, not `onRevoke`. */
  async #lose(): Promise<void> {
    const owned = this.assignment()
    this.#assigned = []
    this.#positions.clear()
    this.#paused.clear()
    if (owned.length > 0) await this.#options.onLost?.(owned)
  }

  async #revoke(): Promise<void> {
    if (this.#assigned.length > 0) await this.#options.onRevoke?.(this.assignment())
    this.#assigned = []
    this.#positions.clear()
    this.#paused.clear()
  }

  async #assign(generation: number, partitions: TopicPartition[]): Promise<void> {
    this.#generation = generation
    this.#assigned = partitions
    for (const tp of partitions) {
      this.#positions.set(partitionKey(tp.topic, tp.partition), this.#startPosition(tp))
    }
    if (partitions.length > 0) await this.#options.onAssign?.(this.assignment())
  }

  /** The committed offset if it is still in range, otherwise the reset position. */
  #startPosition(tp: TopicPartition): number {
    const partition = this.#broker.partition(tp.topic, tp.partition)
    const committed = this.#broker.offsetStore.get(this.groupId, tp.topic, tp.partition)
    if (committed !== undefined && committed >= partition.startOffset && committed <= partition.endOffset) return committed
    return this.#options.autoOffsetReset === 'latest' ? partition.endOffset : partition.startOffset
  }

  #fetch(max: number): Record[] {
    const n = this.#assigned.length
    if (n === 0) return []
    this.#cursor = (this.#cursor + 1) % n
    const reset = (p: PartitionLog): number => (this.#options.autoOffsetReset === 'latest' ? p.endOffset : p.startOffset)
    return this.#broker.readRound(this.#assigned, this.#positions, this.#cursor, max, reset, this.#paused)
  }

  #waitForData(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return this.#broker.waitForAppend(deadline, signal, (wake) => (this.#wake = wake))
  }

  #requireAssigned(tp: TopicPartition, action: string): string {
    const key = partitionKey(tp.topic, tp.partition)
    if (!this.#positions.has(key)) {
      throw new TributaryError('TRIB_LOG_NOT_ASSIGNED', `${action}: partition ${key} is not assigned to this member of group ${this.groupId}`, {
        details: { groupId: this.groupId, topic: tp.topic, partition: tp.partition },
      })
    }
    return key
  }

  #ensureOpen(): void {
    if (this.#closed) throw new TributaryError('TRIB_CLOSED', `consumer of group ${this.groupId} is closed`)
  }
}
