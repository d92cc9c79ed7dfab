/**
 * The PostgreSQL source: an initial snapshot in a consistent read, then changes through logical
 * replication (`pgoutput`), or long polling where replication is not available.
 *
 * Start-up, by the last acknowledged position the runtime hands in:
 *
 * | last position | what happens |
 * |---|---|
 * | none, `snapshotMode: initial` | (re)create the slot exporting its snapshot, read every table in that snapshot, then stream from the slot's consistent point |
 * | a snapshot row (the snapshot did not finish) | the same: the exported snapshot died with the last run, so a new slot and a new snapshot (snapshot rows come again; changes are not lost) |
 * | none, `snapshotMode: never` | create the slot if missing, stream from it |
 * | a change | stream from the slot's confirmed LSN, skipping changes up to that position |
 *
 * The publication is created before the slot (pgoutput resolves publications as of each change).
 *
 * @example
 * ```ts
 * const source = new PostgresSource(postgresSettings.parse({ url, tables: 'users', cdcMode: 'logrepl' }), ctx)
 * await source.open(signal)
 * const records = await source.read(signal)
 * await source.ack(records.map((r) => r.position))
 * ```
 * @module
 */
import type pg from 'pg'
import { TributaryError } from '../../../core/errors.ts'
import type { Logger } from '../../../core/logger.ts'
import type { ConnectorContext, Source } from '../../connector.ts'
import type { PipelineRecord } from '../../record.ts'
import { allTables, arrayTypes, describeTable, type TableInfo } from './catalog.ts'
import { closeQuietly, connect, pgErrorText, quoteIdent, sleep, type PgError } from './connection.ts'
import { ReplicationReader } from './logrepl.ts'
import { LongPoller } from './long-polling.ts'
import { parseLsn } from './pgoutput.ts'
import { decodePosition, type CdcPosition, type SourcePosition } from './position.ts'
import type { PostgresSettings } from './settings.ts'
import { SnapshotReader } from './snapshot.ts'

/** Tuning that is not a pipeline setting (tests shorten it). */
export interface SourceOptions {
  /** How long `read` keeps reconnecting before it throws, in ms. Default 120,000. */
  retryForMs?: number
}

/** The `postgres` source connector. */
export class PostgresSource implements Source {
  readonly #s: PostgresSettings
  readonly #ctx: ConnectorContext
  readonly #logger: Logger
  readonly #retryForMs: number
  #mode: 'logrepl' | 'long_polling' = 'logrepl'
  #snapshot: SnapshotReader | null = null
  #reader: ReplicationReader | null = null
  #poller: LongPoller | null = null
  /** What starts the stream once the snapshot is read. */
  #startStream: (() => Promise<void>) | null = null

  constructor(settings: PostgresSettings, ctx: ConnectorContext, options: SourceOptions = {}) {
    this.#s = settings
    this.#ctx = ctx
    this.#logger = ctx.logger
    this.#retryForMs = options.retryForMs ?? 120_000
  }

  /** The mode the source runs in after `open` (`auto` resolved). */
  get mode(): 'logrepl' | 'long_polling' {
    return this.#mode
  }

  async open(_signal: AbortSignal): Promise<void> {
    const s = this.#s
    const wanted = s.tables ?? (s.table !== undefined ? [s.table] : [])
    if (wanted.length === 0) throw new TributaryError('TRIB_POSTGRES_CONFIG', 'postgres source: setting tables is required (table names separated by commas, or *)', { details: { setting: 'tables' } })
    const all = wanted.length === 1 && wanted[0] === '*'
    const meta = await connect(s.url, 'postgres source')
    try {
      const arrays = await arrayTypes(meta)
      const names = all ? await allTables(meta) : wanted
      const tables: TableInfo[] = []
      for (const name of names) {
        const info = await describeTable(meta, name)
        if (info === null) throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting tables: table ${name} does not exist`, { details: { setting: 'tables', table: name } })
        tables.push(info)
      }
      let last: SourcePosition | null = this.#ctx.lastPosition && this.#ctx.lastPosition.length > 0 ? decodePosition(this.#ctx.lastPosition) : null
      this.#mode = s.cdcMode === 'long_polling' ? 'long_polling' : 'logrepl'
      if (this.#mode === 'logrepl') {
        const problem = await logreplProblem(meta)
        if (problem !== null) {
          if (s.cdcMode === 'logrepl') throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting cdcMode: logrepl ${problem}; use cdcMode long_polling or fix the server`, { details: { setting: 'cdcMode' } })
          this.#logger.warn({ reason: problem }, 'postgres source: cdcMode auto falls back to long polling')
          this.#mode = 'long_polling'
        }
      }
      if (this.#mode === 'long_polling') {
        this.#poller = new LongPoller({
          url: s.url,
          tables,
          orderingColumn: s['longPolling.orderingColumn'],
          pollIntervalMs: s['longPolling.pollInterval'],
          batchSize: s['batch.size'],
          snapshot: s.snapshotMode === 'initial',
          last: last?.m === 'poll' ? last : null,
          arrays,
          logger: this.#logger,
        })
        await this.#poller.open()
        return
      }
      if (last?.m === 'poll') last = null
      await this.#ensurePublication(meta, tables, all)
      const slot = await slotInfo(meta, s['logrepl.slotName'])
      const primaryKeys = new Map(tables.map((t) => [t.oid, t.primaryKey]))
      const reader = (resumeAfter: CdcPosition | null, confirmedLsn: bigint): ReplicationReader =>
        new ReplicationReader({
          url: s.url,
          slot: s['logrepl.slotName'],
          publication: s['logrepl.publicationName'],
          arrays,
          primaryKeys,
          resumeAfter,
          confirmedLsn,
          statusIntervalMs: s['logrepl.statusInterval'] * 1000,
          logger: this.#logger,
          retryForMs: this.#retryForMs,
        })
      if (last?.m === 'cdc') {
        if (slot === null) {
          throw new TributaryError('TRIB_POSTGRES_REPLICATION', `postgres source: setting logrepl.slotName: replication slot ${s['logrepl.slotName']} is gone, changes after position ${JSON.stringify(last)} cannot be read; drop the stored position to start over with a snapshot`, { details: { setting: 'logrepl.slotName' } })
        }
        this.#reader = reader(last, slot.confirmed)
        await this.#reader.start()
        return
      }
      if (last === null && s.snapshotMode === 'never') {
        const confirmed = slot?.confirmed ?? (await this.#createSlot(false)).consistentPoint
        this.#reader = reader(null, confirmed)
        await this.#reader.start()
        return
      }
      if (slot !== null) {
        this.#logger.warn({ slot: s['logrepl.slotName'] }, 'postgres source: recreating the replication slot for a new snapshot')
        await dropSlot(meta, s['logrepl.slotName'])
      }
      const created = await this.#createSlot(true)
      try {
        this.#snapshot = await SnapshotReader.begin(s.url, created.snapshotName, tables, s['snapshot.fetchSize'], arrays)
      } finally {
        await closeQuietly(created.client)
      }
      this.#startStream = async () => {
        this.#reader = reader(null, created.consistentPoint)
        await this.#reader.start()
      }
    } finally {
      await closeQuietly(meta)
    }
  }

  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    const max = this.#s['batch.size']
    if (this.#snapshot !== null) {
      const records = await this.#snapshot.read(max)
      if (records !== null) return records
      await this.#snapshot.close()
      this.#snapshot = null
      this.#logger.info('postgres source: snapshot done, streaming changes')
      await this.#startStream?.()
      this.#startStream = null
    }
    if (this.#poller !== null) return this.#poller.read(signal)
    if (this.#reader === null) return []
    return this.#reader.read(max, signal)
  }

  async ack(positions: readonly Buffer[]): Promise<void> {
    const last = positions[positions.length - 1]
    if (last === undefined) return
    const position = decodePosition(last)
    if (position.m === 'cdc') this.#reader?.ack(position)
  }

  async teardown(): Promise<void> {
    await this.#snapshot?.close()
    await this.#reader?.close()
    await this.#poller?.close()
    this.#snapshot = null
    this.#reader = null
    this.#poller = null
  }

  /**
   * Drops the replication slot and the publication when `logrepl.autoCleanup` is on (Conduit
   * does this when a connector is deleted; Tributary has no such event, so callers that delete a
   * pipeline call this after `teardown`). Returns whether anything was dropped.
   */
  async cleanup(): Promise<boolean> {
    if (!this.#s['logrepl.autoCleanup']) return false
    const client = await connect(this.#s.url, 'postgres source')
    try {
      let dropped = false
      if ((await slotInfo(client, this.#s['logrepl.slotName'])) !== null) {
        await dropSlot(client, this.#s['logrepl.slotName'])
        dropped = true
      }
      const pub = await client.query('DROP PUBLICATION IF EXISTS ' + quoteIdent(this.#s['logrepl.publicationName']))
      return dropped || pub.rowCount !== null
    } finally {
      await closeQuietly(client)
    }
  }

  async #createSlot(exportSnapshot: boolean): Promise<{ client: pg.Client; snapshotName: string | null; consistentPoint: bigint }> {
    const client = await connect(this.#s.url, 'postgres source', { replication: true })
    try {
      const res = await client.query<{ consistent_point: string; snapshot_name: string | null }>(
        `CREATE_REPLICATION_SLOT ${quoteIdent(this.#s['logrepl.slotName'])} LOGICAL pgoutput ${exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT'}`,
      )
      const row = res.rows[0]
      if (row === undefined) throw new Error('CREATE_REPLICATION_SLOT returned nothing')
      if (!exportSnapshot) await closeQuietly(client)
      return { client, snapshotName: row.snapshot_name, consistentPoint: parseLsn(row.consistent_point) }
    } catch (err) {
      await closeQuietly(client)
      throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting logrepl.slotName: cannot create replication slot ${this.#s['logrepl.slotName']}: ${pgErrorText(err)}`, { cause: err, details: { setting: 'logrepl.slotName' } })
    }
  }

  async #ensurePublication(client: pg.Client, tables: readonly TableInfo[], all: boolean): Promise<void> {
    const name = this.#s['logrepl.publicationName']
    const found = await client.query<{ puballtables: boolean }>('SELECT puballtables FROM pg_publication WHERE pubname = $1', [name])
    const pub = found.rows[0]
    if (pub === undefined) {
      const what = all ? 'FOR ALL TABLES' : `FOR TABLE ${tables.map((t) => t.sqlName).join(', ')}`
      try {
        await client.query(`CREATE PUBLICATION ${quoteIdent(name)} ${what}`)
      } catch (err) {
        if ((err as PgError).code === '42710') return // created concurrently
        throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting logrepl.publicationName: cannot create publication ${name}: ${pgErrorText(err)}`, { cause: err, details: { setting: 'logrepl.publicationName' } })
      }
      return
    }
    if (pub.puballtables) return
    const published = await client.query<{ oid: number }>(
      `SELECT (quote_ident(schemaname) || '.' || quote_ident(tablename))::regclass::oid::int AS oid FROM pg_publication_tables WHERE pubname = $1`,
      [name],
    )
    const have = new Set(published.rows.map((r) => r.oid))
    const missing = tables.filter((t) => !have.has(t.oid)).map((t) => t.sqlName)
    if (missing.length > 0) {
      throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting logrepl.publicationName: publication ${name} exists but does not publish ${missing.join(', ')}; add them (ALTER PUBLICATION ... ADD TABLE) or choose another publicationName`, { details: { setting: 'logrepl.publicationName' } })
    }
  }
}

/** Why this server/role cannot do logical replication, or null when it can. */
async function logreplProblem(client: pg.Client): Promise<string | null> {
  const res = await client.query<{ wal_level: string; rolreplication: boolean; rolsuper: boolean; rolname: string }>(
    `SELECT current_setting('wal_level') AS wal_level, rolreplication, rolsuper, rolname FROM pg_roles WHERE rolname = current_user`,
  )
  const row = res.rows[0]
  if (row === undefined) return 'cannot read the current role'
  if (row.wal_level !== 'logical') return `needs wal_level=logical but the server has wal_level=${row.wal_level} (set it in postgresql.conf and restart)`
  if (!row.rolreplication && !row.rolsuper) return `needs a role with the REPLICATION attribute but ${row.rolname} has none (ALTER ROLE ${row.rolname} REPLICATION)`
  return null
}

/** The slot's confirmed flush LSN, or null when there is no such slot. */
async function slotInfo(client: pg.Client, slot: string): Promise<{ confirmed: bigint } | null> {
  const res = await client.query<{ plugin: string; database: string; lsn: string | null; current: string }>(
    `SELECT plugin, database, confirmed_flush_lsn::text AS lsn, current_database() AS current FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  )
  const row = res.rows[0]
  if (row === undefined) return null
  if (row.plugin !== 'pgoutput' || row.database !== row.current) {
    throw new TributaryError('TRIB_POSTGRES_CONFIG', `postgres source: setting logrepl.slotName: slot ${slot} exists for plugin ${row.plugin} in database ${row.database}, not pgoutput in ${row.current}`, { details: { setting: 'logrepl.slotName' } })
  }
  return { confirmed: row.lsn === null ? 0n : parseLsn(row.lsn) }
}

/** Drops a slot, waiting up to 10 s for a previous reader's connection to let go of it. */
async function dropSlot(client: pg.Client, slot: string): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await client.query('SELECT pg_drop_replication_slot($1)', [slot])
      return
    } catch (err) {
      if ((err as PgError).code !== '55006' || Date.now() > deadline) {
        throw new TributaryError('TRIB_POSTGRES_REPLICATION', `postgres source: setting logrepl.slotName: cannot drop replication slot ${slot}: ${pgErrorText(err)}`, { cause: err, details: { setting: 'logrepl.slotName' } })
      }
      await sleep(100)
    }
  }
}
