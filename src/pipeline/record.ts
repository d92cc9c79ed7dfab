/**
 * The pipeline record: OpenCDC's shape (Conduit's `opencdc.Record`), with its JSON form.
 *
 * A record has an opaque `position` (meaningful only to the source that produced it), an
 * `operation`, string `metadata`, a `key` and a `payload` with `before` and `after`. Key and payload
 * parts are either raw bytes ({@link RawData}, a `Buffer`) or structured data (a plain object).
 *
 * The JSON form is the one Conduit writes and reads (`opencdc.Record.Bytes()` /
 * `UnmarshalJSON`), byte for byte: fields in the order `position`, `operation`, `metadata`, `key`,
 * `payload`; sorted keys; position and raw data as base64 strings; structured data as JSON objects;
 * Go's HTML-safe escaping; missing data as `null`. A file or topic written by one is therefore read
 * by the other. This is the pipeline's only record encoder.
 *
 * @example
 * ```ts
 * const rec = createRecord({ position: Buffer.from('1'), operation: 'create', key: Buffer.from('k'), after: { n: 1 } })
 * const line = recordToJson(rec)   // {"position":"MQ==","operation":"create","metadata":{...},"key":"aw==","payload":{"before":null,"after":{"n":1}}}
 * recordFromJson(line)             // equal to rec
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { goEscape, goJsonUnescaped } from './go-format.ts'

/** Raw bytes: a key or payload the pipeline does not look into. */
export type RawData = Buffer

/** Structured data: a JSON-like object whose fields processors can address. */
export interface StructuredData {
  [field: string]: unknown
}

/** A key or payload part: raw bytes, structured data, or nothing. */
export type Data = RawData | StructuredData | null

/** What happened to the record at its origin (OpenCDC operations). */
export type Operation = 'create' | 'update' | 'delete' | 'snapshot'

/** The four OpenCDC operations, in Conduit's numbering order. */
export const OPERATIONS: readonly Operation[] = ['create', 'update', 'delete', 'snapshot']

/** OpenCDC's standard metadata keys (`opencdc.*`) and Conduit's own (`conduit.*`). */
export const MetadataKeys = {
  version: 'opencdc.version',
  createdAt: 'opencdc.createdAt',
  readAt: 'opencdc.readAt',
  collection: 'opencdc.collection',
  sourceConnectorId: 'conduit.source.connector.id',
  dlqNackError: 'conduit.dlq.nack.error',
  dlqNackNodeId: 'conduit.dlq.nack.node.id',
} as const

/** The OpenCDC version Conduit stamps into `opencdc.version`. */
export const OPENCDC_VERSION = 'v1'

/** A record moving through a pipeline. */
export interface PipelineRecord {
  /** Where the record came from, opaque to everything but its source. Empty for records split off another. */
  position: Buffer
  operation: Operation
  /** String metadata; `opencdc.*` and `conduit.*` keys are reserved for their standard meanings. */
  metadata: { [key: string]: string }
  key: Data
  payload: { before: Data; after: Data }
}

/** Fields for {@link createRecord}; everything but `position` has a default. */
export interface RecordInit {
  position: Buffer
  operation?: Operation
  metadata?: { [key: string]: string }
  key?: Data | string
  before?: Data | string
  after?: Data | string
}

/** True when `data` is raw bytes. */
export function isRawData(data: Data | undefined): data is RawData {
  return Buffer.isBuffer(data)
}

/** True when `data` is structured (a plain object, not bytes). */
export function isStructuredData(data: Data | undefined): data is StructuredData {
  return data !== null && data !== undefined && typeof data === 'object' && !Buffer.isBuffer(data)
}

function toData(value: Data | string | undefined): Data {
  if (value === undefined || value === null) return null
  return typeof value === 'string' ? Buffer.from(value) : value
}

/** Builds a record; strings become raw UTF-8 bytes, `operation` defaults to `create`. */
export function createRecord(init: RecordInit): PipelineRecord {
  return {
    position: init.position,
    operation: init.operation ?? 'create',
    metadata: init.metadata ?? {},
    key: toData(init.key),
    payload: { before: toData(init.before), after: toData(init.after) },
  }
}

function cloneData(data: Data): Data {
  if (data === null) return null
  if (Buffer.isBuffer(data)) return Buffer.from(data)
  return structuredClone(data)
}

/** A deep copy: processors may change the copy without touching the original (Conduit's `Record.Clone`). */
export function cloneRecord(record: PipelineRecord): PipelineRecord {
  return {
    position: Buffer.from(record.position),
    operation: record.operation,
    metadata: { ...record.metadata },
    key: cloneData(record.key),
    payload: { before: cloneData(record.payload.before), after: cloneData(record.payload.after) },
  }
}

/** Nanoseconds since the epoch as a decimal string, the unit of `opencdc.createdAt` and `opencdc.readAt`. */
export function unixNanos(ms: number = Date.now()): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString()
}

/** Raw data as JSON: base64, as Go marshals a byte slice. */
function dataToJsonValue(data: Data): unknown {
  if (data === null) return null
  if (Buffer.isBuffer(data)) return data.toString('base64')
  return data
}

/** A record as the plain JSON value Conduit's serializer produces (before stringifying). */
export function recordToJsonValue(record: PipelineRecord): unknown {
  return {
    position: record.position.toString('base64'),
    operation: record.operation,
    metadata: record.metadata,
    key: dataToJsonValue(record.key),
    payload: { before: dataToJsonValue(record.payload.before), after: dataToJsonValue(record.payload.after) },
  }
}

/** `","operation":"<op>","metadata":` for each operation: the piece between position and metadata. */
const OPERATION_JSON: { readonly [op: string]: string } = Object.fromEntries(OPERATIONS.map((op) => [op, `","operation":"${op}","metadata":`]))

/** The last metadata written: sources give every record of a batch the same keys and mostly the same values. */
let lastMetadataKeys: string[] = []
let lastMetadataValues: string[] = []
let lastMetadataJson = '{}'

/**
 * Metadata as Go writes a `map[string]string` (keys sorted), HTML-escaped. Metadata equal to the
 * previous record's (same keys in the same order, same values) reuses its text; keys already in
 * order are not sorted.
 */
function metadataJson(metadata: { readonly [key: string]: string }): string {
  const keys = lastMetadataKeys
  const values = lastMetadataValues
  let i = 0
  let same = true
  let sorted = true
  let previous: string | undefined
  for (const key in metadata) {
    if (same && (i >= keys.length || keys[i] !== key || values[i] !== metadata[key])) same = false
    if (previous !== undefined && previous > key) sorted = false
    previous = key
    i++
  }
  if (same && i === keys.length) return lastMetadataJson
  const json = goEscape(sorted ? JSON.stringify(metadata) : JSON.stringify(metadata, Object.keys(metadata).sort()))
  lastMetadataKeys = Object.keys(metadata)
  lastMetadataValues = lastMetadataKeys.map((k) => metadata[k] as string)
  lastMetadataJson = json
  return json
}

function dataJson(data: Data): string {
  if (data === null || data === undefined) return 'null'
  if (Buffer.isBuffer(data)) return '"' + data.toString('base64') + '"'
  return goEscape(goJsonUnescaped(data))
}

/**
 * Serialises a record as one line of OpenCDC JSON (no newline), byte for byte as Conduit writes it
 * (`opencdc.Record.Bytes()`, Go's encoder): fields in the order position, operation, metadata, key,
 * payload; metadata and structured data with sorted keys at every depth; position and raw data as
 * base64; `<`, `>`, `&`, U+2028 and U+2029 escaped (`\u003c`, ...); missing data as `null`.
 *
 * Fast when the record is already in Go's form: keys already sorted cost one check per object
 * (no sort, no copy), metadata equal to the previous record's reuses its text, and escaping scans
 * only the metadata and structured data (never the base64 parts).
 */
export function recordToJson(record: PipelineRecord): string {
  // Only metadata and structured data can hold the characters Go escapes (base64 and operation
  // names cannot), so each is escaped on its own and the line is never scanned again. Constant
  // pieces are joined ahead of time where they meet (operation, a raw key, a missing before), so a
  // line is made of fewer pieces.
  const key = record.key
  const before = record.payload.before
  const head = '{"position":"' + record.position.toString('base64') + (OPERATION_JSON[record.operation] ?? '","operation":"' + record.operation + '","metadata":') + metadataJson(record.metadata)
  const middle =
    key !== null && Buffer.isBuffer(key)
      ? ',"key":"' + key.toString('base64') + (before === null ? '","payload":{"before":null,"after":' : '","payload":{"before":' + dataJson(before) + ',"after":')
      : ',"key":' + dataJson(key) + (before === null ? ',"payload":{"before":null,"after":' : ',"payload":{"before":' + dataJson(before) + ',"after":')
  return head + middle + dataJson(record.payload.after) + '}}'
}

/** The largest buffer a {@link JsonLinesEncoder} keeps for reuse. */
const MAX_SCRATCH = 32 * 1024 * 1024

/**
 * Encodes batches of records as OpenCDC JSON lines (each exactly {@link recordToJson}'s text,
 * followed by `\n`) into one buffer that it reuses from batch to batch (up to 32 MiB; a larger
 * batch gets a buffer of its own). The bytes returned are valid until the next `encode`. Used by the
 * file destination and by the benchmark's ceiling, so both pay the same for the same lines.
 *
 * It writes bytes, not a string per line: the constant pieces are copied from pre-encoded bytes,
 * position and short raw data are base64-encoded straight into the buffer, metadata equal to the
 * previous record's is copied from its bytes, and only structured data goes through a string (its
 * JSON). No line string is built, joined or flattened, which saves about a third of the time of
 * generating and encoding a generator record and most of the garbage.
 */
export class JsonLinesEncoder {
  #out: Buffer = Buffer.alloc(0)
  #metadataJson = ''
  #metadataBytes: Buffer = Buffer.alloc(0)

  /** The lines of `records` as UTF-8 bytes. */
  encode(records: readonly PipelineRecord[]): Buffer {
    let out = this.#out
    let at = 0
    for (let r = 0; r < records.length; r++) {
      const record = records[r] as PipelineRecord
      const metadata = metadataJson(record.metadata)
      if (metadata !== this.#metadataJson) {
        this.#metadataJson = metadata
        this.#metadataBytes = Buffer.from(metadata, 'utf8')
      }
      const metadataBytes = this.#metadataBytes
      const key = record.key
      const before = record.payload.before
      const rawKey = key !== null && Buffer.isBuffer(key)
      const keyJson = rawKey ? '' : dataJson(key)
      const beforeJson = before === null ? '' : dataJson(before)
      const afterJson = dataJson(record.payload.after)
      const operation = OPERATION_BYTES[record.operation] ?? Buffer.from(`","operation":"${record.operation}","metadata":`, 'utf8')
      // The most this line can take: constant pieces, base64 (4 bytes per 3), text (3 bytes per unit).
      const most = 96 + operation.length + base64Length(record.position) + metadataBytes.length + (rawKey ? base64Length(key) : keyJson.length * 3) + (beforeJson.length + afterJson.length) * 3
      if (at + most > out.length) {
        const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, at + most, 64 * 1024))
        out.copy(bigger, 0, 0, at)
        out = bigger
      }
      at = put(out, at, PIECE_POSITION)
      at = base64Into(out, at, record.position)
      at = put(out, at, operation)
      at = put(out, at, metadataBytes)
      if (rawKey) {
        at = put(out, at, PIECE_RAW_KEY)
        at = base64Into(out, at, key)
        at = put(out, at, before === null ? PIECE_RAW_KEY_NO_BEFORE : PIECE_RAW_KEY_BEFORE)
      } else {
        at = put(out, at, PIECE_KEY)
        at += out.write(keyJson, at, 'utf8')
        at = put(out, at, before === null ? PIECE_NO_BEFORE : PIECE_BEFORE)
      }
      if (before !== null) {
        at += out.write(beforeJson, at, 'utf8')
        at = put(out, at, PIECE_AFTER)
      }
      at += out.write(afterJson, at, 'utf8')
      at = put(out, at, PIECE_END)
    }
    // Keep the buffer for the next batch unless it grew past the limit.
    this.#out = out.length > MAX_SCRATCH ? Buffer.alloc(0) : out
    return out.subarray(0, at)
  }
}

/** Pre-encoded constant pieces of a line (see {@link recordToJson}). */
const PIECE_POSITION = Buffer.from('{"position":"', 'latin1')
const OPERATION_BYTES: { readonly [op: string]: Buffer } = Object.fromEntries(OPERATIONS.map((op) => [op, Buffer.from(`","operation":"${op}","metadata":`, 'latin1')]))
const PIECE_RAW_KEY = Buffer.from(',"key":"', 'latin1')
const PIECE_RAW_KEY_NO_BEFORE = Buffer.from('","payload":{"before":null,"after":', 'latin1')
const PIECE_RAW_KEY_BEFORE = Buffer.from('","payload":{"before":', 'latin1')
const PIECE_KEY = Buffer.from(',"key":', 'latin1')
const PIECE_NO_BEFORE = Buffer.from(',"payload":{"before":null,"after":', 'latin1')
const PIECE_BEFORE = Buffer.from(',"payload":{"before":', 'latin1')
const PIECE_AFTER = Buffer.from(',"after":', 'latin1')
const PIECE_END = Buffer.from('}}\n', 'latin1')
const BASE64_DIGITS = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1')
/** Raw data longer than this is base64-encoded by Node rather than byte by byte here. */
const SHORT_RAW = 48

function put(out: Buffer, at: number, piece: Buffer): number {
  out.set(piece, at)
  return at + piece.length
}

function base64Length(data: Buffer): number {
  return Math.ceil(data.length / 3) * 4
}

/** Writes `data` as base64 (with padding) into `out` at `at`; returns the offset after it. */
function base64Into(out: Buffer, at: number, data: Buffer): number {
  const n = data.length
  if (n > SHORT_RAW) return at + out.write(data.toString('base64'), at, 'latin1')
  let i = 0
  for (; i + 2 < n; i += 3) {
    const v = ((data[i] as number) << 16) | ((data[i + 1] as number) << 8) | (data[i + 2] as number)
    out[at++] = BASE64_DIGITS[v >> 18] as number
    out[at++] = BASE64_DIGITS[(v >> 12) & 63] as number
    out[at++] = BASE64_DIGITS[(v >> 6) & 63] as number
    out[at++] = BASE64_DIGITS[v & 63] as number
  }
  if (i < n) {
    const two = i + 1 < n
    const v = ((data[i] as number) << 16) | (two ? (data[i + 1] as number) << 8 : 0)
    out[at++] = BASE64_DIGITS[v >> 18] as number
    out[at++] = BASE64_DIGITS[(v >> 12) & 63] as number
    out[at++] = two ? (BASE64_DIGITS[(v >> 6) & 63] as number) : 0x3d
    out[at++] = 0x3d
  }
  return at
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function dataFromJsonValue(value: unknown, field: string): Data {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') {
    if (value.length % 4 !== 0 || !BASE64.test(value)) {
      throw new TributaryError('TRIB_CODEC', `OpenCDC record: ${field} is a string but not base64 raw data`)
    }
    return Buffer.from(value, 'base64')
  }
  if (typeof value === 'object' && !Array.isArray(value)) return value as StructuredData
  throw new TributaryError('TRIB_CODEC', `OpenCDC record: ${field} must be a base64 string, an object or null, got ${Array.isArray(value) ? 'an array' : typeof value}`)
}

/**
 * Reads a record from its parsed OpenCDC JSON value. Throws `TRIB_CODEC` naming the bad field.
 * Unknown operations, non-string metadata values and malformed base64 are errors, as in Conduit.
 */
export function recordFromJsonValue(value: unknown): PipelineRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TributaryError('TRIB_CODEC', 'OpenCDC record: expected a JSON object')
  }
  const v = value as { [k: string]: unknown }
  const operation = v.operation ?? 'create'
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) {
    throw new TributaryError('TRIB_CODEC', `OpenCDC record: operation ${JSON.stringify(operation)} is not one of ${OPERATIONS.join(', ')}`)
  }
  const metadata: { [key: string]: string } = {}
  if (v.metadata !== undefined && v.metadata !== null) {
    if (typeof v.metadata !== 'object' || Array.isArray(v.metadata)) throw new TributaryError('TRIB_CODEC', 'OpenCDC record: metadata must be an object of strings')
    for (const [k, m] of Object.entries(v.metadata)) {
      if (typeof m !== 'string') throw new TributaryError('TRIB_CODEC', `OpenCDC record: metadata ${JSON.stringify(k)} must be a string`)
      metadata[k] = m
    }
  }
  const position = dataFromJsonValue(v.position, 'position')
  if (position !== null && !Buffer.isBuffer(position)) throw new TributaryError('TRIB_CODEC', 'OpenCDC record: position must be a base64 string')
  const payload = (v.payload ?? {}) as { [k: string]: unknown }
  if (typeof payload !== 'object' || Array.isArray(payload)) throw new TributaryError('TRIB_CODEC', 'OpenCDC record: payload must be an object with before and after')
  return {
    position: position ?? Buffer.alloc(0),
    operation: operation as Operation,
    metadata,
    key: dataFromJsonValue(v.key, 'key'),
    payload: { before: dataFromJsonValue(payload.before, 'payload.before'), after: dataFromJsonValue(payload.after, 'payload.after') },
  }
}

/** Parses one line of OpenCDC JSON. Throws `TRIB_CODEC` for bad JSON or a bad field. */
export function recordFromJson(text: string | Buffer): PipelineRecord {
  let parsed: unknown
  try {
    parsed = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'))
  } catch (err) {
    throw new TributaryError('TRIB_CODEC', `OpenCDC record: not JSON (${(err as Error).message})`, { cause: err })
  }
  return recordFromJsonValue(parsed)
}

/**
 * Raw bytes of a key or payload part, as Conduit's `Data.Bytes()`: raw data as is, structured data
 * as Go's JSON (sorted keys, HTML-safe escaping), nothing as `null`.
 */
export function dataBytes(data: Data): Buffer | null {
  if (data === null || data === undefined) return null
  if (Buffer.isBuffer(data)) return data
  return Buffer.from(goEscape(goJsonUnescaped(data)))
}
