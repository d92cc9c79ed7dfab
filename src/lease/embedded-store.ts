/**
 * The embedded {@link LeaseStore}: an LMDB environment in a local directory.
 *
 * Why LMDB and not the `Log`: a lease store needs compare-and-set, and a log can only append; an
 * embedded log directory is also locked by one process, so workers in several processes could not
 * share it. LMDB serialises write transactions with a lock shared by every process that opens the
 * directory, and a read inside a write transaction sees the latest commit, so each rule of
 * `rules.ts` runs as an exact compare-and-set within one process and across processes on one
 * machine (not across machines: use DynamoDB or PostgreSQL for that).
 *
 * @example
 * ```ts
 * const store = embeddedLeaseStore({ dir: './.tributary/leases' })
 * await store.init()
 * ```
 * @module
 */
import fs from 'node:fs'
import { open, type RootDatabase } from 'lmdb'
import { TributaryError } from '../core/errors.ts'
import { checkpointRow, claimRow, newLease, normalizeLease, releaseRow, renewRow, takeRow } from './rules.ts'
import type { CheckpointOptions, Lease, LeaseStore, NewLease } from './types.ts'

/** Options of {@link embeddedLeaseStore}. */
export interface EmbeddedLeaseStoreOptions {
  /** Directory of the LMDB environment (created when missing). */
  readonly dir: string
  /** Flush every write to disk before it returns (default `true`). */
  readonly sync?: boolean
}

/** Leases in a local LMDB environment, shared by the processes of one machine. */
export class EmbeddedLeaseStore implements LeaseStore {
  readonly name: string
  readonly #options: EmbeddedLeaseStoreOptions
  #db: RootDatabase<Lease, string> | undefined

  constructor(options: EmbeddedLeaseStoreOptions) {
    this.#options = options
    this.name = `embedded:${options.dir}`
  }

  async init(): Promise<void> {
    if (this.#db) return
    try {
      fs.mkdirSync(this.#options.dir, { recursive: true })
      this.#db = open<Lease, string>({ path: this.#options.dir, encoding: 'json', noSync: this.#options.sync === false })
    } catch (err) {
      throw new TributaryError('TRIB_LEASE_STORE', `cannot open the embedded lease store in ${this.#options.dir}: ${(err as Error).message}`, { cause: err, details: { dir: this.#options.dir } })
    }
  }

  #open(): RootDatabase<Lease, string> {
    if (!this.#db) throw new TributaryError('TRIB_CLOSED', `lease store ${this.name} is not open (call init())`)
    return this.#db
  }

  /** Runs `rule` on the stored row inside one LMDB write transaction (exclusive across processes). */
  #write(key: string, rule: (row: Lease | undefined) => Lease | undefined): Promise<Lease | undefined> {
    const db = this.#open()
    return Promise.resolve(
      db.transactionSync(() => {
        const stored = db.get(key)
        const next = rule(stored === undefined ? undefined : normalizeLease(stored))
        if (next !== undefined) db.putSync(key, next)
        return next === undefined ? undefined : normalizeLease(next)
      }),
    )
  }

  async create(key: string, fields?: NewLease): Promise<boolean> {
    const created = await this.#write(key, (row) => (row === undefined ? newLease(key, fields) : undefined))
    return created !== undefined
  }

  async get(key: string): Promise<Lease | undefined> {
    const row = this.#open().get(key)
    return row === undefined ? undefined : normalizeLease(row)
  }

  async list(): Promise<Lease[]> {
    return [...this.#open().getRange()].map((e) => normalizeLease(e.value))
  }

  take(observed: Lease, owner: string, durationMs: number): Promise<Lease | undefined> {
    return this.#write(observed.key, (row) => takeRow(row, observed, owner, durationMs))
  }

  renew(held: Lease, durationMs: number): Promise<Lease | undefined> {
    return this.#write(held.key, (row) => renewRow(row, held, durationMs))
  }

  release(held: Lease): Promise<Lease | undefined> {
    return this.#write(held.key, (row) => releaseRow(row, held))
  }

  claim(observed: Lease, claimer: string): Promise<Lease | undefined> {
    return this.#write(observed.key, (row) => claimRow(row, observed, claimer))
  }

  checkpoint(held: Lease, checkpoint: string, options: CheckpointOptions = {}): Promise<Lease | undefined> {
    return this.#write(held.key, (row) => checkpointRow(row, held, checkpoint, options.close ?? false))
  }

  async delete(key: string): Promise<void> {
    const db = this.#open()
    db.transactionSync(() => db.removeSync(key))
  }

  async close(): Promise<void> {
    const db = this.#db
    this.#db = undefined
    await db?.close()
  }
}

/** Opens leases in a local directory (see {@link EmbeddedLeaseStore}). */
export function embeddedLeaseStore(options: EmbeddedLeaseStoreOptions): EmbeddedLeaseStore {
  return new EmbeddedLeaseStore(options)
}
