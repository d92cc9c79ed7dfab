/**
 * Turns records into row operations for the PostgreSQL destination, and row operations into SQL:
 * `create` → insert, `update`/`snapshot` → upsert on the key, `delete` → delete by key (a
 * `postgres.operation: truncate` delete → `TRUNCATE`). Consecutive operations of one kind on one
 * table with the same columns share one multi-row statement, cut where a key repeats so the order
 * per key is kept.
 *
 * @example
 * ```ts
 * const op = planRecord(record, table, keyColumns)         // a RowOp, or an Error naming the position
 * for (const seg of segments(ops)) await client.query(statementFor(seg))
 * ```
 * @module
 */
import { TributaryError } from '../../../core/errors.ts'
import { isRawData, isStructuredData, type PipelineRecord, type StructuredData } from '../../record.ts'
import type { ColumnInfo, TableInfo } from './catalog.ts'
import { quoteIdent } from './connection.ts'
import { encodeText } from './types.ts'

/** What happens to one row. */
export type RowKind = 'insert' | 'upsert' | 'delete' | 'truncate'

/** One record, planned. */
export interface RowOp {
  /** Index of the record in the batch. */
  readonly index: number
  /** The record's position (for messages). */
  readonly position: Buffer
  readonly kind: RowKind
  readonly table: TableInfo
  /** Key columns (empty when the table has no key). */
  readonly keyColumns: readonly string[]
  /** Columns written (insert/upsert) or matched (delete: the key columns). */
  readonly columns: readonly ColumnInfo[]
  /** Text values for `columns`, `null` for NULL. */
  readonly values: readonly (string | null)[]
  /** The key as text, for detecting a repeated key (`null` when keyless). */
  readonly keyId: string | null
  /** `kind|table|columns`: operations with the same signature may share a statement. */
  readonly signature: string
}

/** A record's position for messages: UTF-8 when printable, else base64. */
export function describePosition(position: Buffer): string {
  const text = position.toString('utf8')
  return /^[\x20-\x7e]*$/.test(text) ? text : `base64:${position.toString('base64')}`
}

/** A `TRIB_POSTGRES_WRITE` error for one record. */
export function recordError(record: PipelineRecord, table: string | null, reason: string, details: Record<string, unknown> = {}, cause?: unknown): TributaryError {
  const where = table === null ? '' : ` (table ${table})`
  return new TributaryError('TRIB_POSTGRES_WRITE', `postgres destination: record at position ${describePosition(record.position)}${where}: ${reason}`, {
    cause,
    details: { position: describePosition(record.position), table, ...details },
  })
}

function structuredOrNull(data: PipelineRecord['key']): StructuredData | null {
  return isStructuredData(data) ? data : null
}

/**
 * Plans one record against `table`. Returns an error (to nack the record with) for a raw or
 * missing payload, a field that is not a column, a value the column cannot take, or a missing key.
 */
export function planRecord(record: PipelineRecord, index: number, table: TableInfo, keyColumns: readonly string[]): RowOp | TributaryError {
  const name = table.sqlName
  if (record.operation === 'delete' && record.metadata['postgres.operation'] === 'truncate') {
    return { index, position: record.position, kind: 'truncate', table, keyColumns, columns: [], values: [], keyId: null, signature: `truncate|${name}` }
  }
  const key = structuredOrNull(record.key)
  let fields: StructuredData
  let kind: RowKind
  if (record.operation === 'delete') {
    kind = 'delete'
    if (keyColumns.length === 0) return recordError(record, name, 'cannot delete without a key: the table has no primary key and the `key` setting is empty')
    const before = structuredOrNull(record.payload.before)
    fields = {}
    for (const k of keyColumns) {
      if (key !== null && k in key) fields[k] = key[k]
      else if (before !== null && k in before) fields[k] = before[k]
      else if (keyColumns.length === 1 && isRawData(record.key)) fields[k] = record.key.toString('utf8')
      else return recordError(record, name, `the key has no value for key column ${k}`)
    }
  } else {
    const after = record.payload.after
    if (isRawData(after)) return recordError(record, name, 'the payload is raw data; the postgres destination writes structured payloads only (add a json.decode processor)')
    if (after === null) return recordError(record, name, `a ${record.operation} record without payload.after`)
    fields = key === null ? after : { ...key, ...after }
    kind = record.operation === 'create' ? 'insert' : 'upsert'
    if (kind === 'upsert' && keyColumns.length === 0) return recordError(record, name, `cannot ${record.operation} without a key: the table has no primary key and the \`key\` setting is empty`)
  }
  const columns: ColumnInfo[] = []
  const values: (string | null)[] = []
  for (const [field, value] of Object.entries(fields)) {
    const column = table.columns.get(field)
    if (column === undefined) return recordError(record, name, `field ${field} is not a column of the table`, { field })
    try {
      values.push(encodeText(value, column))
    } catch (err) {
      return recordError(record, name, `field ${field} (${column.typeName}): ${(err as Error).message}`, { field }, err)
    }
    columns.push(column)
  }
  let keyId: string | null = null
  if (keyColumns.length > 0) {
    const parts: (string | null)[] = []
    for (const k of keyColumns) {
      const at = columns.findIndex((c) => c.name === k)
      if (at < 0) return recordError(record, name, `the record has no value for key column ${k}`)
      parts.push(values[at] ?? null)
    }
    keyId = JSON.stringify(parts)
  }
  return { index, position: record.position, kind, table, keyColumns, columns, values, keyId, signature: `${kind}|${name}|${columns.map((c) => c.name).join(',')}` }
}

/** Most bind parameters in one statement (PostgreSQL allows 65,535). */
const MAX_PARAMS = 30_000

/**
 * Cuts `ops` (in batch order) into runs that one statement can apply: same signature, no key
 * twice, at most {@link MAX_PARAMS} parameters.
 */
export function segments(ops: readonly RowOp[]): RowOp[][] {
  const out: RowOp[][] = []
  let current: RowOp[] = []
  let keys = new Set<string>()
  let params = 0
  for (const op of ops) {
    const head = current[0]
    const repeat = op.keyId !== null && keys.has(op.keyId)
    if (head !== undefined && (head.signature !== op.signature || repeat || params + op.values.length > MAX_PARAMS || op.kind === 'truncate')) {
      out.push(current)
      current = []
      keys = new Set()
      params = 0
    }
    current.push(op)
    if (op.keyId !== null) keys.add(op.keyId)
    params += op.values.length
  }
  if (current.length > 0) out.push(current)
  return out
}

/** The SQL statement and parameters that apply one segment. */
export function statementFor(segment: readonly RowOp[], options: { insertOnConflictDoNothing?: boolean } = {}): { text: string; values: (string | null)[] } {
  const head = segment[0]
  if (head === undefined) throw new Error('empty segment')
  const table = head.table.sqlName
  const cols = head.columns.map((c) => quoteIdent(c.name))
  const values: (string | null)[] = []
  const tuples: string[] = []
  for (const op of segment) {
    const ph: string[] = []
    for (const v of op.values) {
      values.push(v)
      ph.push(`$${values.length}`)
    }
    tuples.push(`(${ph.join(',')})`)
  }
  switch (head.kind) {
    case 'truncate':
      return { text: `TRUNCATE ${table}`, values: [] }
    case 'insert': {
      const conflict = options.insertOnConflictDoNothing && head.keyColumns.length > 0 ? ` ON CONFLICT (${head.keyColumns.map(quoteIdent).join(',')}) DO NOTHING RETURNING ${head.keyColumns.map(quoteIdent).join(',')}` : ''
      return { text: `INSERT INTO ${table} (${cols.join(',')}) VALUES ${tuples.join(',')}${conflict}`, values }
    }
    case 'upsert': {
      const keySet = new Set(head.keyColumns)
      const updates = head.columns.filter((c) => !keySet.has(c.name)).map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`)
      const action = updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'
      return { text: `INSERT INTO ${table} (${cols.join(',')}) VALUES ${tuples.join(',')} ON CONFLICT (${head.keyColumns.map(quoteIdent).join(',')}) ${action}`, values }
    }
    case 'delete': {
      const lhs = cols.length === 1 ? cols[0] : `(${cols.join(',')})`
      const rhs = cols.length === 1 ? tuples.map((t) => t.slice(1, -1)) : tuples
      return { text: `DELETE FROM ${table} WHERE ${lhs} IN (${rhs.join(',')})`, values }
    }
  }
}

/**
 * A query returning 1 when the row of an insert `op` is already in the table exactly as the
 * record has it (a replayed create), compared column by column in PostgreSQL's text form.
 */
export function sameRowQuery(op: RowOp): { text: string; values: (string | null)[] } {
  const keys = new Set(op.keyColumns)
  const conds = op.columns.map((c, i) =>
    keys.has(c.name) ? `${quoteIdent(c.name)} = $${i + 1}::${c.typeName}` : `${quoteIdent(c.name)}::text IS NOT DISTINCT FROM ($${i + 1}::${c.typeName})::text`,
  )
  return { text: `SELECT 1 FROM ${op.table.sqlName} WHERE ${conds.join(' AND ')} LIMIT 1`, values: [...op.values] }
}
