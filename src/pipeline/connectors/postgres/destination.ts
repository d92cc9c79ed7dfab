/**
 * The PostgreSQL destination: writes each batch in one transaction and acknowledges it only after
 * `COMMIT` returned.
 *
 * - A batch of inserts only (`create` records) goes through `COPY ... FROM STDIN` (one per table
 *   and column set); any other batch through multi-row `INSERT`, `INSERT ... ON CONFLICT (key) DO
 *   UPDATE` and `DELETE ... WHERE key IN (...)` statements, in record order, cut where a key
 *   repeats, so the order per key is kept.
 * - When a row breaks a rule (a constraint, a bad value: SQLSTATE classes 22 and 23), the batch is
 *   rolled back and applied again under savepoints, halving the failing part until the bad rows are
 *   alone: they are nacked with PostgreSQL's code and message, everything else lands in the same
 *   transaction. A `create` whose row is already in the table exactly as the record has it (a
 *   replay after a crash between commit and acknowledgement) is acknowledged, not nacked.
 * - When the server goes away (connection lost, shutdown, restart), the whole batch is retried on a
 *   new connection with backoff; nothing is acknowledged before a `COMMIT` that returned.
 *
 * @example
 * ```ts
 * const dest = new PostgresDestination(postgresSettings.parse({ url, table: 'users' }), ctx)
 * await dest.open(signal)
 * const acks = await dest.write(records, signal)   // one ack per record; ack.error = nack
 * ```
 * @module
 */
import { finished } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { Backoff } from '../../../core/backoff.ts'
import { TributaryError, isTributaryError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import type { ConnectorContext, Destination, DestinationAck } from '../../connector.ts'
import type { PipelineRecord } from '../../record.ts'
import { compileTemplate } from '../../template.ts'
import { describeTable, type TableInfo } from './catalog.ts'
import { closeQuietly, connect, isConnectionError, isRowError, isTransientTxError, pgErrorText, quoteIdent, redactUrl, sleep, type PgError } from './connection.ts'
import type { PostgresSettings } from './settings.ts'
import { copyEscape } from './types.ts'
import { describePosition, planRecord, recordError, sameRowQuery, segments, statementFor, type RowOp } from './write-plan.ts'

/** Tuning that is not a pipeline setting (tests shorten it). */
export interface DestinationOptions {
  /** How long a batch is retried while the server is away, in ms. Default 120,000. */
  retryForMs?: number
}

/** Per-record outcome while a batch is applied: undefined = not yet, null = written, Error = nack. */
type Outcome = Error | null | undefined

const COPY_CHUNK = 256 * 1024

/** The `postgres` destination connector. */
export class PostgresDestination implements Destination {
  readonly #settings: PostgresSettings
  readonly #logger: Logger
  readonly #retryForMs: number
  #client: pg.Client | null = null
  #tableFor: (record: PipelineRecord) => string = () => ''
  readonly #tables = new Map<string, TableInfo | null>()

  constructor(settings: PostgresSettings, ctx: ConnectorContext, options: DestinationOptions = {}) {
    this.#settings = settings
    this.#logger = ctx.logger
    this.#retryForMs = options.retryForMs ?? 120_000
  }

  async open(_signal: AbortSignal): Promise<void> {
    const table = this.#settings.table
    if (table === undefined) throw new TributaryError('TRIB_POSTGRES_CONFIG', 'postgres destination: setting table is required')
    if (table.includes('{{')) {
      this.#tableFor = compileTemplate(table, 'settings.table')
    } else {
      this.#tableFor = () => table
    }
    this.#client = await connect(this.#settings.url, 'postgres destination')
    if (!table.includes('{{')) {
      const info = await this.#table(this.#client, table)
      if (info === null) throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres destination: setting table: table ${table} does not exist in ${redactUrl(this.#settings.url)}`, { details: { setting: 'table', table } })
      this.#keyColumns(info, 'open')
    }
  }

  async write(records: readonly PipelineRecord[], signal: AbortSignal): Promise<DestinationAck[]> {
    const outcomes: Outcome[] = new Array<Outcome>(records.length).fill(undefined)
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 })
    const deadline = Date.now() + this.#retryForMs
    let ops: RowOp[] | null = null
    for (;;) {
      try {
        const client = await this.#connected()
        ops ??= await this.#plan(client, records, outcomes)
        await this.#apply(client, ops, outcomes)
        break
      } catch (err) {
        const retry = isConnectionError(err) || isTransientTxError(err) || isTributaryError(err, 'TRIB_POSTGRES_UNAVAILABLE')
        if (!retry) throw err
        for (const op of ops ?? []) outcomes[op.index] = undefined
        await closeQuietly(this.#client)
        this.#client = null
        if (signal.aborted || Date.now() > deadline) {
          throw new TributaryError('TRIB_POSTGRES_UNAVAILABLE', `postgres destination: the batch of ${records.length} records was not written: ${(err as Error).message}`, { cause: err, retriable: true })
        }
        const delay = backoff.next()
        this.#logger.warn({ err: (err as Error).message, delayMs: delay, attempt: backoff.attempt }, 'postgres destination: server unavailable, retrying the batch')
        await sleep(delay, signal)
      }
    }
    return records.map((record, i) => {
      const outcome = outcomes[i]
      return outcome ? { position: record.position, error: outcome } : { position: record.position }
    })
  }

  async teardown(): Promise<void> {
    await closeQuietly(this.#client)
    this.#client = null
  }

  async #connected(): Promise<pg.Client> {
    this.#client ??= await connect(this.#settings.url, 'postgres destination')
    return this.#client
  }

  async #table(client: pg.Client, name: string): Promise<TableInfo | null> {
    if (!this.#tables.has(name)) this.#tables.set(name, await describeTable(client, name))
    return this.#tables.get(name) ?? null
  }

  #keyColumns(table: TableInfo, when: 'open' | 'write'): readonly string[] {
    const key = this.#settings.key
    if (key === undefined || key.length === 0) return table.primaryKey
    const missing = key.filter((k) => !table.columns.has(k))
    if (missing.length > 0) {
      const err = new TributaryError('TRIB_POSTGRES_CONFIG', `postgres destination: setting key: column ${missing.join(', ')} is not in table ${table.sqlName}`, { details: { setting: 'key', table: table.sqlName } })
      if (when === 'open') throw err
      return key
    }
    return key
  }

  /** Plans every record; records that cannot be written get their nack now. */
  async #plan(client: pg.Client, records: readonly PipelineRecord[], outcomes: Outcome[]): Promise<RowOp[]> {
    const ops: RowOp[] = []
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as PipelineRecord
      let name: string
      try {
        name = this.#tableFor(record)
      } catch (err) {
        outcomes[i] = recordError(record, null, `setting table: ${(err as Error).message}`, {}, err)
        continue
      }
      const table = name === '' ? null : await this.#table(client, name)
      if (table === null) {
        outcomes[i] = recordError(record, name, name === '' ? 'setting table gave an empty table name' : `table ${name} does not exist`)
        continue
      }
      const planned = planRecord(record, i, table, this.#keyColumns(table, 'write'))
      if (planned instanceof Error) outcomes[i] = planned
      else ops.push(planned)
    }
    return ops
  }

  /** Applies `ops` in one transaction; on a row error, again with the bad rows isolated. */
  async #apply(client: pg.Client, ops: RowOp[], outcomes: Outcome[]): Promise<void> {
    if (ops.length === 0) return
    await client.query('BEGIN')
    try {
      if (ops.every((op) => op.kind === 'insert')) await this.#copy(client, ops)
      else for (const seg of segments(ops)) await client.query(statementFor(seg))
      await client.query('COMMIT')
      for (const op of ops) outcomes[op.index] = null
      return
    } catch (err) {
      if (isConnectionError(err)) throw err
      await client.query('ROLLBACK')
      if (!isRowError(err)) throw this.#batchError(err, ops)
      this.#logger.debug({ err: pgErrorText(err) }, 'postgres destination: a row failed, isolating it')
    }
    await client.query('BEGIN')
    try {
      await this.#isolate(client, ops, outcomes)
      await client.query('COMMIT')
    } catch (err) {
      for (const op of ops) outcomes[op.index] = undefined
      if (isConnectionError(err)) throw err
      await client.query('ROLLBACK').catch(() => undefined)
      throw isRowError(err) ? err : this.#batchError(err, ops)
    }
  }

  #batchError(err: unknown, ops: RowOp[]): Error {
    if (isTransientTxError(err) || isTributaryError(err)) return err as Error
    const e = err as PgError
    const tables = [...new Set(ops.map((op) => op.table.sqlName))].join(', ')
    return new TributaryError('TRIB_POSTGRES_WRITE', `postgres destination: writing to ${tables} failed: ${pgErrorText(e)}`, { cause: err, details: { pgCode: e.code, pgMessage: e.message } })
  }

  /** COPY every (table, columns) group of an inserts-only batch. */
  async #copy(client: pg.Client, ops: RowOp[]): Promise<void> {
    const groups = new Map<string, RowOp[]>()
    for (const op of ops) {
      const group = groups.get(op.signature)
      if (group) group.push(op)
      else groups.set(op.signature, [op])
    }
    for (const group of groups.values()) {
      const head = group[0] as RowOp
      const stream = client.query(copyFrom(`COPY ${head.table.sqlName} (${head.columns.map((c) => quoteIdent(c.name)).join(',')}) FROM STDIN`))
      const done = finished(stream)
      done.catch(() => undefined)
      let chunk = ''
      for (const op of group) {
        let line = ''
        for (let i = 0; i < op.values.length; i++) line += (i === 0 ? '' : '\t') + copyEscape(op.values[i] ?? null)
        chunk += `${line}\n`
        if (chunk.length >= COPY_CHUNK) {
          if (!stream.write(chunk)) await Promise.race([new Promise((r) => stream.once('drain', r)), done])
          chunk = ''
        }
      }
      stream.end(chunk)
      await done
    }
  }

  /**
   * Applies `ops` under savepoints, halving any part that fails with a row error until the bad
   * rows are alone; they get their nack, the rest is applied.
   */
  async #isolate(client: pg.Client, ops: RowOp[], outcomes: Outcome[]): Promise<void> {
    const attempt = async (range: RowOp[]): Promise<void> => {
      if (range.length === 0) return
      await client.query('SAVEPOINT tributary_part')
      try {
        const suspects: RowOp[] = []
        for (const seg of segments(range)) {
          const head = seg[0] as RowOp
          const res = await client.query(statementFor(seg, { insertOnConflictDoNothing: true }))
          if (head.kind === 'insert' && head.keyColumns.length > 0 && (res.rowCount ?? 0) < seg.length) suspects.push(...seg)
        }
        for (const op of suspects) outcomes[op.index] = await this.#replayOrConflict(client, op)
        await client.query('RELEASE SAVEPOINT tributary_part')
        for (const op of range) if (outcomes[op.index] === undefined) outcomes[op.index] = null
      } catch (err) {
        if (!isRowError(err)) throw err
        await client.query('ROLLBACK TO SAVEPOINT tributary_part')
        await client.query('RELEASE SAVEPOINT tributary_part')
        for (const op of range) outcomes[op.index] = undefined
        if (range.length === 1) {
          outcomes[(range[0] as RowOp).index] = this.#rowError(range[0] as RowOp, err)
          return
        }
        const mid = Math.ceil(range.length / 2)
        await attempt(range.slice(0, mid))
        await attempt(range.slice(mid))
      }
    }
    await attempt(ops)
  }

  /**
   * An insert that found its key taken: null (acknowledge) when the row is exactly the record's (a
   * replay), else the genuine unique-violation error from inserting it alone.
   */
  async #replayOrConflict(client: pg.Client, op: RowOp): Promise<Error | null> {
    const same = await client.query(sameRowQuery(op))
    if ((same.rowCount ?? 0) > 0) return null
    await client.query('SAVEPOINT tributary_row')
    try {
      await client.query(statementFor([op]))
      await client.query('RELEASE SAVEPOINT tributary_row')
      return null
    } catch (err) {
      if (!isRowError(err)) throw err
      await client.query('ROLLBACK TO SAVEPOINT tributary_row')
      await client.query('RELEASE SAVEPOINT tributary_row')
      return this.#rowError(op, err)
    }
  }

  #rowError(op: RowOp, err: unknown): TributaryError {
    const e = err as PgError
    const position = describePosition(op.position)
    return new TributaryError('TRIB_POSTGRES_WRITE', `postgres destination: record at position ${position} (table ${op.table.sqlName}): ${pgErrorText(e)}`, {
      cause: err,
      details: { position, table: op.table.sqlName, pgCode: e.code, pgMessage: e.message, pgDetail: e.detail, pgConstraint: e.constraint },
    })
  }
}
