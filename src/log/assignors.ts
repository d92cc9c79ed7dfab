/**
 * Partition assignment strategies, with the Java client's semantics.
 *
 * - `range`: per topic, members sorted by id get consecutive ranges; the first
 *   `partitions % members` members get one extra.
 * - `roundrobin`: all partitions of all topics, sorted by topic then partition, dealt to members
 *   sorted by id, skipping members not subscribed to a topic.
 *
 * Used by the embedded log's coordinator and as the Kafka backend's client-side assignor.
 * @module
 */
import type { TopicPartition } from '../core/record.ts'
import type { AssignmentStrategy } from './types.ts'

/** A group member as the assignor sees it. */
export interface AssignorMember {
  readonly id: string
  readonly topics: readonly string[]
}

/** Member id → assigned partitions. */
export type Assignment = Map<string, TopicPartition[]>

/** Splits the partitions of `partitionCounts` (topic → count) among `members`. */
export function assign(
  strategy: AssignmentStrategy,
  members: readonly AssignorMember[],
  partitionCounts: ReadonlyMap<string, number>,
): Assignment {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const result: Assignment = new Map(sorted.map((m) => [m.id, []]))
  const topics = [...partitionCounts.keys()].sort()
  if (strategy === 'range') {
    for (const topic of topics) {
      const subscribed = sorted.filter((m) => m.topics.includes(topic))
      if (subscribed.length === 0) continue
      const count = partitionCounts.get(topic) ?? 0
      const per = Math.floor(count / subscribed.length)
      const extra = count % subscribed.length
      let next = 0
      subscribed.forEach((member, i) => {
        const take = per + (i < extra ? 1 : 0)
        const list = result.get(member.id) as TopicPartition[]
        for (let p = next; p < next + take; p++) list.push({ topic, partition: p })
        next += take
      })
    }
    return result
  }
  let cursor = 0
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0
    for (let partition = 0; partition < count; partition++) {
      for (let tries = 0; tries < sorted.length; tries++) {
        const member = sorted[cursor % sorted.length]
        cursor++
        if (member.topics.includes(topic)) {
          ;(result.get(member.id) as TopicPartition[]).push({ topic, partition })
          break
        }
      }
    }
  }
  return result
}
