/**
 * The PostgreSQL sink: a table per job (created from the schema when missing), each batch merged by
 * primary key and applied in one transaction with each column's update mode.
 *
 * Each message is applied at most once: the transaction that upserts a batch also records, per
 * source partition, the last offset applied (table `tributary_ingest_offsets`, rows locked for the
 * transaction), and skips rows from offsets at or below it. So a batch replayed after a crash, a
 * restart or a rebalance — which at-least-once delivery does — cannot add its `addition` columns
 * twice. (AresDB applied replays again.)
 *
 * @example
 * ```ts
 * const sink = new PostgresSink(job, { url: 'postgres://127.0.0.1:5432/app', table: 'public.trips' })
 * await sink.open(signal)
 * await sink.save(rows, signal)
 * ```
 * @module
 */
import pg from 'pg'
import type { JobConfig } from '../job-config.ts'
import type { Row } from '../row-mapper.ts'
import { canUpsertByUnnest, createTableStatement, mergeRowsByKey, sortRowsByKey, upsertStatement, upsertUnnestStatement } from '../upsert.ts'
import type { IngestSink, RowOrigin } from './sink.ts'

/** The table of applied offsets, shared by every job in the database. */
export const OFFSETS_TABLE = 'tributary_ingest_offsets'

/** PostgreSQL's limit on parameters per statement. */
const MAX_PARAMETERS = 65_535

/** Settings of a {@link PostgresSink}. */
export interface PostgresSinkOptions {
  url: string
  /** Table name, optionally schema-qualified; default the job's table name. */
  table?: string
  /** Create the table when missing (default true). */
  createTable?: boolean
}

function param(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(param)
  return value
}

/** Saves rows into one PostgreSQL table. */
export class PostgresSink implements IngestSink {
  readonly description: string
  readonly #job: JobConfig
  readonly #options: PostgresSinkOptions
  readonly #table: string
  #client: pg.Client | null = null
  readonly #unnest: boolean
  readonly #unnestName: string

  constructor(job: JobConfig, options: PostgresSinkOptions) {
    this.#job = job
    this.#options = options
    this.#table = options.table ?? job.rules.table
    this.description = `postgresql table ${this.#table}`
    this.#unnest = canUpsertByUnnest(job.rules)
    this.#unnestName = `tributary_ingest_${job.job}_${this.#table}`.slice(0, 63)
  }

  async #connect(): Promise<pg.Client> {
    if (this.#client) return this.#client
    const client = new pg.Client({ connectionString: this.#options.url, connectionTimeoutMillis: 10_000 })
    // A connection that breaks later is replaced at the next save; the error must not crash the process.
    client.on('error', () => {
      if (this.#client === client) this.#client = null
    })
    await client.connect()
    this.#client = client
    return client
  }

  async open(): Promise<void> {
    const client = await this.#connect()
    if (this.#options.createTable === false) return
    // Processors of a job open their sinks at once; CREATE TABLE IF NOT EXISTS races in PostgreSQL
    // (a duplicate pg_type row), so creators take turns on an advisory lock named after the table.
    await client.query('BEGIN')
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tributary.ingest:${this.#table}`])
      await client.query(createTableStatement(this.#job.rules, this.#table))
      await client.query(`CREATE TABLE IF NOT EXISTS ${OFFSETS_TABLE} (job text NOT NULL, topic text NOT NULL, partition integer NOT NULL, applied bigint NOT NULL, PRIMARY KEY (job, topic, partition))`)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    }
  }

  /** Locks the offset rows of the batch's partitions and returns the rows not applied before, and the new high offsets. */
  async #unapplied(client: pg.Client, rows: readonly Row[], origins: readonly (RowOrigin | null)[]): Promise<{ rows: Row[]; high: Map<string, RowOrigin> }> {
    const high = new Map<string, RowOrigin>()
    for (const o of origins) {
      if (!o) continue
      const key = `${o.topic}\u0000${o.partition}`
      const seen = high.get(key)
      if (!seen || o.offset > seen.offset) high.set(key, o)
    }
    if (high.size === 0) return { rows: [...rows], high }
    const job = this.#job.job
    const parts = [...high.values()]
    await client.query(
      `INSERT INTO ${OFFSETS_TABLE} (job, topic, partition, applied) SELECT $1, t, p, -1 FROM unnest($2::text[], $3::int[]) AS u(t, p) ON CONFLICT DO NOTHING`,
      [job, parts.map((o) => o.topic), parts.map((o) => o.partition)],
    )
    const res = await client.query(
      `SELECT topic, partition, applied::text FROM ${OFFSETS_TABLE} WHERE job = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) ORDER BY topic, partition FOR UPDATE`,
      [job, parts.map((o) => o.topic), parts.map((o) => o.partition)],
    )
    const applied = new Map<string, number>()
    for (const r of res.rows as { topic: string; partition: number; applied: string }[]) applied.set(`${r.topic}\u0000${r.partition}`, Number(r.applied))
    const fresh: Row[] = []
    for (let i = 0; i < rows.length; i++) {
      const o = origins[i]
      if (o && o.offset <= (applied.get(`${o.topic}\u0000${o.partition}`) ?? -1)) continue
      fresh.push(rows[i])
    }
    return { rows: fresh, high }
  }

  async save(rows: readonly Row[], signal?: AbortSignal, origins: readonly (RowOrigin | null)[] = []): Promise<void> {
    // A deadlock or serialization failure rolled the whole transaction back: run it again at once
    // (a few times) rather than waiting for the retry handler's interval.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#save(rows, origins)
      } catch (err) {
        const code = (err as { code?: string }).code
        if ((code !== '40P01' && code !== '40001') || attempt >= 5 || signal?.aborted) throw err
      }
    }
  }

  async #save(rows: readonly Row[], origins: readonly (RowOrigin | null)[]): Promise<void> {
    if (rows.length === 0) return
    const width = this.#job.rules.columns.length
    const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / width))
    let client: pg.Client
    try {
      client = await this.#connect()
    } catch (err) {
      this.#client = null
      throw err
    }
    try {
      await client.query('BEGIN')
      const batch = await this.#unapplied(client, rows, origins)
      // Rows in primary-key order: concurrent processors lock shared keys in the same order, so
      // they wait for each other instead of deadlocking.
      const merged = sortRowsByKey(this.#job.rules, mergeRowsByKey(this.#job.rules, batch.rows))
      if (this.#unnest && merged.length > 0) {
        const columns: unknown[][] = Array.from({ length: width }, () => new Array<unknown>(merged.length))
        for (let r = 0; r < merged.length; r++) {
          const row = merged[r]
          for (let c = 0; c < width; c++) columns[c][r] = param(row[c])
        }
        await client.query({ name: this.#unnestName, text: upsertUnnestStatement(this.#job.rules, this.#table), values: columns })
      } else for (let i = 0; i < merged.length; i += perStatement) {
        const chunk = merged.slice(i, i + perStatement)
        const values: unknown[] = []
        for (const row of chunk) for (const v of row) values.push(param(v))
        await client.query(upsertStatement(this.#job.rules, this.#table, chunk.length), values)
      }
      if (batch.high.size > 0) {
        const parts = [...batch.high.values()]
        await client.query(
          `UPDATE ${OFFSETS_TABLE} AS o SET applied = GREATEST(o.applied, u.a) FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, a) WHERE o.job = $1 AND o.topic = u.t AND o.partition = u.p`,
          [this.#job.job, parts.map((o) => o.topic), parts.map((o) => o.partition), parts.map((o) => o.offset)],
        )
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      // A broken connection is dropped so the retry connects afresh.
      if (this.#client === client && !(err as { code?: string }).code) {
        this.#client = null
        await client.end().catch(() => undefined)
      }
      throw err
    }
  }

  async close(): Promise<void> {
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => undefined)
  }
}
