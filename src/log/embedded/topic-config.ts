/**
 * Topic configuration of the embedded log. It understands the Kafka topic config names that matter
 * on one machine (`cleanup.policy`, `retention.ms`, `retention.bytes`, `segment.bytes`, `segment.ms`,
 * `delete.retention.ms`, `min.cleanable.dirty.ratio`, `min.compaction.lag.ms`), so one `TopicSpec`
 * means the same on every backend.
 * @module
 */
import { TributaryError } from '../../core/errors.ts'
import { validateTopicSpec } from '../topic-spec.ts'
import type { CleanupPolicy, TopicDescription, TopicSpec } from '../types.ts'

/** Resolved settings of one topic. */
export interface TopicConfig {
  readonly name: string
  readonly partitions: number
  readonly cleanupPolicy: CleanupPolicy
  /** -1: keep forever. */
  readonly retentionMs: number
  /** -1: unlimited. */
  readonly retentionBytes: number
  readonly segmentBytes: number
  readonly segmentMs: number
  /** How long a tombstone survives compaction (measured from its timestamp). */
  readonly deleteRetentionMs: number
  readonly minCleanableDirtyRatio: number
  readonly minCompactionLagMs: number
}

const DAY = 86_400_000

function numberConfig(spec: TopicSpec, key: string, fallback: number): number {
  const raw = spec.configs?.[key]
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isFinite(value)) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `topic ${spec.name}: config ${key}=${JSON.stringify(raw)} is not a number`, {
      details: { topic: spec.name, config: key },
    })
  }
  return value
}

/**
 * The largest `segment.bytes` (Kafka's limit, `Integer.MAX_VALUE`): a segment may pass it by one
 * batch before it rolls, and index positions are 32-bit, so this keeps every position in range.
 */
export const MAX_SEGMENT_BYTES = 2 ** 31 - 1

function segmentBytes(spec: TopicSpec): number {
  const value = numberConfig(spec, 'segment.bytes', 128 * 1024 * 1024)
  if (!Number.isInteger(value) || value < 1 || value > MAX_SEGMENT_BYTES) {
    throw new TributaryError(
      'TRIB_INVALID_ARGUMENT',
      `topic ${spec.name}: config segment.bytes=${JSON.stringify(spec.configs?.['segment.bytes'])} must be a whole number of bytes from 1 to ${MAX_SEGMENT_BYTES} (index positions are 32-bit)`,
      { details: { topic: spec.name, config: 'segment.bytes', value: spec.configs?.['segment.bytes'] } },
    )
  }
  return value
}

/** Validates a spec and fills in defaults. */
export function resolveTopicConfig(spec: TopicSpec): TopicConfig {
  const policy = validateTopicSpec(spec)
  return {
    name: spec.name,
    partitions: spec.partitions,
    cleanupPolicy: policy,
    retentionMs: spec.retentionMs ?? numberConfig(spec, 'retention.ms', -1),
    retentionBytes: spec.retentionBytes ?? numberConfig(spec, 'retention.bytes', -1),
    segmentBytes: segmentBytes(spec),
    segmentMs: numberConfig(spec, 'segment.ms', 7 * DAY),
    deleteRetentionMs: numberConfig(spec, 'delete.retention.ms', DAY),
    minCleanableDirtyRatio: numberConfig(spec, 'min.cleanable.dirty.ratio', 0.5),
    minCompactionLagMs: numberConfig(spec, 'min.compaction.lag.ms', 0),
  }
}

/** The public description of a topic. */
export function describe(config: TopicConfig): TopicDescription {
  return {
    name: config.name,
    partitions: config.partitions,
    cleanupPolicy: config.cleanupPolicy,
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
  }
}
