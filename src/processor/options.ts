/**
 * Processor options: defaults in one place, validated once at construction (errors name the option
 * path, `/options/commitIntervalMs`), frozen afterwards.
 *
 * @example
 * ```ts
 * new Processor(log, graph, { storage: memoryStore(), nilHandling: 'process', badInput: 'skip' })
 * ```
 * @module
 */
import path from 'node:path'
import type { BackoffOptions } from '../core/backoff.ts'
import { TributaryError } from '../core/errors.ts'
import { rootLogger, type Logger } from '../core/logger.ts'
import type { TopicPartitionOffset } from '../core/record.ts'
import { resolvePartitioner, type Partitioner, type PartitionerName } from '../log/partitioner.ts'
import { lmdbStore } from '../state/lmdb-store.ts'
import type { StoreBuilder } from '../state/store.ts'

/**
 * What to do with input messages whose value is `null` (goka's `NilHandling`): `ignore` skips them
 * (default), `process` calls the callback with `undefined`, `decode` passes empty bytes to the codec.
 */
export type NilHandling = 'ignore' | 'process' | 'decode'

/**
 * What to do with an input message the codec cannot decode: `fail` stops the processor with a
 * `TRIB_CODEC` error naming topic, partition and offset (default); `skip` counts it in the
 * partition's stats, logs a warning and goes on.
 */
export type BadInputPolicy = 'fail' | 'skip'

/**
 * A change of this instance's partitions (goka's rebalance callback). `lost`: the group session
 * expired (cut off from the broker); the partitions' uncommitted work was dropped, not committed.
 */
export interface RebalanceEvent {
  readonly type: 'assigned' | 'revoked' | 'lost'
  readonly partitions: readonly number[]
}

/** Options of a {@link Processor}. */
export interface ProcessorOptions {
  /** Builds the store of each group-table partition. Default: LMDB under `./.tributary/state/<group>`. */
  storage?: StoreBuilder
  /** Builds the stores of joined and lookup tables. Default: LMDB under the same dir, without fsync. */
  viewStorage?: StoreBuilder
  /**
   * How keys map to partitions for `ctx.loopback`, `ctx.emit`, `ctx.lookup` and `processor.get`.
   * Default `murmur2` (the Java client's); `fnv1a` for goka/sarama. Group-table rows always go to
   * the input message's partition.
   */
  partitioner?: PartitionerName | Partitioner
  /** Default `ignore`. */
  nilHandling?: NilHandling
  /** Default `fail`. */
  badInput?: BadInputPolicy
  /** Called when partitions are assigned to or revoked from this instance. */
  onRebalance?: (event: RebalanceEvent) => void
  /**
   * Called after input offsets were committed (everything they caused is acknowledged and in the
   * stores), with the committed offsets. For metrics and tests.
   */
  onCommit?: (offsets: readonly TopicPartitionOffset[]) => void
  /** How often table writes are flushed to the store and input offsets committed (ms). Default 1,000. */
  commitIntervalMs?: number
  /** Where a new group starts reading an input: `earliest` (default) or `latest` (goka's default). */
  autoOffsetReset?: 'earliest' | 'latest'
  /** Restart backoff after transient errors. Default 250 ms doubling up to 30 s. */
  backoff?: BackoffOptions
  /** The most input records one poll returns (and so processed between commit checks). Default 10,000. */
  maxPollRecords?: number
  /** Consumer group session timeout (ms). Default 10,000. */
  sessionTimeoutMs?: number
  /** Client id for logs and Kafka. Default `<group>`. */
  clientId?: string
  logger?: Logger
}

/** Options after defaults were applied. */
export interface ResolvedProcessorOptions {
  readonly storage: StoreBuilder
  readonly viewStorage: StoreBuilder
  readonly partitioner: Partitioner
  readonly nilHandling: NilHandling
  readonly badInput: BadInputPolicy
  readonly onRebalance: (event: RebalanceEvent) => void
  readonly onCommit: (offsets: readonly TopicPartitionOffset[]) => void
  readonly commitIntervalMs: number
  readonly autoOffsetReset: 'earliest' | 'latest'
  readonly backoff: BackoffOptions
  readonly sessionTimeoutMs: number
  readonly maxPollRecords: number
  readonly clientId: string
  readonly logger: Logger
}

function invalid(option: string, problem: string): TributaryError {
  return new TributaryError('TRIB_INVALID_ARGUMENT', `/options/${option}: ${problem}`, { details: { option } })
}

function oneOf<T extends string>(option: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value)) throw invalid(option, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`)
  return value
}

function positive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw invalid(option, `must be a positive number, got ${JSON.stringify(value)}`)
  return value
}

/** The default state directory of a group. */
export function defaultStateDir(group: string): string {
  return path.join('.tributary', 'state', group)
}

/** Applies defaults and validates; throws `TRIB_INVALID_ARGUMENT` naming the option. */
export function resolveProcessorOptions(group: string, options: ProcessorOptions = {}): ResolvedProcessorOptions {
  if (options === null || typeof options !== 'object') throw invalid('', 'options must be an object')
  for (const fn of ['storage', 'viewStorage', 'onRebalance', 'onCommit'] as const) {
    if (options[fn] !== undefined && typeof options[fn] !== 'function') throw invalid(fn, 'must be a function')
  }
  if (options.partitioner !== undefined && typeof options.partitioner !== 'function' && !['murmur2', 'fnv1a'].includes(options.partitioner)) {
    throw invalid('partitioner', `must be 'murmur2', 'fnv1a' or a function, got ${JSON.stringify(options.partitioner)}`)
  }
  const logger = options.logger ?? rootLogger().child({ component: 'processor', group })
  return Object.freeze({
    storage: options.storage ?? lmdbStore({ dir: defaultStateDir(group), logger }),
    viewStorage: options.viewStorage ?? lmdbStore({ dir: defaultStateDir(group), sync: false, logger }),
    partitioner: resolvePartitioner(options.partitioner),
    nilHandling: oneOf('nilHandling', options.nilHandling, ['ignore', 'process', 'decode'], 'ignore'),
    badInput: oneOf('badInput', options.badInput, ['fail', 'skip'], 'fail'),
    onRebalance: options.onRebalance ?? (() => {}),
    onCommit: options.onCommit ?? (() => {}),
    commitIntervalMs: positive('commitIntervalMs', options.commitIntervalMs, 1_000),
    autoOffsetReset: oneOf('autoOffsetReset', options.autoOffsetReset, ['earliest', 'latest'], 'earliest'),
    backoff: { initialMs: 250, maxMs: 30_000, ...options.backoff },
    sessionTimeoutMs: positive('sessionTimeoutMs', options.sessionTimeoutMs, 10_000),
    maxPollRecords: positive('maxPollRecords', options.maxPollRecords, 10_000),
    clientId: options.clientId ?? group,
    logger,
  })
}
