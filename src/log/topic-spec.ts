/**
 * Validation of a {@link TopicSpec}, shared by every backend so a spec is accepted or rejected the
 * same way on the embedded log and on Kafka.
 *
 * @example
 * ```ts
 * const policy = validateTopicSpec({ name: 'clicks', partitions: 4 }) // 'delete'
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { CleanupPolicy, TopicSpec } from './types.ts'

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

/** Most partitions one topic may have. */
export const MAX_PARTITIONS = 100_000

/** Throws `TRIB_INVALID_ARGUMENT` unless `name` is a legal Kafka topic name. */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !TOPIC_NAME.test(name) || name === '.' || name === '..') {
    throw new TributaryError(
      'TRIB_INVALID_ARGUMENT',
      `invalid topic name ${JSON.stringify(name)}: use 1-249 characters of a-z, A-Z, 0-9, '.', '_' and '-'`,
      { details: { topic: name } },
    )
  }
}

/**
 * Checks name, partition count, cleanup policy (from `cleanupPolicy` or the `cleanup.policy`
 * config) and retention fields; throws `TRIB_INVALID_ARGUMENT` naming the field. Returns the
 * cleanup policy the spec asks for.
 */
export function validateTopicSpec(spec: TopicSpec): CleanupPolicy {
  validateTopicName(spec?.name)
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1 || spec.partitions > MAX_PARTITIONS) {
    throw new TributaryError(
      'TRIB_INVALID_ARGUMENT',
      `topic ${spec.name}: partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${spec.partitions}`,
      { details: { topic: spec.name, field: 'partitions' } },
    )
  }
  const policy = spec.cleanupPolicy ?? (spec.configs?.['cleanup.policy'] as CleanupPolicy | undefined) ?? 'delete'
  if (policy !== 'delete' && policy !== 'compact') {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `topic ${spec.name}: cleanupPolicy must be 'delete' or 'compact', got ${JSON.stringify(policy)}`, {
      details: { topic: spec.name, field: 'cleanupPolicy' },
    })
  }
  for (const [field, value] of [
    ['retentionMs', spec.retentionMs],
    ['retentionBytes', spec.retentionBytes],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < -1)) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `topic ${spec.name}: ${field} must be an integer >= -1, got ${value}`, {
        details: { topic: spec.name, field },
      })
    }
  }
  return policy
}
