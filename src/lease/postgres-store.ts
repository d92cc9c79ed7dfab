/**
 * The PostgreSQL {@link LeaseStore}: one table, every write a single conditional `UPDATE … WHERE
 * owner IS NOT DISTINCT FROM $owner AND counter = $counter … RETURNING *`, so PostgreSQL's row lock
 * makes each rule of the protocol an exact compare-and-set across any number of workers and machines.
 *
 *   lease_key text PRIMARY KEY, owner text, counter bigint, lease_timeout text (RFC 3339),
 *   checkpoint text, parents text[], claim text, closed boolean
 *
 * @example
 * ```ts
 * const store = postgresLeaseStore({ connectionString: 'postgres://app@db/app', tableName: 'kinesis_leases' })
 * await store.init()   // creates the table when missing, checks its columns otherwise
 * ```
 * @module
 */
import pg from 'pg'
import { TributaryError } from '../core/errors.ts'
import { leaseTimeout } from './rules.ts'
import type { CheckpointOptions, Lease, LeaseStore, NewLease } from './types.ts'

/** Options of {@link postgresLeaseStore}. */
export interface PostgresLeaseStoreOptions {
  /** The lease table (optionally `schema.table`). */
  readonly tableName: string
  /** A pool to use (not closed by `close()`); otherwise one is made from `connectionString`. */
  readonly pool?: pg.Pool
  readonly connectionString?: string
}

/** Columns and their `information_schema` data types. */
const COLUMNS: Record<string, string> = {
  lease_key: 'text',
  owner: 'text',
  counter: 'bigint',
  lease_timeout: 'text',
  checkpoint: 'text',
  parents: 'ARRAY',
  claim: 'text',
  closed: 'boolean',
}

interface Row {
  lease_key: string
  owner: string | null
  counter: string
  lease_timeout: string | null
  checkpoint: string | null
  parents: string[]
  claim: string | null
  closed: boolean
}

const toLease = (r: Row): Lease => ({
  key: r.lease_key,
  owner: r.owner ?? undefined,
  counter: Number(r.counter),
  timeout: r.lease_timeout ?? undefined,
  checkpoint: r.checkpoint ?? undefined,
  parents: r.parents,
  claim: r.claim ?? undefined,
  closed: r.closed,
})

/** Leases in one PostgreSQL table. */
export class PostgresLeaseStore implements LeaseStore {
  readonly name: string
  readonly #o: PostgresLeaseStoreOptions
  readonly #pool: pg.Pool
  readonly #ownsPool: boolean
  readonly #table: string
  readonly #schema: string | undefined
  readonly #bare: string

  constructor(options: PostgresLeaseStoreOptions) {
    if (!options.pool && !options.connectionString) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'postgresLeaseStore needs pool or connectionString')
    const parts = options.tableName.split('.')
    if (parts.length > 2 || parts.some((p) => p === '')) throw new TributaryError('TRIB_INVALID_ARGUMENT', `tableName ${options.tableName} must be "table" or "schema.table"`)
    this.#o = options
    this.name = `postgres:${options.tableName}`
    this.#ownsPool = !options.pool
    this.#pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: 4 })
    this.#pool.on('error', () => {}) // idle-client errors surface on the next query
    this.#schema = parts.length === 2 ? parts[0] : undefined
    this.#bare = parts.at(-1) as string
    this.#table = parts.map((p) => pg.escapeIdentifier(p)).join('.')
  }

  async #query(op: string, sql: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.#pool.query<Row>(sql, values)).rows
    } catch (err) {
      throw new TributaryError('TRIB_LEASE_STORE', `PostgreSQL ${op} on lease table ${this.#o.tableName} failed: ${(err as Error).message}`, {
        cause: err,
        retriable: true,
        details: { table: this.#o.tableName, operation: op },
      })
    }
  }

  async init(): Promise<void> {
    // Instances start together; CREATE TABLE IF NOT EXISTS races in PostgreSQL (a duplicate pg_type
    // row), so creators take turns on an advisory lock for the length of the (one-statement) transaction.
    await this.#query(
      'CREATE TABLE',
      `DO $create$ BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('tributary.lease-tables'));
        CREATE TABLE IF NOT EXISTS ${this.#table} (
          lease_key text PRIMARY KEY, owner text, counter bigint NOT NULL DEFAULT 0, lease_timeout text,
          checkpoint text, parents text[] NOT NULL DEFAULT '{}', claim text, closed boolean NOT NULL DEFAULT false);
      END $create$`,
    )
    const columns = (await this.#query(
      'information_schema',
      `SELECT column_name AS lease_key, data_type AS owner FROM information_schema.columns WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())`,
      [this.#bare, this.#schema ?? null],
    )) as unknown as { lease_key: string; owner: string }[]
    const found = new Map(columns.map((c) => [c.lease_key, c.owner]))
    const wrong = Object.entries(COLUMNS).filter(([name, type]) => found.get(name) !== type)
    if (wrong.length > 0)
      throw new TributaryError(
        'TRIB_LEASE_SCHEMA',
        `lease table ${this.#o.tableName} has the wrong columns: ${wrong.map(([n, t]) => `${n} should be ${t === 'ARRAY' ? 'text[]' : t}, is ${found.get(n) ?? 'missing'}`).join('; ')}`,
        { details: { table: this.#o.tableName } },
      )
  }

  async create(key: string, fields: NewLease = {}): Promise<boolean> {
    const rows = await this.#query(
      'INSERT',
      `INSERT INTO ${this.#table} (lease_key, parents, checkpoint) VALUES ($1, $2, $3) ON CONFLICT (lease_key) DO NOTHING RETURNING *`,
      [key, [...(fields.parents ?? [])], fields.checkpoint ?? null],
    )
    return rows.length === 1
  }

  async get(key: string): Promise<Lease | undefined> {
    const rows = await this.#query('SELECT', `SELECT * FROM ${this.#table} WHERE lease_key = $1`, [key])
    return rows[0] ? toLease(rows[0]) : undefined
  }

  async list(): Promise<Lease[]> {
    return (await this.#query('SELECT', `SELECT * FROM ${this.#table} ORDER BY lease_key`)).map(toLease)
  }

  /** `UPDATE … SET <set> WHERE <row as observed> [AND extra] RETURNING *`; $1 key, $2 owner, $3 counter. */
  async #update(lease: Lease, set: string, values: unknown[], extra = ''): Promise<Lease | undefined> {
    const rows = await this.#query(
      'UPDATE',
      `UPDATE ${this.#table} SET ${set} WHERE lease_key = $1 AND owner IS NOT DISTINCT FROM $2 AND counter = $3 ${extra} RETURNING *`,
      [lease.key, lease.owner ?? null, lease.counter, ...values],
    )
    return rows[0] ? toLease(rows[0]) : undefined
  }

  take(observed: Lease, owner: string, durationMs: number): Promise<Lease | undefined> {
    return this.#update(observed, 'owner = $4, counter = counter + 1, lease_timeout = $5, claim = NULL', [owner, leaseTimeout(durationMs)])
  }

  renew(held: Lease, durationMs: number): Promise<Lease | undefined> {
    if (held.owner === undefined) return Promise.resolve(undefined)
    return this.#update(held, 'counter = counter + 1, lease_timeout = $4', [leaseTimeout(durationMs)], 'AND claim IS NULL')
  }

  release(held: Lease): Promise<Lease | undefined> {
    if (held.owner === undefined) return Promise.resolve(undefined)
    return this.#update(held, 'owner = NULL, counter = counter + 1, lease_timeout = NULL', [])
  }

  claim(observed: Lease, claimer: string): Promise<Lease | undefined> {
    return this.#update(observed, 'claim = $4', [claimer], 'AND claim IS NULL')
  }

  checkpoint(held: Lease, checkpoint: string, options: CheckpointOptions = {}): Promise<Lease | undefined> {
    if (held.owner === undefined) return Promise.resolve(undefined)
    return this.#update(held, 'checkpoint = $4, closed = closed OR $5', [checkpoint, options.close === true])
  }

  async delete(key: string): Promise<void> {
    await this.#query('DELETE', `DELETE FROM ${this.#table} WHERE lease_key = $1`, [key])
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end()
  }
}

/** Opens leases in a PostgreSQL table (see {@link PostgresLeaseStore}). */
export function postgresLeaseStore(options: PostgresLeaseStoreOptions): PostgresLeaseStore {
  return new PostgresLeaseStore(options)
}
