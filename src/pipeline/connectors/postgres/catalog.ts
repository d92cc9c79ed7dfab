/**
 * What the connectors read from PostgreSQL's catalog: a table's columns with their types, its
 * primary key, and the tables a `tables: "*"` means.
 *
 * @example
 * ```ts
 * const table = await describeTable(client, 'public.users')   // null when it does not exist
 * table?.columns.get('id')?.oid                               // 23
 * ```
 * @module
 */
import type pg from 'pg'
import type { TypeInfo } from './types.ts'

/** One column. */
export interface ColumnInfo extends TypeInfo {
  readonly name: string
  /** `format_type` of the column (`numeric(10,2)`, `timestamp with time zone`, `integer[]`). */
  readonly typeName: string
}

/** One table. */
export interface TableInfo {
  /** The table's OID. */
  readonly oid: number
  /** The name to use in SQL (`regclass` text: quoted and schema-qualified where needed). */
  readonly sqlName: string
  /** The name records carry in `opencdc.collection`: `table`, or `schema.table` outside `public`. */
  readonly collection: string
  /** Columns in table order. */
  readonly columns: ReadonlyMap<string, ColumnInfo>
  /** Primary key columns in key order; empty when the table has none. */
  readonly primaryKey: readonly string[]
}

/**
 * Looks `name` up as PostgreSQL would (`users`, `public.users`, `"Mixed Case"`), with its columns
 * and primary key; null when there is no such table.
 */
export async function describeTable(client: pg.Client, name: string): Promise<TableInfo | null> {
  const found = await client.query<{ oid: number; sqlname: string; nspname: string; relname: string }>(
    `SELECT c.oid::int AS oid, c.oid::regclass::text AS sqlname, n.nspname, c.relname
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')`,
    [name],
  )
  const row = found.rows[0]
  if (row === undefined) return null
  return describeOid(client, row.oid, row.sqlname, row.nspname, row.relname)
}

async function describeOid(client: pg.Client, oid: number, sqlName: string, schema: string, relname: string): Promise<TableInfo> {
  const cols = await client.query<{ attname: string; atttypid: number; typelem: number; typcategory: string; typename: string }>(
    `SELECT a.attname, a.atttypid::int AS atttypid, t.typelem::int AS typelem, t.typcategory, format_type(a.atttypid, a.atttypmod) AS typename
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  )
  const pk = await client.query<{ attname: string }>(
    `SELECT a.attname
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = $1 AND i.indisprimary
      ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [oid],
  )
  const columns = new Map<string, ColumnInfo>()
  for (const c of cols.rows) {
    columns.set(c.attname, { name: c.attname, oid: c.atttypid, elemOid: c.typcategory === 'A' ? c.typelem : 0, typeName: c.typename })
  }
  return { oid, sqlName, collection: schema === 'public' ? relname : `${schema}.${relname}`, columns, primaryKey: pk.rows.map((r) => r.attname) }
}

/** Every ordinary table outside the system schemas (what `tables: "*"` means), in name order. */
export async function allTables(client: pg.Client): Promise<string[]> {
  const res = await client.query<{ name: string }>(
    `SELECT c.oid::regclass::text AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
  )
  return res.rows.map((r) => r.name)
}

/** Array type OID → element OID for every array type in the database (for types the built-in list lacks). */
export async function arrayTypes(client: pg.Client): Promise<Map<number, number>> {
  const res = await client.query<{ oid: number; typelem: number }>(`SELECT oid::int AS oid, typelem::int AS typelem FROM pg_type WHERE typcategory = 'A' AND typelem <> 0`)
  return new Map(res.rows.map((r) => [r.oid, r.typelem]))
}
