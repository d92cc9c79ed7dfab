/**
 * Jobs spread over live instances with leases (`src/lease/`): every processor of every job is one
 * lease, `<job>/<processor id>`, in a shared {@link LeaseStore}. Each instance runs a
 * {@link LeaseCoordinator}; the processors whose leases it holds are the ones its drivers run.
 *
 * Scheme: lease balancing, not AresDB's consistent hashing. The coordinator takes up to a fair
 * share (`ceil(leases / live instances)`), steals from the most-loaded instance when it is below its
 * share, and takes over the leases of an instance whose renewals stopped once they are a lease
 * duration old. Holding (and renewing) leases is an instance's heartbeat, so liveness and
 * assignment are one mechanism with one store; a hash ring would need a separate membership list
 * and moves processors around whenever membership changes.
 *
 * A processor id runs on one instance at a time: an instance starts a processor only after it took
 * the lease, stops it when the lease is lost or claimed (the lease is released after the processor
 * stopped), and stops it on its own when it could not renew for 80 % of a lease duration (before
 * anyone else may take it). Partitions are exclusive anyway: all processors of a job are members of
 * one consumer group.
 *
 * @example
 * ```ts
 * const spread = new LeasedProcessors(jobs, { store: postgresLeaseStore({ connectionString, tableName: 'tributary_ingest_leases' }), instance: 'host-1' })
 * await spread.start()       // drivers must be made with processorIds: []
 * await spread.stop()        // releases the leases so the others take over at once
 * ```
 * @module
 */
import { performance } from 'node:perf_hooks'
import { createLogger, type Logger } from '../core/logger.ts'
import { LeaseCoordinator, type Lease, type LeaseStore } from '../lease/index.ts'
import type { JobChange, JobController } from './controller.ts'

/** Options of {@link LeasedProcessors}. */
export interface LeasedProcessorsOptions {
  store: LeaseStore
  /** This instance's id (the lease owner). */
  instance: string
  /** Default 10 000 ms. */
  leaseDurationMs?: number
  logger?: Logger
}

/** The lease key of a processor. */
export const processorLeaseKey = (job: string, id: number): string => `${job}/${id}`

function parseKey(key: string): { job: string; id: number } | undefined {
  const at = key.lastIndexOf('/')
  const id = Number(key.slice(at + 1))
  if (at <= 0 || !Number.isInteger(id)) return undefined
  return { job: key.slice(0, at), id }
}

/** Runs, on this instance, the processors whose leases it holds. */
export class LeasedProcessors {
  readonly coordinator: LeaseCoordinator
  readonly #jobs: JobController
  readonly #options: LeasedProcessorsOptions
  readonly #logger: Logger
  readonly #lastRenew = new Map<string, number>()
  readonly #fenced = new Set<string>()
  #fenceTimer: NodeJS.Timeout | undefined
  #ready: Promise<void> | undefined

  constructor(jobs: JobController, options: LeasedProcessorsOptions) {
    this.#jobs = jobs
    this.#options = options
    this.#logger = options.logger ?? createLogger({ name: 'tributary' })
    this.coordinator = new LeaseCoordinator({
      store: options.store,
      workerId: options.instance,
      leaseDurationMs: options.leaseDurationMs ?? 10_000,
      logger: this.#logger,
      onAcquired: (lease) => this.#acquired(lease),
      onRenewed: (lease) => this.#renewed(lease),
      onLost: (key, reason) => this.#lost(key, reason),
    })
    jobs.subscribe((event) => void this.#changed(event).catch((err: unknown) => this.#logger.error({ err: (err as Error).message }, `job ${event.key}: updating its processor leases failed`)))
  }

  #acquired(lease: Lease): void {
    this.#lastRenew.set(lease.key, performance.now())
    const k = parseKey(lease.key)
    if (!k) return
    this.#logger.info({ lease: lease.key }, `instance ${this.#options.instance} took processor ${k.id} of job ${k.job}`)
    this.#jobs.driver(k.job)?.addProcessor(k.id)
  }

  #renewed(lease: Lease): void {
    this.#lastRenew.set(lease.key, performance.now())
    if (this.#fenced.delete(lease.key)) {
      const k = parseKey(lease.key)
      if (k) this.#jobs.driver(k.job)?.addProcessor(k.id)
    }
  }

  async #lost(key: string, reason: string): Promise<void> {
    this.#lastRenew.delete(key)
    this.#fenced.delete(key)
    const k = parseKey(key)
    if (!k) return
    this.#logger.info({ lease: key, reason }, `instance ${this.#options.instance} gives up processor ${k.id} of job ${k.job} (${reason})`)
    await this.#jobs.driver(k.job)?.stopProcessors([k.id])
  }

  /** Creates the leases of a new or changed job, deletes those of removed processors and jobs, and runs the held ones. */
  async #changed(event: JobChange): Promise<void> {
    const store = this.#options.store
    await (this.#ready ??= store.init())
    const prefix = `${event.key}/`
    const count = event.kind === 'stopped' ? 0 : event.job.streamConfig.processorCount
    for (let id = 0; id < count; id++) await store.create(processorLeaseKey(event.key, id))
    for (const lease of await store.list()) {
      const k = lease.key.startsWith(prefix) ? parseKey(lease.key) : undefined
      if (k && k.id >= count) await store.delete(lease.key)
    }
    if (event.kind === 'stopped') return
    const driver = this.#jobs.driver(event.key)
    for (const key of this.coordinator.heldKeys()) {
      const k = parseKey(key)
      if (k && k.job === event.key && k.id < count && !this.#fenced.has(key)) driver?.addProcessor(k.id)
    }
    if (this.#fenceTimer) await this.coordinator.tick()
  }

  /** Creates the leases of the running jobs and starts taking leases. */
  async start(): Promise<void> {
    await (this.#ready ??= this.#options.store.init())
    for (const [key, driver] of this.#jobs.drivers) await this.#changed({ kind: 'started', key, job: driver.job })
    await this.coordinator.start()
    const duration = this.coordinator.leaseDurationMs
    this.#fenceTimer = setInterval(() => this.#fence(duration), Math.max(50, duration / 10))
    this.#fenceTimer.unref()
  }

  /** Stops processors whose lease could not be renewed for 80 % of a lease duration: another instance may take it soon. */
  #fence(duration: number): void {
    const now = performance.now()
    for (const [key, at] of this.#lastRenew) {
      if (this.#fenced.has(key) || now - at < duration * 0.8) continue
      const k = parseKey(key)
      if (!k) continue
      this.#fenced.add(key)
      this.#logger.warn({ lease: key }, `instance ${this.#options.instance} could not renew the lease of processor ${k.id} of job ${k.job}; stopping it until a renewal succeeds`)
      void this.#jobs.driver(k.job)?.stopProcessors([k.id])
    }
  }

  /** Stops the processors this instance runs, then releases their leases so other instances take them at once. */
  async stop(): Promise<void> {
    if (this.#fenceTimer) clearInterval(this.#fenceTimer)
    for (const key of this.coordinator.heldKeys()) {
      const k = parseKey(key)
      if (k) await this.#jobs.driver(k.job)?.stopProcessors([k.id])
    }
    await this.coordinator.stop({ release: true })
  }
}
