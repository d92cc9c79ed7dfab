/**
 * Type mapping between PostgreSQL's text representation and record values, both directions.
 *
 * Reading (`decodeText`), with the session settings of {@link SESSION_OPTIONS}:
 *
 * | PostgreSQL | record value |
 * |---|---|
 * | `smallint`, `integer`, `oid` | number |
 * | `bigint` | number when within ±(2^53 − 1), else a decimal string |
 * | `real`, `double precision` | number (`NaN`, `Infinity`, `-Infinity` as strings) |
 * | `numeric` | string (exact) |
 * | `text`, `varchar`, `char`, `name`, enums, anything else | string (PostgreSQL's text form) |
 * | `boolean` | boolean |
 * | `timestamptz` | RFC 3339 string in UTC, microseconds kept: `2024-05-01T12:00:00.123456Z` |
 * | `timestamp` | the same form, read as UTC |
 * | `date` | `YYYY-MM-DD` |
 * | `uuid` | string |
 * | `json`, `jsonb` | the parsed JSON value (structured) |
 * | `bytea` | bytes (`Buffer`) |
 * | arrays of the above | arrays, elements mapped as above (nested for multi-dimensional) |
 *
 * Writing (`encodeText`) accepts those values back for a column of the same type, plus the forms
 * that arrive after a record went through JSON: for `bytea` a base64 string (Conduit's JSON form of
 * bytes), a `\x…` hex string or Node's `{"type":"Buffer","data":[…]}`; for timestamps a `Date` or
 * epoch milliseconds; for `json`/`jsonb` any value (stringified).
 *
 * @example
 * ```ts
 * decodeText(OID.timestamptz, '2024-05-01 12:00:00.5+00')   // '2024-05-01T12:00:00.5Z'
 * encodeText({ a: 1 }, { oid: OID.jsonb, elemOid: 0 })        // '{"a":1}'
 * ```
 * @module
 */

/** The built-in type OIDs the mapping treats specially. */
export const OID = {
  bool: 16,
  bytea: 17,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const

/**
 * Per-session settings that make PostgreSQL's text output match the mapping (ISO dates, UTC,
 * shortest exact floats, hex bytea). Passed as the libpq `options` startup parameter.
 */
export const SESSION_OPTIONS = '-c DateStyle=ISO,YMD -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex -c IntervalStyle=postgres'

/** What the mapping needs to know about a column's type. */
export interface TypeInfo {
  /** The column's type OID. */
  readonly oid: number
  /** For an array type, its element type's OID; 0 otherwise. */
  readonly elemOid: number
}

/** Array type OID → element type OID for the built-in array types (others are looked up in `pg_type`). */
export const BUILTIN_ARRAYS: ReadonlyMap<number, number> = new Map([
  [1000, OID.bool], [1001, OID.bytea], [1003, OID.name], [1016, OID.int8], [1005, OID.int2], [1007, OID.int4],
  [1009, OID.text], [1028, OID.oid], [199, OID.json], [1021, OID.float4], [1022, OID.float8], [1014, OID.bpchar],
  [1015, OID.varchar], [1182, OID.date], [1183, OID.time], [1115, OID.timestamp], [1185, OID.timestamptz],
  [1231, OID.numeric], [2951, OID.uuid], [3807, OID.jsonb],
])

const SAFE = 9_007_199_254_740_991n
const TS = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/

/** A timestamp's ISO text (`2024-05-01 12:00:00.5+00`) as RFC 3339 (`2024-05-01T12:00:00.5Z`). */
function timestampToRfc3339(text: string): string {
  const m = TS.exec(text)
  if (m === null || m[7] !== undefined) return text // infinity, -infinity, BC dates: PostgreSQL's text
  const [, date, time, sign, hh, mm, ss] = m
  if (sign === undefined || (hh === '00' && (mm ?? '00') === '00' && (ss ?? '00') === '00')) return `${date}T${time}Z`
  return `${date}T${time}${sign}${hh}:${mm ?? '00'}${ss !== undefined ? `:${ss}` : ''}`
}

/** Decodes one value of `oid` from PostgreSQL's text form (element types included). */
export function decodeScalar(oid: number, text: string): unknown {
  switch (oid) {
    case OID.bool:
      return text === 't' || text === 'true'
    case OID.int2:
    case OID.int4:
    case OID.oid:
      return Number(text)
    case OID.int8: {
      const n = BigInt(text)
      return n <= SAFE && n >= -SAFE ? Number(n) : text
    }
    case OID.float4:
    case OID.float8: {
      const n = Number(text)
      return Number.isFinite(n) ? n : text
    }
    case OID.json:
    case OID.jsonb:
      return JSON.parse(text)
    case OID.bytea:
      return text.startsWith('\\x') ? Buffer.from(text.slice(2), 'hex') : Buffer.from(text, 'latin1')
    case OID.timestamp:
    case OID.timestamptz:
      return timestampToRfc3339(text)
    default:
      return text
  }
}

/**
 * Decodes a column value from PostgreSQL's text form. `elemOid` is the element type for arrays (0
 * for scalars).
 */
export function decodeText(oid: number, text: string, elemOid = BUILTIN_ARRAYS.get(oid) ?? 0): unknown {
  if (elemOid !== 0) return mapArray(parseArrayLiteral(text), (t) => decodeScalar(elemOid, t))
  return decodeScalar(oid, text)
}

type Nested<T> = (T | Nested<T>)[]

function mapArray<T, U>(items: Nested<T | null>, fn: (v: T) => U): Nested<U | null> {
  return items.map((v) => (Array.isArray(v) ? mapArray(v, fn) : v === null ? null : fn(v)))
}

/**
 * Parses an array literal (`{1,2,NULL}`, `{{"a b","c\"d"}}`, `[0:1]={1,2}`) into nested arrays of
 * element texts (`null` for NULL).
 */
export function parseArrayLiteral(text: string): Nested<string | null> {
  let i = 0
  if (text[0] === '[') {
    const eq = text.indexOf('=')
    if (eq < 0) throw new Error(`not an array literal: ${text}`)
    i = eq + 1
  }
  const parse = (): Nested<string | null> => {
    if (text[i] !== '{') throw new Error(`not an array literal at ${i}: ${text}`)
    i++
    const out: Nested<string | null> = []
    if (text[i] === '}') {
      i++
      return out
    }
    for (;;) {
      if (text[i] === '{') {
        out.push(parse())
      } else if (text[i] === '"') {
        i++
        let s = ''
        while (text[i] !== '"') {
          if (text[i] === '\\') i++
          if (i >= text.length) throw new Error(`unterminated quoted element: ${text}`)
          s += text[i++]
        }
        i++
        out.push(s)
      } else {
        let j = i
        while (j < text.length && text[j] !== ',' && text[j] !== '}') j++
        const raw = text.slice(i, j).trim()
        out.push(raw.toUpperCase() === 'NULL' ? null : raw)
        i = j
      }
      if (text[i] === ',') {
        i++
        continue
      }
      if (text[i] === '}') {
        i++
        return out
      }
      throw new Error(`bad array literal at ${i}: ${text}`)
    }
  }
  return parse()
}

function bytesOf(value: unknown): Buffer | null {
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value)
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data)
  }
  return null
}

function encodeScalar(value: unknown, oid: number): string {
  switch (oid) {
    case OID.json:
    case OID.jsonb: {
      const bytes = bytesOf(value)
      return bytes !== null ? JSON.stringify(bytes.toString('base64')) : JSON.stringify(value)
    }
    case OID.bytea: {
      const bytes = bytesOf(value)
      if (bytes !== null) return `\\x${bytes.toString('hex')}`
      if (typeof value === 'string') return value.startsWith('\\x') ? value : `\\x${Buffer.from(value, 'base64').toString('hex')}`
      throw new TypeError(`expected bytes (a Buffer, base64 or \\x-hex string) for a bytea column, got ${typeof value}`)
    }
    case OID.bool:
      if (typeof value === 'boolean') return value ? 't' : 'f'
      return String(value)
    case OID.timestamp:
    case OID.timestamptz:
    case OID.date:
      if (value instanceof Date) return value.toISOString()
      if (typeof value === 'number') return new Date(value).toISOString()
      return String(value)
    default: {
      if (typeof value === 'string') return value
      if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value)
      if (value instanceof Date) return value.toISOString()
      const bytes = bytesOf(value)
      if (bytes !== null) return bytes.toString('utf8')
      return JSON.stringify(value)
    }
  }
}

function quoteElement(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

function encodeArray(value: readonly unknown[], elemOid: number): string {
  const parts = value.map((v) => {
    if (v === null || v === undefined) return 'NULL'
    if (Array.isArray(v)) return encodeArray(v, elemOid)
    return quoteElement(encodeScalar(v, elemOid))
  })
  return `{${parts.join(',')}}`
}

/**
 * Encodes a record value as PostgreSQL input text for a column of type `type`; `null` for SQL NULL.
 * Throws a `TypeError` saying what was expected when the value cannot be written to the column.
 */
export function encodeText(value: unknown, type: TypeInfo): string | null {
  if (value === null || value === undefined) return null
  if (type.elemOid !== 0 && type.oid !== OID.json && type.oid !== OID.jsonb) {
    if (Array.isArray(value)) return encodeArray(value, type.elemOid)
    if (typeof value === 'string') return value
    throw new TypeError(`expected an array for an array column, got ${typeof value}`)
  }
  return encodeScalar(value, type.oid)
}

/** Escapes a value for COPY's text format (`\N` for NULL). */
export function copyEscape(text: string | null): string {
  if (text === null) return '\\N'
  if (!/[\\\n\r\t]/.test(text)) return text
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r').replaceAll('\t', '\\t')
}
