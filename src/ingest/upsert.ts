/**
 * AresDB's update modes as SQL and in memory: the PostgreSQL table a job's schema becomes, the
 * `INSERT ... ON CONFLICT DO UPDATE` that applies a batch with each column's mode, and the merge of
 * rows with the same primary key inside one batch (PostgreSQL refuses to update one row twice in a
 * statement, and the merge gives the same result as applying the rows one after another).
 *
 * | mode | on conflict |
 * |---|---|
 * | `overwrite_notnull` | `COALESCE(excluded.c, t.c)` |
 * | `overwrite_force` | `excluded.c` |
 * | `addition` | `t.c + excluded.c` (a null side counts as absent) |
 * | `min` / `max` | `LEAST` / `GREATEST` (which ignore nulls) |
 *
 * @example
 * ```ts
 * const rows = mergeRowsByKey(job.rules, batch)
 * await client.query(upsertStatement(job.rules, 'public.rides', rows.length), rows.flat())
 * ```
 * @module
 */
import type { ColumnRule, JobRules, UpdateMode } from './job-config.ts'
import type { Row } from './row-mapper.ts'

const PG_TYPES: { [aresType: string]: string } = {
  Bool: 'boolean',
  Int8: 'smallint',
  Uint8: 'smallint',
  Int16: 'smallint',
  Uint16: 'integer',
  Int32: 'integer',
  Uint32: 'bigint',
  Int64: 'bigint',
  Float32: 'real',
  SmallEnum: 'text',
  BigEnum: 'text',
  UUID: 'uuid',
  GeoPoint: 'text',
  GeoShape: 'text',
}

/** The PostgreSQL type that holds every value of an AresDB column type (unsigned types widen). */
export function postgresColumnType(aresType: string): string {
  if (aresType.endsWith('[]')) return `${postgresColumnType(aresType.slice(0, -2))}[]`
  const t = PG_TYPES[aresType]
  if (t === undefined) throw new TypeError(`no PostgreSQL type for AresDB type ${aresType}`)
  return t
}

/** Quotes an identifier for PostgreSQL (`"a""b"`); a dotted name is quoted part by part. */
export function quoteIdentifier(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.')
}

/** `CREATE TABLE IF NOT EXISTS` for a job's table: its non-deleted columns, primary key as in the schema. */
export function createTableStatement(rules: JobRules, table: string): string {
  const columns = rules.columns.map((c) => `${quoteIdentifier(c.name)} ${postgresColumnType(c.type)}${c.primaryKey ? ' NOT NULL' : ''}`)
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (${columns.join(', ')}, PRIMARY KEY (${rules.primaryKeys.map(quoteIdentifier).join(', ')}))`
}

function conflictExpression(column: ColumnRule, table: string): string {
  const c = quoteIdentifier(column.name)
  const current = `${quoteIdentifier(table.split('.').pop() as string)}.${c}`
  const incoming = `excluded.${c}`
  switch (column.updateMode) {
    case 'overwrite_force':
      return incoming
    case 'addition':
      return `CASE WHEN ${incoming} IS NULL THEN ${current} WHEN ${current} IS NULL THEN ${incoming} ELSE ${current} + ${incoming} END`
    case 'min':
      return `LEAST(${current}, ${incoming})`
    case 'max':
      return `GREATEST(${current}, ${incoming})`
    default:
      return `COALESCE(${incoming}, ${current})`
  }
}

/**
 * The statement that upserts `rowCount` rows (parameters `$1..$n`, row after row, in the order of
 * `rules.columns`). Rows must have distinct primary keys: merge them first with {@link mergeRowsByKey}.
 */
export function upsertStatement(rules: JobRules, table: string, rowCount: number): string {
  const width = rules.columns.length
  const values: string[] = []
  for (let r = 0; r < rowCount; r++) {
    const params: string[] = []
    for (let c = 0; c < width; c++) params.push(`$${r * width + c + 1}`)
    values.push(`(${params.join(', ')})`)
  }
  const updates = rules.columns.filter((c) => !c.primaryKey).map((c) => `${quoteIdentifier(c.name)} = ${conflictExpression(c, table)}`)
  const conflict = updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`
  return `INSERT INTO ${quoteIdentifier(table)} AS ${quoteIdentifier(table.split('.').pop() as string)} (${rules.columns.map((c) => quoteIdentifier(c.name)).join(', ')}) VALUES ${values.join(', ')} ON CONFLICT (${rules.primaryKeys.map(quoteIdentifier).join(', ')}) ${conflict}`
}

/** Whether {@link upsertUnnestStatement} can carry the job's rows (no array-typed columns). */
export function canUpsertByUnnest(rules: JobRules): boolean {
  return rules.columns.every((c) => !c.type.endsWith('[]'))
}

/**
 * The statement that upserts any number of rows with one array parameter per column
 * (`INSERT … SELECT * FROM unnest($1::type[], …)`): one parse and no parameter limit, much faster
 * than a multi-row `VALUES` list for big batches. Parameter `i` is the array of column `i`'s values
 * (in the order of `rules.columns`). Rows must have distinct primary keys. Only for jobs without
 * array-typed columns ({@link canUpsertByUnnest}).
 */
export function upsertUnnestStatement(rules: JobRules, table: string): string {
  const arrays = rules.columns.map((c, i) => `$${i + 1}::${postgresColumnType(c.type)}[]`)
  const updates = rules.columns.filter((c) => !c.primaryKey).map((c) => `${quoteIdentifier(c.name)} = ${conflictExpression(c, table)}`)
  const conflict = updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`
  return `INSERT INTO ${quoteIdentifier(table)} AS ${quoteIdentifier(table.split('.').pop() as string)} (${rules.columns.map((c) => quoteIdentifier(c.name)).join(', ')}) SELECT * FROM unnest(${arrays.join(', ')}) ON CONFLICT (${rules.primaryKeys.map(quoteIdentifier).join(', ')}) ${conflict}`
}

function combine(mode: UpdateMode, current: unknown, incoming: unknown): unknown {
  if (mode === 'overwrite_force') return incoming
  if (incoming === null) return current
  if (current === null) return incoming
  switch (mode) {
    case 'addition':
      return typeof current === 'bigint' || typeof incoming === 'bigint' ? BigInt(current as number) + BigInt(incoming as number) : (current as number) + (incoming as number)
    case 'min':
      return (incoming as number) < (current as number) ? incoming : current
    case 'max':
      return (incoming as number) > (current as number) ? incoming : current
    default:
      return incoming
  }
}

function keyOf(row: Row, keyIndexes: readonly number[]): string {
  if (keyIndexes.length === 1) return String(row[keyIndexes[0]])
  return JSON.stringify(keyIndexes.map((i) => (typeof row[i] === 'bigint' ? String(row[i]) : row[i])))
}

/**
 * Folds rows with the same primary key into one, applying each column's update mode in arrival
 * order, so that one upsert of the result equals upserting the rows one by one. Keeps first-seen
 * key order.
 */
export function mergeRowsByKey(rules: JobRules, rows: readonly Row[]): Row[] {
  const keyIndexes = rules.columns.flatMap((c, i) => (c.primaryKey ? [i] : []))
  const merged = new Map<string, Row>()
  for (const row of rows) {
    const key = keyOf(row, keyIndexes)
    const seen = merged.get(key)
    if (seen === undefined) {
      merged.set(key, row.slice())
      continue
    }
    for (let i = 0; i < rules.columns.length; i++) {
      const column = rules.columns[i]
      if (!column.primaryKey) seen[i] = combine(column.updateMode, seen[i], row[i])
    }
  }
  return [...merged.values()]
}

/** Rows sorted by primary key (so concurrent upserts lock keys in one order). */
export function sortRowsByKey(rules: JobRules, rows: Row[]): Row[] {
  const keyIndexes = rules.columns.flatMap((c, i) => (c.primaryKey ? [i] : []))
  const keyed = rows.map((row) => ({ key: keyOf(row, keyIndexes), row }))
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return keyed.map((k) => k.row)
}
