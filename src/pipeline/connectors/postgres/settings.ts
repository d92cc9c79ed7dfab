/**
 * Settings of the `postgres` connector, named as in Conduit's `builtin:postgres` (strings in
 * pipeline files; booleans and numbers are coerced as Conduit does).
 *
 * @example
 * ```ts
 * postgresSettings.parse({ url: 'postgres://u@127.0.0.1/db', tables: 'users,orders', cdcMode: 'logrepl' })
 * ```
 * @module
 */
import { z } from 'zod'

const bool = z.union([z.boolean(), z.stringbool()])
const positiveInt = z.coerce.number().int().positive()
const list = z.union([z.string(), z.array(z.string())]).transform((v) =>
  (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0),
)

/** The default of `logrepl.publicationName` (Conduit's). */
export const DEFAULT_PUBLICATION = 'conduitpub'
/** The default of `logrepl.slotName` (Conduit's). */
export const DEFAULT_SLOT = 'conduitslot'
/** The default `table` of the destination: the record's collection. */
export const DEFAULT_TABLE = '{{ index .Metadata "opencdc.collection" }}'

/** Every setting of the source and the destination (one plugin, one schema). */
export const postgresSettings = z.object({
  /** Connection URL (`postgres://user:pass@host:port/db`). Both. */
  url: z.string().min(1, 'url is required'),
  /** Source: tables to read, comma separated (`schema.table` allowed), or `*` for all. */
  tables: list.optional(),
  /** Source: Conduit's deprecated single-table form of `tables`. */
  table: z.string().min(1).optional(),
  /** Destination: key columns, comma separated (default: the table's primary key). Source (long polling): not used. */
  key: list.optional(),
  /** Source: `auto` (logical replication, else long polling), `logrepl` or `long_polling`. */
  cdcMode: z.enum(['auto', 'logrepl', 'long_polling']).default('auto'),
  /** Source: `initial` reads every row first (operation `snapshot`), `never` starts with changes. */
  snapshotMode: z.enum(['initial', 'never']).default('initial'),
  /** Source: rows per snapshot fetch (Conduit's `snapshot.fetchSize`). */
  'snapshot.fetchSize': positiveInt.default(50_000),
  'logrepl.publicationName': z.string().min(1).default(DEFAULT_PUBLICATION),
  'logrepl.slotName': z.string().regex(/^[a-z0-9_]+$/, 'logrepl.slotName may only contain lower-case letters, digits and _').default(DEFAULT_SLOT),
  /** Source: drop the slot and publication in `cleanup()` (Conduit: when the connector is deleted). */
  'logrepl.autoCleanup': bool.default(true),
  /** Source: seconds between standby status updates to the server. */
  'logrepl.statusInterval': z.coerce.number().positive().default(10),
  /** Source (long polling): the increasing column to poll by (default: a single-column primary key). */
  'longPolling.orderingColumn': z.string().min(1).optional(),
  /** Source (long polling): milliseconds between polls when nothing new was found. */
  'longPolling.pollInterval': z.coerce.number().int().positive().default(1000),
  /** Source: most records returned by one `read`. */
  'batch.size': positiveInt.default(10_000),
})

/** Parsed settings of the `postgres` connector. */
export type PostgresSettings = z.infer<typeof postgresSettings>
