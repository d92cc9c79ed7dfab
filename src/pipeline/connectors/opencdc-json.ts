/**
 * OpenCDC JSON byte-for-byte as Conduit writes it (`opencdc.Record.Bytes()`, Go's JSON encoder):
 * fields in the order position, operation, metadata, key, payload; object keys sorted (metadata and
 * structured data, at every depth); raw bytes and the position as base64; `<`, `>`, `&`, U+2028
 * and U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`; missing data as `null`.
 * Byte values nested in structured data are base64 strings (Go's `[]byte`), dates are RFC 3339
 * with the fraction's trailing zeros cut (Go's `time.Time`).
 *
 * Written for speed: keys that are already sorted (the generator makes them so) cost one check,
 * and the escaping pass only runs on lines that contain one of the five characters.
 *
 * @example
 * ```ts
 * conduitRecordJson(createRecord({ position: Buffer.from('2'), key: '1', after: '1', metadata: { 'file.path': 'in.txt' } }))
 * // {"position":"Mg==","operation":"create","metadata":{"file.path":"in.txt"},"key":"MQ==","payload":{"before":null,"after":"MQ=="}}
 * ```
 * @module
 */
import type { Data, PipelineRecord } from '../record.ts'

const HTML_UNSAFE = /[<>&\u2028\u2029]/
const HTML_UNSAFE_ALL = /[<>&\u2028\u2029]/g
const ESCAPES: { [ch: string]: string } = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' }

/** Applies Go's HTML-safe escaping to JSON text (the five characters only occur inside strings). */
export function goEscape(json: string): string {
  return HTML_UNSAFE.test(json) ? json.replace(HTML_UNSAFE_ALL, (ch) => ESCAPES[ch]) : json
}

/** Go's RFC 3339 form of a time: `2026-01-02T03:04:05.12Z` (no trailing zeros in the fraction). */
export function goTime(date: Date): string {
  const iso = date.toISOString() // 2026-01-02T03:04:05.120Z
  return iso.replace(/\.?0+Z$/, 'Z')
}

function isSortedPlain(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'bigint' && typeof value !== 'undefined'
  if (Array.isArray(value)) {
    for (const item of value) if (!isSortedPlain(item)) return false
    return true
  }
  if (Buffer.isBuffer(value) || value instanceof Uint8Array || value instanceof Date || value instanceof Map) return false
  let previous: string | undefined
  for (const key in value) {
    if (previous !== undefined && previous > key) return false
    const v = (value as { [k: string]: unknown })[key]
    if (v !== null && (typeof v === 'object' || typeof v === 'bigint' || typeof v === 'undefined') && !isSortedPlain(v)) return false
    previous = key
  }
  return true
}

/** The value Go would marshal: keys sorted, bytes as base64, dates as RFC 3339, bigints as numbers. */
function goValue(value: unknown): unknown {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint') return Number(value)
  if (typeof value !== 'object') return value
  if (Buffer.isBuffer(value)) return value.toString('base64')
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  if (value instanceof Date) return goTime(value)
  if (Array.isArray(value)) return value.map(goValue)
  const entries = value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value)
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const out: { [key: string]: unknown } = {}
  for (const [k, v] of entries) out[k] = goValue(v)
  return out
}

/** JSON text of any value as Go's encoder writes it (sorted keys, HTML-safe escaping). */
export function goJson(value: unknown): string {
  return goEscape(JSON.stringify(isSortedPlain(value) ? value : goValue(value)))
}

/** Metadata as Go writes a `map[string]string`: keys sorted. (Escaping is applied to the whole line later.) */
function metadataJson(metadata: { readonly [key: string]: string }): string {
  let sorted = true
  let previous: string | undefined
  for (const key in metadata) {
    if (previous !== undefined && previous > key) {
      sorted = false
      break
    }
    previous = key
  }
  if (sorted) return JSON.stringify(metadata)
  const keys = Object.keys(metadata).sort()
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out += ','
    out += JSON.stringify(keys[i]) + ':' + JSON.stringify(metadata[keys[i]])
  }
  return out + '}'
}

function dataJson(data: Data): string {
  if (data === null || data === undefined) return 'null'
  if (Buffer.isBuffer(data)) return '"' + data.toString('base64') + '"'
  return JSON.stringify(isSortedPlain(data) ? data : goValue(data))
}

/** One record as Conduit's OpenCDC JSON (no newline). */
export function conduitRecordJson(record: PipelineRecord): string {
  const line =
    '{"position":"' +
    record.position.toString('base64') +
    '","operation":"' +
    record.operation +
    '","metadata":' +
    metadataJson(record.metadata) +
    ',"key":' +
    dataJson(record.key) +
    ',"payload":{"before":' +
    dataJson(record.payload.before) +
    ',"after":' +
    dataJson(record.payload.after) +
    '}}'
  return goEscape(line)
}

/**
 * The bytes Conduit's `Data.Bytes()` gives for a key or payload: raw data as is, structured data as
 * Go-style JSON, nothing as `null`.
 */
export function conduitDataBytes(data: Data): Buffer | null {
  if (data === null || data === undefined) return null
  if (Buffer.isBuffer(data)) return data
  return Buffer.from(goJson(data))
}
