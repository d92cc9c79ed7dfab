/**
 * Long polling, the source's fallback when logical replication is not available (`cdcMode:
 * long_polling`, or `auto` on a server without `wal_level=logical` or a role without REPLICATION):
 * each table is read in the order of an increasing column, remembering the last value read.
 *
 * It sees inserted rows (and rows whose ordering column grows, e.g. an `updated_at`), not
 * deletes; a row committed with a smaller ordering value after a larger one was read is missed.
 * With `snapshotMode: initial` the rows present at the first start come as `snapshot` records.
 *
 * @example
 * ```ts
 * const poller = new LongPoller({ url, tables, ... })
 * await poller.open()
 * const records = await poller.read(signal)
 * ```
 * @module
 */
import type pg from 'pg'
import { Backoff } from '../../../core/backoff.ts'
import { TributaryError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import { unixNanos, type PipelineRecord, type StructuredData } from '../../record.ts'
import type { TableInfo } from './catalog.ts'
import { closeQuietly, connect, isConnectionError, quoteIdent, sleep } from './connection.ts'
import { encodePosition, type PollPosition } from './position.ts'
import { mappingTypes } from './snapshot.ts'

/** Options of {@link LongPoller}. */
export interface LongPollerOptions {
  url: string
  tables: readonly TableInfo[]
  /** The `longPolling.orderingColumn` setting (default: each table's single-column primary key). */
  orderingColumn: string | undefined
  pollIntervalMs: number
  batchSize: number
  snapshot: boolean
  last: PollPosition | null
  arrays: ReadonlyMap<number, number>
  logger: Logger
}

const ORD = '__tributary_ord'
const SNAP = '__tributary_snap'

/** Polls tables by an increasing column. */
export class LongPoller {
  readonly #o: LongPollerOptions
  #client: pg.Client | null = null
  readonly #columns = new Map<string, string>()
  #v: { [table: string]: string } = {}
  #s: { [table: string]: string | null } = {}
  #next = 0

  constructor(options: LongPollerOptions) {
    this.#o = options
  }

  /** Checks the ordering columns and fixes where each table starts. */
  async open(): Promise<void> {
    this.#client = await connect(this.#o.url, 'postgres source', { types: mappingTypes(this.#o.arrays) })
    for (const table of this.#o.tables) {
      const column = this.#o.orderingColumn ?? (table.primaryKey.length === 1 ? table.primaryKey[0] : undefined)
      if (column === undefined || !table.columns.has(column)) {
        const why = column === undefined ? `table ${table.sqlName} has no single-column primary key to poll by` : `column ${column} is not in table ${table.sqlName}`
        throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting longPolling.orderingColumn: ${why}`, { details: { setting: 'longPolling.orderingColumn' } })
      }
      this.#columns.set(table.collection, column)
    }
    if (this.#o.last !== null) {
      this.#v = { ...this.#o.last.v }
      this.#s = { ...(this.#o.last.s ?? {}) }
    }
    for (const table of this.#o.tables) {
      if (table.collection in this.#v || table.collection in this.#s) continue
      const col = quoteIdent(this.#columns.get(table.collection) as string)
      const res = await this.#client.query<{ max: string | null }>(`SELECT max(${col})::text AS max FROM ${table.sqlName}`)
      const max = res.rows[0]?.max ?? null
      if (this.#o.snapshot) this.#s[table.collection] = max
      else if (max !== null) this.#v[table.collection] = max
    }
  }

  /** The next rows of the tables, round robin; waits `pollIntervalMs` between empty polls. */
  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 })
    for (;;) {
      if (signal.aborted) return []
      try {
        this.#client ??= await connect(this.#o.url, 'postgres source', { types: mappingTypes(this.#o.arrays) })
        for (let i = 0; i < this.#o.tables.length; i++) {
          const table = this.#o.tables[(this.#next + i) % this.#o.tables.length] as TableInfo
          const records = await this.#poll(this.#client, table)
          if (records.length > 0) {
            this.#next = (this.#next + i + 1) % this.#o.tables.length
            return records
          }
        }
        backoff.reset()
        await sleep(this.#o.pollIntervalMs, signal)
      } catch (err) {
        if (!isConnectionError(err)) throw err
        await closeQuietly(this.#client)
        this.#client = null
        const delay = backoff.next()
        this.#o.logger.warn({ err: (err as Error).message, delayMs: delay }, 'postgres source: polling connection lost, reconnecting')
        await sleep(delay, signal)
      }
    }
  }

  async #poll(client: pg.Client, table: TableInfo): Promise<PipelineRecord[]> {
    const name = this.#columns.get(table.collection) as string
    const column = table.columns.get(name)
    const col = quoteIdent(name)
    const type = column?.typeName ?? 'text'
    const res = await client.query(
      `SELECT *, ${col}::text AS ${ORD}, (${col} <= $2::${type}) AS ${SNAP} FROM ${table.sqlName}
        WHERE $1::text IS NULL OR ${col} > $1::${type} ORDER BY ${col} LIMIT ${this.#o.batchSize}`,
      [this.#v[table.collection] ?? null, this.#s[table.collection] ?? null],
    )
    const readAt = unixNanos()
    return (res.rows as StructuredData[]).map((row) => {
      const ord = row[ORD] as string
      const snapshot = row[SNAP] === true
      delete row[ORD]
      delete row[SNAP]
      this.#v = { ...this.#v, [table.collection]: ord }
      const position: PollPosition = { m: 'poll', v: this.#v, s: this.#s }
      let key: StructuredData | null = null
      if (table.primaryKey.length > 0) {
        key = {}
        for (const k of table.primaryKey) key[k] = row[k]
      }
      return {
        position: encodePosition(position),
        operation: snapshot ? 'snapshot' : 'create',
        metadata: { 'opencdc.collection': table.collection, 'opencdc.readAt': readAt },
        key,
        payload: { before: null, after: row },
      }
    })
  }

  async close(): Promise<void> {
    await closeQuietly(this.#client)
    this.#client = null
  }
}
