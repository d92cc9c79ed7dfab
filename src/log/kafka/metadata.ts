/**
 * Topic metadata lookups with exact "unknown topic" detection.
 *
 * platformatic retries `UNKNOWN_TOPIC_OR_PARTITION` like any retriable error (seconds) and reports
 * only the first unknown topic; these helpers ask without retries, name every unknown topic, and
 * retry only transient failures (leader elections, connection hiccups) within a deadline.
 *
 * @example
 * ```ts
 * const { found, unknown } = await lookupTopics(client, ['a', 'b'], settings)
 * found.get('a')?.partitionsCount
 * ```
 * @module
 */
import type { Base, ClusterMetadata, ClusterTopicMetadata } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import { describe, isRetriable, toTributaryError } from './errors.ts'
import { delay } from './rpc.ts'
import type { KafkaSettings } from './settings.ts'

const UNKNOWN = /^Unknown topic (.+)\.$/

/** Known topics with their metadata, and the names the broker does not know. */
export interface TopicLookup {
  readonly found: Map<string, ClusterTopicMetadata>
  readonly unknown: Set<string>
}

/** Cluster metadata (brokers, controller) without topics; also the cheapest connectivity check. */
export function clusterMetadata(client: Base, forceUpdate = false): Promise<ClusterMetadata> {
  return client.metadata({ topics: [], forceUpdate, retries: 0 })
}

/**
 * Looks topics up. `forceUpdate` bypasses platformatic's metadata cache (5 s); use it after topics
 * were created or deleted.
 */
export async function lookupTopics(
  client: Base,
  topics: readonly string[],
  settings: KafkaSettings,
  op = 'metadata',
  forceUpdate = false,
): Promise<TopicLookup> {
  const found = new Map<string, ClusterTopicMetadata>()
  const unknown = new Set<string>()
  let remaining = [...new Set(topics)]
  const deadline = Date.now() + settings.requestTimeoutMs
  let attempt = 0
  while (remaining.length > 0) {
    try {
      // platformatic sorts the array it is given in place: always pass a copy.
      const metadata = await client.metadata({ topics: [...remaining], forceUpdate, retries: 0 })
      for (const topic of remaining) {
        const meta = metadata.topics.get(topic)
        if (meta) found.set(topic, meta)
        else unknown.add(topic)
      }
      return { found, unknown }
    } catch (err) {
      const message = err instanceof Error ? err.message : ''
      const m = UNKNOWN.exec(message)
      if (m && remaining.includes(m[1])) {
        unknown.add(m[1])
        remaining = remaining.filter((t) => t !== m[1])
        continue
      }
      if (m) {
        // platformatic could not tell which topic: ask one by one.
        for (const topic of remaining) {
          const single = await lookupTopics(client, [topic], settings, op, forceUpdate)
          for (const [name, meta] of single.found) found.set(name, meta)
          for (const name of single.unknown) unknown.add(name)
        }
        return { found, unknown }
      }
      if (!isRetriable(err) || Date.now() + 100 > deadline) throw toTributaryError(err, { op, brokers: settings.brokers })
      settings.logger.debug({ op, err: describe(err), attempt }, 'metadata lookup failed; retrying')
      client.clearMetadata()
      await delay(Math.min(50 * 2 ** attempt++, 1_000))
    }
  }
  return { found, unknown }
}

/** Metadata of one topic; rejects with `TRIB_LOG_UNKNOWN_TOPIC` naming it. */
export async function requireTopic(client: Base, topic: string, settings: KafkaSettings, op: string, forceUpdate = false): Promise<ClusterTopicMetadata> {
  const { found } = await lookupTopics(client, [topic], settings, op, forceUpdate)
  const meta = found.get(topic)
  if (!meta) throw unknownTopic(op, topic)
  return meta
}

/** The `TRIB_LOG_UNKNOWN_TOPIC` error for `topic`. */
export function unknownTopic(op: string, topic: string): TributaryError {
  return new TributaryError('TRIB_LOG_UNKNOWN_TOPIC', `${op}: topic ${topic} does not exist`, { details: { op, topic } })
}
