/**
 * A worker's side of the lease protocol over any {@link LeaseStore}: takes leases up to a fair share
 * (`ceil(leases / workers)`), renews them on its own timer (independent of whatever the caller does
 * with them), lets a lease go when another worker claims it, steals from the most-loaded worker
 * when no lease is free, and writes fenced checkpoints.
 *
 * Expiry is judged by the counter as this worker observed it (Java KCL): a lease whose counter has
 * not moved for `leaseDurationMs` of this process's monotonic clock is expired, so wall clocks of
 * different machines are never compared.
 *
 * Generic over keys: Kinesis shards, ingestion jobs or anything else that must run on one instance.
 *
 * @example
 * ```ts
 * const coordinator = new LeaseCoordinator({
 *   store, workerId: 'host-1', leaseDurationMs: 10_000,
 *   onAcquired: (lease) => startJob(lease.key, lease.checkpoint),
 *   onLost: (key, reason) => stopJob(key, reason),
 * })
 * await coordinator.start()
 * await coordinator.checkpoint('job-1', '42')   // throws TRIB_LEASE_LOST if another worker owns it now
 * await coordinator.stop()                      // releases every lease so others take them at once
 * ```
 * @module
 */
import { performance } from 'node:perf_hooks'
import { TributaryError } from '../core/errors.ts'
import { rootLogger, type Logger } from '../core/logger.ts'
import type { CheckpointOptions, Lease, LeaseStore } from './types.ts'

/** Why a worker stopped holding a lease. */
export type LeaseLossReason =
  /** Another worker took it (this worker's renewal or a fenced write failed): a zombie. */
  | 'lost'
  /** Another worker claimed it; this worker still owns it while the handler runs, then releases it. */
  | 'claimed'

/** Options of a {@link LeaseCoordinator}. */
export interface LeaseCoordinatorOptions {
  readonly store: LeaseStore
  /** This worker's id (written as the owner). Unique per process. */
  readonly workerId: string
  /** A lease whose counter did not move this long is expired (ms). Default 10,000. */
  readonly leaseDurationMs?: number
  /** How often held leases are renewed (ms). Default a third of the lease duration. */
  readonly renewIntervalMs?: number
  /** How often the table is scanned to take, balance and steal (ms). Default half the lease duration. */
  readonly takeIntervalMs?: number
  /** Most leases this worker holds. Default unlimited. */
  readonly maxLeases?: number
  /** Most free or expired leases taken per tick. Default unlimited (up to the fair share). */
  readonly maxTakesPerTick?: number
  /** Claim leases of the most-loaded worker when none is free and this worker is below its share. Default `true`. */
  readonly enableStealing?: boolean
  /** Most leases claimed per tick. Default 1. */
  readonly maxStealsPerTick?: number
  /** Whether a lease may be taken now (default: not closed). Kinesis uses it for parent-before-child. */
  readonly eligible?: (lease: Lease, all: ReadonlyMap<string, Lease>) => boolean
  /** Called after this worker took a lease. */
  readonly onAcquired?: (lease: Lease) => void | Promise<void>
  /**
   * Called when this worker stops holding a lease other than by `release`/`stop`. With `claimed`,
   * the lease is released when the returned promise settles (checkpoint first).
   */
  readonly onLost?: (key: string, reason: LeaseLossReason) => void | Promise<void>
  /** Called after every successful renewal (for a metric). */
  readonly onRenewed?: (lease: Lease) => void
  readonly logger?: Logger
}

/** Options of {@link LeaseCoordinator.checkpoint}. */
export interface FencedCheckpointOptions extends CheckpointOptions {
  /**
   * The acquisition the writer belongs to ({@link LeaseCoordinator.epoch} when it started). A writer
   * of an earlier acquisition of the same key (a zombie task left over after the lease was lost and
   * taken again) is refused even though this worker owns the lease again.
   */
  readonly epoch?: number
}

interface Observation {
  version: string
  since: number
}

const versionOf = (l: Lease): string => `${l.owner ?? ''}\u0000${l.counter}\u0000${l.timeout ?? ''}`

/** Holds, renews, balances and checkpoints leases for one worker. */
export class LeaseCoordinator {
  readonly workerId: string
  readonly store: LeaseStore
  readonly #o: LeaseCoordinatorOptions
  readonly #duration: number
  readonly #log: Logger
  readonly #held = new Map<string, Lease>()
  /** Per-lease write chain: renewals and checkpoints of one lease never race each other. */
  readonly #chains = new Map<string, Promise<unknown>>()
  readonly #observed = new Map<string, Observation>()
  readonly #handingOver = new Set<string>()
  readonly #epochs = new Map<string, number>()
  #nextEpoch = 1
  #renewTimer: NodeJS.Timeout | undefined
  #takeTimer: NodeJS.Timeout | undefined
  #tickRunning: Promise<void> | undefined
  #running = false

  constructor(options: LeaseCoordinatorOptions) {
    if (!options.workerId) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'workerId must be a non-empty string')
    this.#o = options
    this.workerId = options.workerId
    this.store = options.store
    this.#duration = options.leaseDurationMs ?? 10_000
    if (!(this.#duration > 0)) throw new TributaryError('TRIB_INVALID_ARGUMENT', `leaseDurationMs must be > 0, got ${options.leaseDurationMs}`)
    this.#log = (options.logger ?? rootLogger()).child({ component: 'lease-coordinator', worker: options.workerId })
  }

  /** The lease duration in ms. */
  get leaseDurationMs(): number {
    return this.#duration
  }

  /** Keys of the leases held now. */
  heldKeys(): string[] {
    return [...this.#held.keys()].sort()
  }

  /** The held lease row as last written by this worker, or `undefined`. */
  held(key: string): Lease | undefined {
    return this.#held.get(key)
  }

  /** The acquisition number of the held lease `key` (new on every take), or `undefined` when not held. */
  epoch(key: string): number | undefined {
    return this.#held.has(key) ? this.#epochs.get(key) : undefined
  }

  /** Starts the renewal and take timers (after one immediate take tick). */
  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    await this.tick()
    const renewEvery = this.#o.renewIntervalMs ?? Math.max(1, Math.floor(this.#duration / 3))
    const takeEvery = this.#o.takeIntervalMs ?? Math.max(1, Math.floor(this.#duration / 2))
    this.#renewTimer = setInterval(() => void this.renewAll(), renewEvery)
    this.#takeTimer = setInterval(() => void this.tick(), takeEvery)
  }

  /** Stops taking new leases (renewals go on): the first step of a graceful shutdown. */
  pauseTaking(): void {
    clearInterval(this.#takeTimer)
    this.#running = false
  }

  /**
   * Stops the timers. With `release` (default) every held lease is released, after `beforeRelease`
   * (e.g. a final checkpoint) ran for it, so other workers take them at their next tick.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#running = false
    clearInterval(this.#renewTimer)
    clearInterval(this.#takeTimer)
    await this.#tickRunning
    if (options.release ?? true) await Promise.all(this.heldKeys().map((key) => this.release(key).catch((err: unknown) => this.#log.warn({ err, key }, 'release failed'))))
    else this.#held.clear()
  }

  #chain<T>(key: string, write: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(key) ?? Promise.resolve()
    const next = previous.then(write, write)
    const settled = next.catch(() => {})
    this.#chains.set(key, settled)
    void settled.then(() => {
      if (this.#chains.get(key) === settled) this.#chains.delete(key)
    })
    return next
  }

  /** Renews every held lease once (the timer calls this; exposed for tests). */
  async renewAll(): Promise<void> {
    await Promise.all(this.heldKeys().map((key) => this.#renew(key)))
  }

  #renew(key: string): Promise<void> {
    return this.#chain(key, async () => {
      const held = this.#held.get(key)
      if (!held || this.#handingOver.has(key)) return
      let renewed: Lease | undefined
      try {
        renewed = await this.store.renew(held, this.#duration)
      } catch (err) {
        this.#log.warn({ err, key }, 'lease renewal failed; retrying at the next interval')
        return
      }
      if (renewed) {
        this.#held.set(key, renewed)
        this.#o.onRenewed?.(renewed)
        return
      }
      const row = await this.store.get(key).catch(() => undefined)
      if (row && row.owner === held.owner && row.counter === held.counter && row.claim !== undefined && row.claim !== this.workerId) {
        this.#handOver(key, row)
      } else {
        this.#lost(key)
      }
    })
  }

  #handOver(key: string, row: Lease): void {
    this.#handingOver.add(key)
    this.#held.set(key, row)
    this.#log.info({ key, claimer: row.claim }, 'lease claimed by another worker; handing it over')
    void (async () => {
      try {
        await this.#o.onLost?.(key, 'claimed')
      } catch (err) {
        this.#log.warn({ err, key }, 'onLost handler failed during hand-over')
      }
      this.#handingOver.delete(key)
      if (this.#held.has(key)) await this.release(key).catch((err: unknown) => this.#log.warn({ err, key }, 'release after hand-over failed'))
    })()
  }

  #lost(key: string): void {
    if (!this.#held.delete(key)) return
    this.#handingOver.delete(key)
    this.#log.warn({ key }, 'lease lost: another worker owns it now')
    void Promise.resolve()
      .then(() => this.#o.onLost?.(key, 'lost'))
      .catch((err: unknown) => this.#log.warn({ err, key }, 'onLost handler failed'))
  }

  /**
   * A fenced checkpoint: written only while this worker still owns `key` at the counter it last
   * wrote. Throws `TRIB_LEASE_LOST` (and reports the loss) when another worker owns it now; the
   * write then changed nothing.
   */
  checkpoint(key: string, checkpoint: string, options: FencedCheckpointOptions = {}): Promise<Lease> {
    return this.#chain(key, async () => {
      const held = this.#held.get(key)
      if (!held || (options.epoch !== undefined && options.epoch !== this.#epochs.get(key))) throw this.#lostError(key)
      const written = await this.store.checkpoint(held, checkpoint, { close: options.close })
      if (!written) {
        this.#lost(key)
        throw this.#lostError(key)
      }
      // A claim that arrived meanwhile is kept by the store; keep our counter view.
      this.#held.set(key, written)
      return written
    })
  }

  #lostError(key: string): TributaryError {
    return new TributaryError('TRIB_LEASE_LOST', `lease ${key} is no longer held by worker ${this.workerId} in ${this.store.name}; the write changed nothing`, {
      details: { key, owner: this.workerId },
    })
  }

  /** Gives `key` up so another worker can take it at once (only the acquisition `epoch`, when given). */
  release(key: string, epoch?: number): Promise<void> {
    return this.#chain(key, async () => {
      const held = this.#held.get(key)
      if (!held || (epoch !== undefined && epoch !== this.#epochs.get(key))) return
      this.#held.delete(key)
      this.#handingOver.delete(key)
      await this.store.release(held)
    })
  }

  /** One scan of the table: take free and expired leases up to the fair share, or steal one. */
  tick(): Promise<void> {
    this.#tickRunning ??= this.#tick()
      .catch((err: unknown) => this.#log.warn({ err }, 'lease tick failed; trying again at the next tick'))
      .finally(() => {
        this.#tickRunning = undefined
      })
    return this.#tickRunning
  }

  async #tick(): Promise<void> {
    const leases = await this.store.list()
    const now = performance.now()
    const all = new Map(leases.map((l) => [l.key, l]))
    for (const key of this.#observed.keys()) if (!all.has(key)) this.#observed.delete(key)
    for (const lease of leases) {
      const version = versionOf(lease)
      const seen = this.#observed.get(lease.key)
      if (!seen || seen.version !== version) this.#observed.set(lease.key, { version, since: now })
    }
    // Held leases the table shows with another owner are lost (their renewal would fail too).
    for (const [key, held] of this.#held) {
      const row = all.get(key)
      if (!row || (row.owner !== this.workerId && row.counter > held.counter)) this.#lost(key)
    }
    if (!this.#running) return
    const expired = (l: Lease): boolean => now - (this.#observed.get(l.key)?.since ?? now) >= this.#duration
    const eligible = this.#o.eligible ?? ((l: Lease) => !l.closed)
    const live = (l: Lease): boolean => l.owner !== undefined && !expired(l)

    // Workers: owners of live leases, plus this one.
    const load = new Map<string, Lease[]>([[this.workerId, []]])
    for (const lease of leases) {
      if (lease.closed || !live(lease)) continue
      const owner = lease.owner as string
      if (!load.has(owner)) load.set(owner, [])
      load.get(owner)?.push(lease)
    }
    const countable = leases.filter((l) => !l.closed && (live(l) || eligible(l, all)))
    let target = Math.ceil(countable.length / load.size)
    if (this.#o.maxLeases !== undefined) target = Math.min(target, this.#o.maxLeases)
    const myClaims = leases.filter((l) => l.claim === this.workerId && l.owner !== this.workerId && l.owner !== undefined && live(l)).length
    let need = target - this.#held.size - myClaims
    if (need <= 0) return

    const available = leases.filter((l) => {
      if (l.closed || this.#held.has(l.key) || !eligible(l, all)) return false
      if (l.owner === undefined) return l.claim === undefined || l.claim === this.workerId || expired(l)
      return expired(l) // another owner's, or our own stale row after a restart under the same id
    })
    shuffle(available)
    const takes = Math.min(need, this.#o.maxTakesPerTick ?? Infinity)
    for (const lease of available.slice(0, takes)) {
      const taken = await this.store.take(lease, this.workerId, this.#duration)
      if (!taken) continue
      this.#held.set(taken.key, taken)
      this.#epochs.set(taken.key, this.#nextEpoch++)
      this.#observed.set(taken.key, { version: versionOf(taken), since: performance.now() })
      need--
      this.#log.info({ key: taken.key, previousOwner: lease.owner }, 'lease taken')
      try {
        await this.#o.onAcquired?.(taken)
      } catch (err) {
        this.#log.warn({ err, key: taken.key }, 'onAcquired handler failed; releasing the lease')
        await this.release(taken.key).catch(() => {})
      }
    }
    if (available.length > 0 || need <= 0 || this.#o.enableStealing === false) return

    // Nothing free: claim from the most-loaded worker above the share.
    let victim: [string, Lease[]] | undefined
    for (const entry of load) if (entry[0] !== this.workerId && (!victim || entry[1].length > victim[1].length)) victim = entry
    if (!victim || victim[1].length <= target) return
    const candidates = victim[1].filter((l) => l.claim === undefined && eligible(l, all))
    shuffle(candidates)
    const steals = Math.min(need, victim[1].length - target, this.#o.maxStealsPerTick ?? 1)
    for (const lease of candidates.slice(0, steals)) {
      const claimed = await this.store.claim(lease, this.workerId)
      if (claimed) this.#log.info({ key: lease.key, owner: lease.owner }, 'lease claimed from the most-loaded worker')
    }
  }
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
}
