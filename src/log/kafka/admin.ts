/**
 * Topic administration on Kafka: create (partitions, `cleanup.policy`, retention, extra configs),
 * describe (partitions from metadata, policy and retention from DescribeConfigs), list, delete.
 *
 * `createTopic` and `deleteTopic` resolve only once the broker's metadata shows the change, so a
 * producer or consumer created right after sees it.
 *
 * @example
 * ```ts
 * await log.admin.createTopic({ name: 'users', partitions: 6, cleanupPolicy: 'compact' })
 * await log.admin.describeTopic('users') // { name: 'users', partitions: 6, cleanupPolicy: 'compact', ... }
 * ```
 * @module
 */
import { ConfigResourceTypes, type Admin } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import type { LogAdmin, TopicDescription, TopicSpec } from '../types.ts'
import { describe, hasApiError, toTributaryError } from './errors.ts'
import { lookupTopics, requireTopic, unknownTopic } from './metadata.ts'
import { delay } from './rpc.ts'
import type { KafkaSettings } from './settings.ts'
import { validateTopicSpec } from '../topic-spec.ts'

/** {@link LogAdmin} over a platformatic `Admin` client. */
export class KafkaAdmin implements LogAdmin {
  readonly #client: Admin
  readonly #settings: KafkaSettings

  constructor(client: Admin, settings: KafkaSettings) {
    this.#client = client
    this.#settings = settings
  }

  async createTopic(spec: TopicSpec): Promise<void> {
    validateTopicSpec(spec)
    const configs: { name: string; value: string }[] = [{ name: 'cleanup.policy', value: spec.cleanupPolicy ?? 'delete' }]
    if (spec.retentionMs !== undefined) configs.push({ name: 'retention.ms', value: String(spec.retentionMs) })
    if (spec.retentionBytes !== undefined) configs.push({ name: 'retention.bytes', value: String(spec.retentionBytes) })
    for (const [name, value] of Object.entries(spec.configs ?? {})) {
      const existing = configs.findIndex((c) => c.name === name)
      if (existing >= 0) configs.splice(existing, 1)
      configs.push({ name, value: String(value) })
    }
    try {
      await this.#client.createTopics({
        topics: [spec.name],
        partitions: spec.partitions,
        replicas: this.#settings.replicationFactor,
        configs,
      })
    } catch (err) {
      if (hasApiError(err, 'TOPIC_ALREADY_EXISTS')) {
        throw new TributaryError('TRIB_LOG_TOPIC_EXISTS', `createTopic: topic ${spec.name} already exists`, {
          cause: err,
          details: { topic: spec.name },
        })
      }
      throw toTributaryError(err, { op: 'createTopic', topic: spec.name, brokers: this.#settings.brokers })
    }
    await this.#waitFor(spec.name, (meta) => meta !== undefined && meta.partitionsCount === spec.partitions && meta.partitions.every((p) => p && p.leader >= 0))
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const meta = await requireTopic(this.#client, name, this.#settings, 'describeTopic', true)
    let configs: Map<string, string | null | undefined>
    try {
      const result = await this.#client.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: ['cleanup.policy', 'retention.ms', 'retention.bytes'] }],
      })
      configs = new Map((result[0]?.configs ?? []).map((c) => [c.name, c.value]))
    } catch (err) {
      if (hasApiError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw unknownTopic('describeTopic', name)
      throw toTributaryError(err, { op: 'describeTopic', topic: name, brokers: this.#settings.brokers })
    }
    const policy = configs.get('cleanup.policy') ?? 'delete'
    return {
      name,
      partitions: meta.partitionsCount,
      cleanupPolicy: policy.split(',').map((p) => p.trim()).includes('compact') ? 'compact' : 'delete',
      retentionMs: toNumber(configs.get('retention.ms'), -1),
      retentionBytes: toNumber(configs.get('retention.bytes'), -1),
    }
  }

  async listTopics(): Promise<string[]> {
    try {
      const topics = await this.#client.listTopics({ includeInternals: false })
      return topics.filter((t) => !t.startsWith('__')).sort()
    } catch (err) {
      throw toTributaryError(err, { op: 'listTopics', brokers: this.#settings.brokers })
    }
  }

  async deleteTopic(name: string): Promise<void> {
    if (typeof name !== 'string' || name.length === 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'deleteTopic: name must be a non-empty string')
    try {
      await this.#client.deleteTopics({ topics: [name] })
    } catch (err) {
      if (hasApiError(err, 'UNKNOWN_TOPIC_OR_PARTITION') || hasApiError(err, 'UNKNOWN_TOPIC_ID')) throw unknownTopic('deleteTopic', name)
      throw toTributaryError(err, { op: 'deleteTopic', topic: name, brokers: this.#settings.brokers })
    }
    await this.#waitFor(name, (meta) => meta === undefined)
  }

  /** Polls metadata until `done` holds for the topic (bounded by the request timeout; then gives up quietly). */
  async #waitFor(topic: string, done: (meta: Awaited<ReturnType<typeof requireTopic>> | undefined) => boolean): Promise<void> {
    const deadline = Date.now() + this.#settings.requestTimeoutMs
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        const { found } = await lookupTopics(this.#client, [topic], this.#settings, 'admin', true)
        if (done(found.get(topic))) return
      } catch (err) {
        this.#settings.logger.debug({ topic, err: describe(err) }, 'waiting for topic metadata')
      }
      await delay(Math.min(20 * 2 ** attempt, 250))
    }
    this.#settings.logger.warn({ topic }, 'topic metadata did not settle in time')
  }
}

function toNumber(value: string | null | undefined, fallback: number): number {
  if (value === null || value === undefined || value === '') return fallback
  const n = Number(value)
  return Number.isFinite(n) ? n : fallback
}
