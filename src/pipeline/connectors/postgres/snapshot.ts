/**
 * The initial snapshot of the PostgreSQL source: every row of every table, read in one
 * `REPEATABLE READ` transaction that imports the snapshot exported by the replication slot's
 * creation, so the snapshot and the change stream that follows meet exactly (nothing missed,
 * nothing doubled). Rows come through a cursor, `fetchSize` at a time, as `snapshot` records.
 *
 * @example
 * ```ts
 * const snap = await SnapshotReader.begin(url, exportedSnapshot, tables, 50_000, arrays)
 * for (let batch = await snap.read(1000); batch !== null; batch = await snap.read(1000)) ...
 * await snap.close()
 * ```
 * @module
 */
import type pg from 'pg'
import { unixNanos, type PipelineRecord, type StructuredData } from '../../record.ts'
import type { TableInfo } from './catalog.ts'
import { closeQuietly, connect } from './connection.ts'
import { encodePosition } from './position.ts'
import { BUILTIN_ARRAYS, decodeText } from './types.ts'

/** Result parsers that apply the connector's type mapping to every column. */
export function mappingTypes(arrays: ReadonlyMap<number, number>): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number) => (text: string) => decodeText(oid, text, BUILTIN_ARRAYS.get(oid) ?? arrays.get(oid) ?? 0)) as pg.CustomTypesConfig['getTypeParser'],
  }
}

/** Reads the snapshot, table after table. */
export class SnapshotReader {
  readonly #client: pg.Client
  readonly #tables: readonly TableInfo[]
  readonly #fetchSize: number
  #table = 0
  #row = 0
  #open = false
  #buffer: StructuredData[] = []
  #exhausted = false

  private constructor(client: pg.Client, tables: readonly TableInfo[], fetchSize: number) {
    this.#client = client
    this.#tables = tables
    this.#fetchSize = fetchSize
  }

  /** Opens the snapshot transaction on `snapshotName` (null: a fresh snapshot, for long polling). */
  static async begin(url: string, snapshotName: string | null, tables: readonly TableInfo[], fetchSize: number, arrays: ReadonlyMap<number, number>): Promise<SnapshotReader> {
    const client = await connect(url, 'postgres source', { types: mappingTypes(arrays) })
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      if (snapshotName !== null) await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replaceAll("'", "''")}'`)
    } catch (err) {
      await closeQuietly(client)
      throw err
    }
    return new SnapshotReader(client, tables, fetchSize)
  }

  /** Up to `max` records; null once every table was read. */
  async read(max: number): Promise<PipelineRecord[] | null> {
    const out: PipelineRecord[] = []
    while (out.length < max) {
      const table = this.#tables[this.#table]
      if (table === undefined) break
      if (!this.#open) {
        await this.#client.query(`DECLARE tributary_snapshot NO SCROLL CURSOR FOR SELECT * FROM ${table.sqlName}`)
        this.#open = true
        this.#exhausted = false
      }
      if (this.#buffer.length === 0 && !this.#exhausted) {
        const res = await this.#client.query(`FETCH ${this.#fetchSize} FROM tributary_snapshot`)
        this.#buffer = res.rows as StructuredData[]
        this.#exhausted = this.#buffer.length < this.#fetchSize
      }
      if (this.#buffer.length === 0) {
        await this.#client.query('CLOSE tributary_snapshot')
        this.#open = false
        this.#table++
        this.#row = 0
        continue
      }
      const take = this.#buffer.splice(0, max - out.length)
      const readAt = unixNanos()
      for (const row of take) {
        this.#row++
        let key: StructuredData | null = null
        if (table.primaryKey.length > 0) {
          key = {}
          for (const k of table.primaryKey) key[k] = row[k]
        }
        out.push({
          position: encodePosition({ m: 'snapshot', t: table.collection, r: this.#row }),
          operation: 'snapshot',
          metadata: { 'opencdc.collection': table.collection, 'opencdc.readAt': readAt },
          key,
          payload: { before: null, after: row },
        })
      }
    }
    return out.length === 0 ? null : out
  }

  /** Ends the transaction and closes the connection. */
  async close(): Promise<void> {
    await this.#client.query('COMMIT').catch(() => undefined)
    await closeQuietly(this.#client)
  }
}
