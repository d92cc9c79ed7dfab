/**
 * The `KinesisWorker`: gokini's consumer with the KCL's guarantees. It discovers shards with
 * `ListShards` on a jittered interval, keeps one lease row per shard in a {@link LeaseStore}
 * (DynamoDB by default, on gokini's table layout), balances leases over workers with a
 * {@link LeaseCoordinator}, and runs one {@link ShardConsumer} per held shard. Children of a split or
 * merge are only taken after every parent checkpointed `SHARD_END`.
 *
 * @example
 * ```ts
 * const worker = new KinesisWorker({
 *   streamName: 'clicks', tableName: 'clicks-app',
 *   consumer: {
 *     init: (shardId) => {},
 *     processRecords: async (records, checkpointer) => { for (const r of records) handle(r.data) },
 *     shutdown: (reason) => console.log('shard stopped', reason),
 *   },
 * })
 * await worker.start()
 * process.on('SIGTERM', () => void worker.shutdown())
 * ```
 * @module
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import os from 'node:os'
import { randomUUID } from 'node:crypto'
import type { Registry } from 'prom-client'
import { TributaryError } from '../core/errors.ts'
import { rootLogger, type Logger } from '../core/logger.ts'
import { metricsRegistry } from '../core/metrics.ts'
import { LeaseCoordinator, dynamoLeaseStore, type Lease, type LeaseStore } from '../lease/index.ts'
import { dynamoClient, kinesisClient } from './clients.ts'
import { parseWorkerSettings, type WorkerSettings, type WorkerSettingsInput } from './config.ts'
import { kinesisMetrics, type KinesisMetrics } from './metrics.ts'
import { ShardConsumer } from './shard-consumer.ts'
import { listShards, shardParents } from './shards.ts'
import { SHARD_END, type RecordConsumer, type RecordConsumerFactory } from './types.ts'

/** Options of a {@link KinesisWorker}: the plain settings of `config.ts` plus objects. */
export interface KinesisWorkerOptions extends WorkerSettingsInput {
  /** The record consumer (one object for every shard), or a factory making one per shard. */
  readonly consumer: RecordConsumer | RecordConsumerFactory
  /** The Kinesis client; default one from the environment (HTTP/1.1, `retries + 1` attempts). */
  readonly kinesis?: KinesisClient
  /** The DynamoDB client for the default lease store. */
  readonly dynamo?: DynamoDBClient
  /** Another lease store (PostgreSQL, embedded) instead of DynamoDB `tableName`. */
  readonly leaseStore?: LeaseStore
  /** prom-client metrics (default: the project registry, prefix `tributary_kinesis`); `false` for none. */
  readonly metrics?: { readonly registry?: Registry; readonly prefix?: string } | false
  readonly logger?: Logger
}

/** One held shard as the worker sees it. */
export interface HeldShard {
  readonly shardId: string
  readonly checkpoint: string | undefined
  readonly millisBehindLatest: number | undefined
}

/** Whether a lease is finished (closed, or a gokini row checkpointed at SHARD_END). */
export function shardFinished(lease: Lease): boolean {
  return lease.closed || lease.checkpoint === SHARD_END
}

/** Consumes a Kinesis stream with leases, balancing shards over every worker sharing the table. */
export class KinesisWorker {
  readonly workerId: string
  readonly settings: WorkerSettings
  readonly #o: KinesisWorkerOptions
  readonly #log: Logger
  readonly #kinesis: KinesisClient
  readonly #store: LeaseStore
  readonly #owned: (() => void)[] = []
  readonly #metrics: KinesisMetrics | undefined
  readonly #consumers = new Map<string, ShardConsumer>()
  readonly #coordinator: LeaseCoordinator
  #syncTimer: NodeJS.Timeout | undefined
  #syncing: Promise<void> | undefined
  #state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle'

  constructor(options: KinesisWorkerOptions) {
    this.#o = options
    const { consumer: _c, kinesis: _k, dynamo: _d, leaseStore: _l, metrics: _m, logger: _g, ...plain } = options
    this.settings = parseWorkerSettings(plain)
    if (typeof options.consumer !== 'function' && typeof options.consumer?.processRecords !== 'function')
      throw new TributaryError('TRIB_INVALID_ARGUMENT', 'invalid KinesisWorker options: consumer: expected an object with init, processRecords and shutdown, or a factory')
    if (!options.leaseStore && !this.settings.tableName) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'invalid KinesisWorker options: tableName: is required without leaseStore')
    this.workerId = this.settings.workerId ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
    this.#log = (options.logger ?? rootLogger()).child({ component: 'kinesis-worker', stream: this.settings.streamName, worker: this.workerId })
    const attempts = this.settings.retries + 1
    if (options.kinesis) this.#kinesis = options.kinesis
    else {
      const client = kinesisClient({ maxAttempts: attempts })
      this.#kinesis = client
      this.#owned.push(() => client.destroy())
    }
    if (options.leaseStore) this.#store = options.leaseStore
    else {
      let dynamo = options.dynamo
      if (!dynamo) {
        const client = dynamoClient({ maxAttempts: attempts })
        this.#owned.push(() => client.destroy())
        dynamo = client
      }
      const s = this.settings
      this.#store = dynamoLeaseStore({ client: dynamo, tableName: s.tableName as string, billingMode: s.billingMode, readCapacityUnits: s.readCapacityUnits, writeCapacityUnits: s.writeCapacityUnits })
    }
    if (options.metrics !== false) this.#metrics = kinesisMetrics(options.metrics?.registry ?? metricsRegistry, options.metrics?.prefix ?? 'tributary_kinesis')
    const labels = { kinesisStream: this.settings.streamName, workerID: this.workerId }
    this.#coordinator = new LeaseCoordinator({
      store: this.#store,
      workerId: this.workerId,
      leaseDurationMs: this.settings.leaseDurationMs,
      renewIntervalMs: this.settings.leaseRenewIntervalMs,
      takeIntervalMs: this.settings.balanceIntervalMs,
      enableStealing: this.settings.enableLeaseStealing,
      maxLeases: this.settings.maxLeasesForWorker,
      eligible: (lease, all) => this.#eligible(lease, all),
      onAcquired: (lease) => this.#startShard(lease),
      onLost: (key, reason) => this.#consumers.get(key)?.stop(reason === 'claimed' ? 'REQUESTED' : 'ZOMBIE'),
      onRenewed: () => this.#metrics?.leaseRenewals.inc(labels),
      logger: this.#log,
    })
  }

  /** The lease store in use. */
  get leaseStore(): LeaseStore {
    return this.#store
  }

  /** The lease coordinator (held leases, fenced checkpoints). */
  get coordinator(): LeaseCoordinator {
    return this.#coordinator
  }

  #eligible(lease: Lease, all: ReadonlyMap<string, Lease>): boolean {
    if (shardFinished(lease)) return false
    if (this.settings.ignoreShardOrdering) return true
    return lease.parents.every((p) => {
      const parent = all.get(p)
      return parent === undefined || shardFinished(parent) // a parent past retention has no row
    })
  }

  #consumerFor(shardId: string): RecordConsumer {
    const c = this.#o.consumer
    return typeof c === 'function' ? c(shardId) : c
  }

  #startShard(lease: Lease): void {
    if (this.#state !== 'running') {
      void this.#coordinator.release(lease.key)
      return
    }
    const shard = new ShardConsumer({
      lease,
      kinesis: this.#kinesis,
      coordinator: this.#coordinator,
      consumer: this.#consumerFor(lease.key),
      settings: this.settings,
      metrics: this.#metrics,
      logger: this.#log,
      onShardEnd: () => void this.syncShards().catch((err: unknown) => this.#log.warn({ err }, 'shard sync after SHARD_END failed')),
    })
    this.#consumers.set(lease.key, shard)
    this.#updateHeld()
    void shard.start().finally(() => {
      if (this.#consumers.get(lease.key) === shard) this.#consumers.delete(lease.key)
      this.#updateHeld()
    })
  }

  #updateHeld(): void {
    this.#metrics?.leasesHeld.set({ kinesisStream: this.settings.streamName, workerID: this.workerId }, this.#consumers.size)
  }

  /** Creates lease rows for shards that have none (with their parents). Runs on the sync interval. */
  syncShards(): Promise<void> {
    this.#syncing ??= (async () => {
      try {
        const shards = await listShards(this.#kinesis, this.settings.streamName)
        for (const shard of shards) if (shard.ShardId) await this.#store.create(shard.ShardId, { parents: shardParents(shard) })
      } finally {
        this.#syncing = undefined
      }
    })()
    return this.#syncing
  }

  #scheduleSync(): void {
    const base = this.settings.shardSyncIntervalMs
    const delay = Math.round(base * (0.5 + Math.random())) // ±50 % jitter, as vmware-go-kcl
    this.#syncTimer = setTimeout(() => {
      void this.syncShards()
        .catch((err: unknown) => this.#log.warn({ err }, 'shard sync failed; retrying at the next interval'))
        .finally(() => {
          if (this.#state === 'running') this.#scheduleSync()
        })
    }, delay)
  }

  /**
   * Checks the stream and the lease table (creating it when missing), creates lease rows, and starts
   * taking leases. Throws `TRIB_KINESIS` for a missing stream and `TRIB_LEASE_SCHEMA` for a lease table
   * of the wrong schema.
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new TributaryError('TRIB_INVALID_ARGUMENT', `KinesisWorker ${this.workerId} was already started`)
    this.#state = 'running'
    try {
      await this.#store.init()
      await this.syncShards()
      await this.#coordinator.start()
    } catch (err) {
      this.#state = 'stopped'
      await this.#coordinator.stop({ release: true }).catch(() => {})
      for (const close of this.#owned) close()
      throw err
    }
    this.#scheduleSync()
    this.#log.info({ table: this.#store.name }, 'kinesis worker started')
  }

  /** Held shards with their checkpoint and lag. */
  shards(): HeldShard[] {
    return [...this.#consumers.values()]
      .map((c) => ({ shardId: c.shardId, checkpoint: c.lastCheckpoint, millisBehindLatest: c.millisBehindLatest }))
      .sort((a, b) => a.shardId.localeCompare(b.shardId))
  }

  /**
   * Graceful shutdown: stops taking leases and reading, lets in-flight `processRecords` finish,
   * checkpoints, calls `shutdown('REQUESTED')`, and releases every lease so other workers take them
   * at their next tick instead of waiting for expiry.
   */
  async shutdown(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return
    this.#state = 'stopping'
    clearTimeout(this.#syncTimer)
    this.#coordinator.pauseTaking()
    await Promise.all([...this.#consumers.values()].map((c) => c.stop('REQUESTED')))
    await this.#syncing?.catch(() => {})
    await this.#coordinator.stop({ release: true })
    this.#updateHeld()
    for (const close of this.#owned) close()
    this.#state = 'stopped'
    this.#log.info('kinesis worker stopped')
  }
}
