/**
 * Maps a decoded message to a row of the job's table, as AresDB's parser does — then better:
 * `defaultValue` is applied to fields the message lacks, every value is checked against its column
 * type, and a row that cannot be stored is returned as a rejection with its reason (for the DLQ),
 * never dropped silently.
 *
 * A row is rejected, as in AresDB, when a primary-key value is null or when a fact table (without
 * `allowMissingEventTime`) has no event time (schema column 0); and, unlike AresDB, when a value
 * does not fit its column type.
 *
 * @example
 * ```ts
 * const mapper = new RowMapper(job.rules)
 * const r = mapper.map({ uuid: '6e1c…', request_at: 1700000000 })
 * if (r.ok) sink.add(r.row) else dlq.add(message, r.reason)
 * ```
 * @module
 */
import { convertColumnValue } from './column-types.ts'
import type { ColumnRule, JobRules } from './job-config.ts'

/** A mapped row: values in the order of `JobRules.columns` (sorted by column name). */
export type Row = unknown[]

/** Why a message did not become a row. */
export type RejectReason = 'not_an_object' | 'null_primary_key' | 'missing_event_time' | 'bad_value'

/** The result of {@link RowMapper.map}. */
export type MapResult = { ok: true; row: Row } | { ok: false; reason: RejectReason; message: string }

/** Maps decoded messages to rows of one job's table. */
export class RowMapper {
  readonly rules: JobRules
  readonly #defaults: unknown[]
  readonly #timeIndex: number

  constructor(rules: JobRules) {
    this.rules = rules
    this.#timeIndex = rules.requiredTimeColumn === null ? -1 : rules.columns.findIndex((c) => c.name === rules.requiredTimeColumn)
    // Defaults are strings in AresDB schemas; convert each once, so a bad default fails at start-up.
    this.#defaults = rules.columns.map((c) => RowMapper.#convertDefault(c))
  }

  static #convertDefault(column: ColumnRule): unknown {
    if (column.defaultValue === null) return null
    const r = convertColumnValue(column.type, column.type.endsWith('[]') ? JSON.parse(column.defaultValue) : column.defaultValue)
    if (!r.ok) throw new TypeError(`column ${column.name}: defaultValue ${JSON.stringify(column.defaultValue)}: ${r.reason}`)
    return r.value
  }

  /** Maps one decoded message (AresDB's JSON decoder yields an object). */
  map(message: unknown): MapResult {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      return { ok: false, reason: 'not_an_object', message: `message is ${Array.isArray(message) ? 'an array' : message === null ? 'null' : typeof message}, not a JSON object` }
    }
    const msg = message as { [field: string]: unknown }
    const columns = this.rules.columns
    const row: Row = new Array(columns.length)
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]
      const raw = msg[column.name]
      if (raw === undefined || raw === null) {
        row[i] = this.#defaults[i]
        continue
      }
      const converted = convertColumnValue(column.type, raw)
      if (!converted.ok) return { ok: false, reason: 'bad_value', message: `column ${column.name}: ${converted.reason}` }
      row[i] = converted.value
    }
    for (let i = 0; i < columns.length; i++) {
      if (columns[i].primaryKey && row[i] === null) return { ok: false, reason: 'null_primary_key', message: `primary key column ${columns[i].name} is null` }
    }
    if (this.#timeIndex >= 0 && row[this.#timeIndex] === null) {
      return { ok: false, reason: 'missing_event_time', message: `fact table ${this.rules.table}: event time column ${this.rules.requiredTimeColumn} is missing` }
    }
    return { ok: true, row }
  }
}
