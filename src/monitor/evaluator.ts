/**
 * The evaluator: turns a stored group into its Burrow status (`status`, `complete`, `partitions`,
 * `partition_count`, `maxlag`, `totallag`) with the rules of `rules.ts`, and caches each result for
 * `expireCacheMs` (Burrow's `expire-cache`).
 *
 * @example
 * ```ts
 * const evaluator = new Evaluator(storage, { expireCacheMs: 10_000, allowedLag: 0, minimumComplete: 0 })
 * const status = evaluator.evaluate('local', 'billing') // { status: 'WARN', totallag: 1200, ... }
 * ```
 * @module
 */
import { ringOf, type CommitRing } from './commit-ring.ts'
import { compareForMaxLag, groupStatusCode, partitionStatus } from './rules.ts'
import { Status, statusName, type GroupStatus, type PartitionStatus, type PublicOffset, type StatusCode } from './status.ts'
import type { GroupPartition, GroupState, MonitorStorage } from './storage.ts'

/** Options of the {@link Evaluator}. */
export interface EvaluatorOptions {
  /** How long a result is reused (ms). 0 disables the cache. Burrow's default 10 s. */
  expireCacheMs: number
  /** Lag at or below this counts as caught up. Default 0. */
  allowedLag: number
  /** Partitions whose ring is less full than this share (0..1) are OK. Default 0. */
  minimumComplete: number
}

const NO_BROKER_OFFSETS: readonly number[] = []
const EMPTY = ringOf([])

/** Evaluates one partition (exported for tests). `slot` may be undefined for a partition without commits. */
export function evaluatePartition(
  topic: string,
  partition: number,
  slot: GroupPartition | undefined,
  brokerOffsets: readonly number[],
  latestHwm: number,
  intervals: number,
  nowMs: number,
  rules: Pick<EvaluatorOptions, 'allowedLag' | 'minimumComplete'>,
): PartitionStatus {
  const ring = slot?.ring ?? EMPTY
  const count = ring.length
  const currentLag = count === 0 || latestHwm < 0 ? 0 : Math.max(0, latestHwm - ring.offset(count - 1))
  // Burrow quirk: a partition with a ring but no commit yet (an owner only) counts one slot of `intervals`.
  const complete = slot !== undefined && count === 0 ? 1 / intervals : Math.min(1, count / intervals)
  const code = complete < rules.minimumComplete ? Status.OK : partitionStatus(ring, brokerOffsets, currentLag, nowMs, rules.allowedLag)
  return {
    topic,
    partition,
    owner: slot?.owner ?? '',
    client_id: slot?.clientId ?? '',
    status: statusName(code),
    start: count > 0 ? offsetAt(ring, 0) : null,
    end: count > 0 ? offsetAt(ring, count - 1) : null,
    current_lag: currentLag,
    complete,
  }
}

function offsetAt(ring: CommitRing, i: number): PublicOffset {
  return { offset: ring.offset(i), timestamp: ring.timestamp(i), observedAt: ring.observedAt(i), lag: ring.lag(i) }
}

/** The NOTFOUND result for a cluster or group that does not exist (`complete: 1`, as Burrow answers it). */
export function notFoundStatus(cluster: string, group: string): GroupStatus {
  return { cluster, group, status: 'NOTFOUND', complete: 1, partitions: [], partition_count: 0, maxlag: null, totallag: 0 }
}

interface Cached {
  readonly at: number
  readonly result: GroupStatus
}

/** Evaluates groups from a {@link MonitorStorage}, with a result cache. */
export class Evaluator {
  readonly options: Readonly<EvaluatorOptions>
  readonly #storage: MonitorStorage
  readonly #cache = new Map<string, Cached>()

  constructor(storage: MonitorStorage, options: EvaluatorOptions) {
    this.#storage = storage
    this.options = { ...options }
  }

  /**
   * The status of a group with all its partitions (the `/lag` view; `/status` shows the non-OK ones).
   * NOTFOUND for an unknown cluster or group.
   */
  evaluate(cluster: string, group: string, nowMs = Date.now()): GroupStatus {
    const key = cluster + '\u0000' + group
    const cached = this.#cache.get(key)
    if (cached && nowMs - cached.at < this.options.expireCacheMs) return cached.result
    const state = this.#storage.group(cluster, group, nowMs)
    const result = state ? this.#evaluateGroup(cluster, state, nowMs) : notFoundStatus(cluster, group)
    if (this.options.expireCacheMs > 0 && state) this.#cache.set(key, { at: nowMs, result })
    else this.#cache.delete(key)
    return result
  }

  /** Evaluates every group of every cluster (used by notifiers, metrics and the benchmark). */
  evaluateAll(nowMs = Date.now()): GroupStatus[] {
    const out: GroupStatus[] = []
    for (const cluster of this.#storage.clusters()) {
      for (const group of this.#storage.groups(cluster, nowMs) ?? []) out.push(this.evaluate(cluster, group, nowMs))
    }
    return out
  }

  /** Drops a cached result (after a group was deleted). */
  invalidate(cluster: string, group: string): void {
    this.#cache.delete(cluster + '\u0000' + group)
  }

  #evaluateGroup(cluster: string, state: GroupState, nowMs: number): GroupStatus {
    const intervals = this.#storage.options.intervals
    const partitions: PartitionStatus[] = []
    const codes: StatusCode[] = []
    let completeCount = 0
    let totalLag = 0
    let maxLag: PartitionStatus | null = null
    const topics = [...state.topics.keys()].sort()
    for (const topic of topics) {
      const slots = state.topics.get(topic) as (GroupPartition | undefined)[]
      const brokerTopicOffsets = this.#storage.topicOffsets(cluster, topic)
      const count = Math.max(slots.length, brokerTopicOffsets?.length ?? 0)
      for (let p = 0; p < count; p++) {
        const bp = this.#storage.brokerPartition(cluster, topic, p)
        const status = evaluatePartition(topic, p, slots[p], bp?.offsets ?? NO_BROKER_OFFSETS, bp?.latest ?? -1, intervals, nowMs, this.options)
        partitions.push(status)
        codes.push(Status[status.status])
        if (status.complete === 1) completeCount++
        totalLag += status.current_lag
        if (maxLag === null || compareForMaxLag(status, maxLag) < 0) maxLag = status
      }
    }
    return {
      cluster,
      group: state.name,
      status: statusName(groupStatusCode(codes)),
      complete: partitions.length === 0 ? 0 : completeCount / partitions.length,
      partitions,
      partition_count: partitions.length,
      maxlag: maxLag,
      totallag: totalLag,
    }
  }
}
