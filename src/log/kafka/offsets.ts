/**
 * Offsets on Kafka: committed offsets of groups (OffsetFetch), high watermarks and log start
 * offsets (ListOffsets, read-uncommitted), lag, and the list of groups.
 *
 * @example
 * ```ts
 * await log.offsets.lag('billing', 'orders')
 * // [{ topic: 'orders', partition: 0, committed: 40, end: 42, lag: 2 }, ...]
 * ```
 * @module
 */
import { FetchIsolationLevels, ListOffsetTimestamps, type Admin } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import type { TopicPartitionOffset } from '../../core/record.ts'
import type { LogOffsets, PartitionLag } from '../types.ts'
import { hasApiError, toTributaryError } from './errors.ts'
import { requireTopic } from './metadata.ts'
import type { KafkaSettings } from './settings.ts'

/** {@link LogOffsets} over a platformatic `Admin` client. */
export class KafkaOffsets implements LogOffsets {
  readonly #client: Admin
  readonly #settings: KafkaSettings

  constructor(client: Admin, settings: KafkaSettings) {
    this.#client = client
    this.#settings = settings
  }

  async committed(groupId: string, topic?: string): Promise<TopicPartitionOffset[]> {
    requireGroupId(groupId, 'committed')
    let groups
    try {
      groups = await this.#client.listConsumerGroupOffsets({ groups: [groupId], requireStable: true })
    } catch (err) {
      throw toTributaryError(err, { op: 'committed', groupId, brokers: this.#settings.brokers })
    }
    const out: TopicPartitionOffset[] = []
    for (const group of groups) {
      if (group.groupId !== groupId) continue
      for (const t of group.topics) {
        if (topic !== undefined && t.name !== topic) continue
        for (const p of t.partitions) {
          const offset = Number(p.committedOffset)
          if (offset >= 0) out.push({ topic: t.name, partition: p.partitionIndex, offset })
        }
      }
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  }

  endOffsets(topic: string): Promise<number[]> {
    return this.#listOffsets(topic, ListOffsetTimestamps.LATEST, 'endOffsets')
  }

  startOffsets(topic: string): Promise<number[]> {
    return this.#listOffsets(topic, ListOffsetTimestamps.EARLIEST, 'startOffsets')
  }

  async lag(groupId: string, topic: string): Promise<PartitionLag[]> {
    requireGroupId(groupId, 'lag')
    const [end, committed] = await Promise.all([this.endOffsets(topic), this.committed(groupId, topic)])
    const byPartition = new Map(committed.map((c) => [c.partition, c.offset]))
    const needStart = end.some((_, partition) => !byPartition.has(partition))
    const start = needStart ? await this.startOffsets(topic) : []
    return end.map((e, partition) => {
      const c = byPartition.get(partition)
      const lag = c === undefined ? e - (start[partition] ?? 0) : e - c
      return { topic, partition, committed: c ?? -1, end: e, lag: Math.max(0, lag) }
    })
  }

  async listGroups(): Promise<string[]> {
    try {
      const groups = await this.#client.listGroups()
      return [...groups.keys()].sort()
    } catch (err) {
      throw toTributaryError(err, { op: 'listGroups', brokers: this.#settings.brokers })
    }
  }

  async #listOffsets(topic: string, timestamp: bigint, op: string): Promise<number[]> {
    const meta = await requireTopic(this.#client, topic, this.#settings, op)
    const partitions = Array.from({ length: meta.partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp }))
    let listed
    try {
      listed = await this.#client.listOffsets({ topics: [{ name: topic, partitions }], isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED })
    } catch (err) {
      if (hasApiError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) {
        throw new TributaryError('TRIB_LOG_UNKNOWN_TOPIC', `${op}: topic ${topic} does not exist`, { cause: err, details: { topic } })
      }
      throw toTributaryError(err, { op, topic, brokers: this.#settings.brokers })
    }
    const out = new Array<number>(meta.partitionsCount).fill(0)
    for (const t of listed) {
      if (t.name !== topic) continue
      for (const p of t.partitions) out[p.partitionIndex] = Number(p.offset)
    }
    return out
  }
}

function requireGroupId(groupId: string, op: string): void {
  if (typeof groupId !== 'string' || groupId.length === 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', `${op}: groupId must be a non-empty string`)
}
