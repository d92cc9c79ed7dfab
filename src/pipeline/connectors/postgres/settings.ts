/**
 * Settings of the `postgres` connector, named as in Conduit's `builtin:postgres` (strings in
 * pipeline files; booleans and numbers are coerced as Conduit does).
 *
 * @example
 * ```ts
 * postgresSettings.parse({ url: 'postgres://u@127.0.0.1/db', tables: 'users,orders', cdcMode: 'logrepl' }) // tables: ['users', 'orders']
 * ```
 * @module
 */
import type { ZodType } from 'zod'
import { connectorSettings } from '../settings.ts'

/** The default of `logrepl.publicationName` (Conduit's). */
export const DEFAULT_PUBLICATION = 'conduitpub'
/** The default of `logrepl.slotName` (Conduit's). */
export const DEFAULT_SLOT = 'conduitslot'
/** The default `table` of the destination: the record's collection. */
export const DEFAULT_TABLE = '{{ index .Metadata "opencdc.collection" }}'

/** Parsed settings of the `postgres` connector (source and destination share one plugin). */
export interface PostgresSettings {
  /** Connection URL (`postgres://user:pass@host:port/db`). Both. */
  readonly url: string
  /** Source: tables to read (`schema.table` allowed), or `['*']` for all; undefined when not set. */
  readonly tables?: readonly string[]
  /** Source: Conduit's deprecated single-table form of `tables`. Destination: the table name or template. */
  readonly table?: string
  /** Destination: key columns (default: the table's primary key). */
  readonly key?: readonly string[]
  /** Source: `auto` (logical replication, else long polling), `logrepl` or `long_polling`. */
  readonly cdcMode: 'auto' | 'logrepl' | 'long_polling'
  /** Source: `initial` reads every row first (operation `snapshot`), `never` starts with changes. */
  readonly snapshotMode: 'initial' | 'never'
  /** Source: rows per snapshot fetch. */
  readonly 'snapshot.fetchSize': number
  readonly 'logrepl.publicationName': string
  readonly 'logrepl.slotName': string
  /** Source: drop slot and publication in `cleanup()` (Conduit: when the connector is deleted). */
  readonly 'logrepl.autoCleanup': boolean
  /** Source: seconds between standby status updates. */
  readonly 'logrepl.statusInterval': number
  /** Source (long polling): the increasing column to poll by (default: a single-column primary key). */
  readonly 'longPolling.orderingColumn'?: string
  /** Source (long polling): milliseconds between polls that found nothing. */
  readonly 'longPolling.pollInterval': number
  /** Source: most records per read (`sdk.batch.size`, default 10,000). */
  readonly 'batch.size': number
}

/** The zod schema of the `postgres` connector's settings (Conduit's names, coerced as Conduit does). */
export const postgresSettings: ZodType<PostgresSettings> = connectorSettings((s) => {
  const url = s.required('url')
  const tables = s.has('tables') ? s.list('tables', []) : undefined
  const table = s.optional('table')
  const key = s.has('key') ? s.list('key', []) : undefined
  const cdcMode = s.oneOf('cdcMode', ['auto', 'logrepl', 'long_polling'] as const, 'auto')
  const snapshotMode = s.oneOf('snapshotMode', ['initial', 'never'] as const, 'initial')
  const fetchSize = s.int('snapshot.fetchSize', 50_000, 1)
  const publication = s.string('logrepl.publicationName', DEFAULT_PUBLICATION)
  const slot = s.string('logrepl.slotName', DEFAULT_SLOT)
  if (!/^[a-z0-9_]+$/.test(slot)) s.fail('logrepl.slotName', 'may only contain lower-case letters, digits and _')
  const autoCleanup = s.bool('logrepl.autoCleanup', true)
  const statusInterval = s.float('logrepl.statusInterval', 10, 0.05)
  const orderingColumn = s.optional('longPolling.orderingColumn')
  const pollInterval = s.int('longPolling.pollInterval', 1000, 1)
  const batchSize = s.int('sdk.batch.size', 0, 0) || s.int('batch.size', 10_000, 1)
  s.accept('logrepl.withAvroSchema', 'sdk.batch.delay', 'sdk.schema.extract.key.enabled', 'sdk.schema.extract.payload.enabled', 'sdk.schema.extract.type', 'sdk.schema.extract.key.subject', 'sdk.schema.extract.payload.subject', 'sdk.schema.context.enabled', 'sdk.schema.context.name')
  return {
    url,
    ...(tables !== undefined ? { tables } : {}),
    ...(table !== undefined ? { table } : {}),
    ...(key !== undefined ? { key } : {}),
    cdcMode,
    snapshotMode,
    'snapshot.fetchSize': fetchSize,
    'logrepl.publicationName': publication,
    'logrepl.slotName': slot,
    'logrepl.autoCleanup': autoCleanup,
    'logrepl.statusInterval': statusInterval,
    ...(orderingColumn !== undefined ? { 'longPolling.orderingColumn': orderingColumn } : {}),
    'longPolling.pollInterval': pollInterval,
    'batch.size': batchSize,
  }
})
