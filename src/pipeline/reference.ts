/**
 * Record references: Conduit's way of naming a part of a record in processor settings
 * (`.Key`, `.Metadata["opencdc.collection"]`, `.Payload.After.user.name`), parsed once and then used
 * to read, set, delete or rename that part of many records.
 *
 * The rules are those of Conduit's processor SDK:
 * - a reference starts at the record (`.` or `$`) and walks `Position`, `Operation`, `Metadata`,
 *   `Key`, `Payload` (`Before`, `After`); below `.Metadata` one key, below `.Key` and the payload
 *   any depth of nested fields, written `.name` or `["any name"]`. The first letters of the
 *   top-level names may be lower case (`.payload.after`), as Conduit allows.
 * - `.Position` is read-only; `.Operation` takes `create`, `update`, `delete` or `snapshot`;
 *   metadata values are strings (setting nil deletes the key); `.Key` and `.Payload.*` take raw
 *   bytes (a string becomes raw bytes), structured data (an object) or nil.
 * - nested fields need structured data: reading `.Payload.After.x` of raw data is an error; setting
 *   one creates missing or nil intermediate objects (and turns a nil payload into structured data).
 * - only nested fields and metadata keys can be renamed; renaming onto an existing name is an error.
 *
 * Records are never changed in place: `set`, `delete` and `rename` return a new record that shares
 * every untouched part with the old one (the objects on the changed path are copied), so a record
 * that is also held elsewhere (another destination, a retry) is safe and no deep copy is needed.
 *
 * @example
 * ```ts
 * const name = parseReference('.Payload.After.user.name', 'processors[0].settings.field')
 * name.get(rec)                  // 'Ada' (or undefined when missing)
 * const out = name.set(rec, 'Bob') // a new record; rec is unchanged
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { goTypeName, isGoMap } from './go-format.ts'
import { OPERATIONS, type Data, type Operation, type PipelineRecord, type StructuredData } from './record.ts'

/** The part of the record a reference starts from. */
export type ReferenceTarget = 'record' | 'position' | 'operation' | 'metadata' | 'key' | 'payload' | 'before' | 'after'

/** A parsed reference to one part of a record. Errors from its methods are `TRIB_PIPELINE_RECORD`. */
export interface RecordReference {
  /** The reference as written in the settings (trimmed). */
  readonly text: string
  /** The record part it starts at. */
  readonly target: ReferenceTarget
  /** The fields below the target: one metadata key, or the nested field names under a data part. */
  readonly fields: readonly string[]
  /** The value, or `undefined` when a nested field or metadata key does not exist. */
  get(record: PipelineRecord): unknown
  /** A copy of `record` with the value set. */
  set(record: PipelineRecord, value: unknown): PipelineRecord
  /** A copy of `record` without the value (a data part becomes nil, metadata becomes empty). */
  delete(record: PipelineRecord): PipelineRecord
  /** A copy of `record` with the field renamed to `name` (nested fields and metadata keys only). */
  rename(record: PipelineRecord, name: string): PipelineRecord
}

/** How a record's position is shown in messages: its text when printable, otherwise base64. */
export function describePosition(position: Buffer): string {
  if (position.length === 0) return '(none)'
  const text = position.toString('utf8')
  if (!/[\u0000-\u001f\u007f\ufffd]/.test(text) && text.length <= 120) return JSON.stringify(text)
  return `base64:${position.toString('base64').slice(0, 160)}`
}

/** A `TRIB_PIPELINE_RECORD` error for a problem with one record's data. */
export function recordError(message: string, cause?: unknown): TributaryError {
  return new TributaryError('TRIB_PIPELINE_RECORD', message, cause === undefined ? {} : { cause })
}

const TOP_LEVEL_ALIASES: readonly (readonly [string, string])[] = [
  ['.payload', '.Payload'],
  ['.key', '.Key'],
  ['.metadata', '.Metadata'],
  ['.position', '.Position'],
  ['.operation', '.Operation'],
]

function canonicalPrefix(input: string): string {
  let s = input
  for (const [alias, name] of TOP_LEVEL_ALIASES) {
    if (s.startsWith(alias)) {
      s = name + s.slice(alias.length)
      break
    }
  }
  if (s.startsWith('.Payload.before')) s = '.Payload.Before' + s.slice('.Payload.before'.length)
  else if (s.startsWith('.Payload.after')) s = '.Payload.After' + s.slice('.Payload.after'.length)
  return s
}

const FIELD_CHAR = /[\p{L}\p{N}_]/u

/** Splits a reference into its field names; throws a message (without context) when it is malformed. */
function lexFields(input: string): string[] {
  const fields: string[] = []
  let i = 0
  if (input.startsWith('$')) {
    i = 1
    if (i < input.length && input[i] !== '.' && input[i] !== '[') throw new Error(`bad character ${JSON.stringify(input[i])} after "$"`)
  }
  if (input.slice(i) === '.') return fields
  while (i < input.length) {
    const c = input[i] as string
    if (c === '.') {
      const next = input[i + 1]
      if (next !== undefined && next >= '0' && next <= '9') throw new Error(`a field name cannot start with the digit ${JSON.stringify(next)}`)
      let j = i + 1
      while (j < input.length && FIELD_CHAR.test(input[j] as string)) j++
      if (j === i + 1) throw new Error(`empty field name at offset ${i}`)
      if (j < input.length && !'.[] \t\r\n'.includes(input[j] as string)) throw new Error(`bad character ${JSON.stringify(input[j])} in field name (use ["…"] for names with other characters)`)
      fields.push(input.slice(i + 1, j))
      i = j
    } else if (c === '[') {
      if (fields.length === 0) throw new Error('a reference cannot start with ["…"]; start it with .Metadata, .Key or .Payload')
      if (input[i + 1] !== '"') throw new Error(`expected a quoted name after "[" at offset ${i}`)
      const end = input.indexOf('"', i + 2)
      if (end < 0) throw new Error('unterminated quoted string')
      if (input[end + 1] !== ']') throw new Error(`expected "]" after the quoted name at offset ${end + 1}`)
      fields.push(input.slice(i + 2, end))
      i = end + 2
    } else {
      throw new Error(`unexpected character ${JSON.stringify(c)} at offset ${i}`)
    }
  }
  return fields
}

function resolveTarget(fields: readonly string[]): { target: ReferenceTarget; rest: string[] } {
  if (fields.length === 0) return { target: 'record', rest: [] }
  const [first, ...rest] = fields as [string, ...string[]]
  switch (first) {
    case 'Position':
      if (rest.length > 0) throw new Error('.Position is not structured data; nothing can follow it')
      return { target: 'position', rest }
    case 'Operation':
      if (rest.length > 0) throw new Error('.Operation is not structured data; nothing can follow it')
      return { target: 'operation', rest }
    case 'Metadata':
      if (rest.length > 1) throw new Error('metadata values are strings, not structured data; use .Metadata.key or .Metadata["key"]')
      return { target: 'metadata', rest }
    case 'Key':
      return { target: 'key', rest }
    case 'Payload': {
      if (rest.length === 0) return { target: 'payload', rest }
      const [part, ...nested] = rest as [string, ...string[]]
      if (part === 'Before') return { target: 'before', rest: nested }
      if (part === 'After') return { target: 'after', rest: nested }
      throw new Error(`unexpected field ${JSON.stringify(part)} under .Payload (expected Before or After)`)
    }
    default:
      throw new Error(`unexpected field ${JSON.stringify(first)} (expected Position, Operation, Metadata, Key or Payload)`)
  }
}

/**
 * Parses a reference. `where` names the setting for the error (`processors[0].settings.field`);
 * a malformed reference is a `TRIB_PIPELINE_CONFIG` error naming it and the reference.
 */
export function parseReference(input: string, where: string): RecordReference {
  const text = input.trim()
  let parsed: { target: ReferenceTarget; rest: string[] }
  try {
    if (text === '') throw new Error('it is empty')
    parsed = resolveTarget(lexFields(canonicalPrefix(text)))
  } catch (err) {
    throw new TributaryError('TRIB_PIPELINE_CONFIG', `${where}: invalid record reference ${JSON.stringify(input)}: ${(err as Error).message}`)
  }
  return makeReference(text, parsed.target, parsed.rest)
}

const DATA_NAMES: { [t in ReferenceTarget]: string } = {
  record: 'the record',
  position: '.Position',
  operation: '.Operation',
  metadata: '.Metadata',
  key: '.Key',
  payload: '.Payload',
  before: '.Payload.Before',
  after: '.Payload.After',
}

function getData(record: PipelineRecord, target: 'key' | 'before' | 'after'): Data {
  return target === 'key' ? record.key : target === 'before' ? record.payload.before : record.payload.after
}

function withData(record: PipelineRecord, target: 'key' | 'before' | 'after', data: Data): PipelineRecord {
  if (target === 'key') return { ...record, key: data }
  if (target === 'before') return { ...record, payload: { before: data, after: record.payload.after } }
  return { ...record, payload: { before: record.payload.before, after: data } }
}

function toData(value: unknown, name: string): Data {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (isGoMap(value)) return value as StructuredData
  throw recordError(`cannot set ${name} to a value of type ${goTypeName(value)} (it takes raw data, a string, structured data or nil)`)
}

function pathName(target: ReferenceTarget, fields: readonly string[], n: number): string {
  let s = DATA_NAMES[target]
  for (let i = 0; i < n; i++) s += /^[\p{L}_][\p{L}\p{N}_]*$/u.test(fields[i] as string) ? `.${fields[i]}` : `[${JSON.stringify(fields[i])}]`
  return s
}

function makeReference(text: string, target: ReferenceTarget, fields: readonly string[]): RecordReference {
  if (target === 'key' || target === 'before' || target === 'after') {
    return fields.length === 0 ? dataReference(text, target) : nestedReference(text, target, fields)
  }
  if (target === 'metadata') return fields.length === 0 ? metadataReference(text) : metadataFieldReference(text, fields[0] as string)
  const immutable = (what: string) => (): never => {
    throw recordError(`cannot ${what} ${DATA_NAMES[target]}: it is immutable`)
  }
  switch (target) {
    case 'record':
      return { text, target, fields, get: (r) => r, set: immutable('set'), delete: immutable('delete'), rename: immutable('rename') }
    case 'position':
      return { text, target, fields, get: (r) => r.position, set: immutable('set'), delete: immutable('delete'), rename: immutable('rename') }
    case 'operation':
      return {
        text,
        target,
        fields,
        get: (r) => r.operation,
        set: (r, value) => ({ ...r, operation: toOperation(value) }),
        delete: immutable('delete'),
        rename: immutable('rename'),
      }
    default:
      return payloadReference(text)
  }
}

function toOperation(value: unknown): Operation {
  if (typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value)) return value as Operation
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= OPERATIONS.length) return OPERATIONS[value - 1] as Operation
  throw recordError(`cannot set .Operation to ${typeof value === 'string' ? JSON.stringify(value) : goTypeName(value)} (expected one of ${OPERATIONS.join(', ')})`)
}

function payloadReference(text: string): RecordReference {
  return {
    text,
    target: 'payload',
    fields: [],
    get: (r) => r.payload,
    set: (r, value) => {
      if (!isGoMap(value) || !('before' in value || 'after' in value)) throw recordError(`cannot set .Payload to a value of type ${goTypeName(value)} (it takes {before, after})`)
      return { ...r, payload: { before: toData(value.before, '.Payload.Before'), after: toData(value.after, '.Payload.After') } }
    },
    delete: (r) => ({ ...r, payload: { before: null, after: null } }),
    rename: () => {
      throw recordError('cannot rename .Payload: it is immutable')
    },
  }
}

function metadataReference(text: string): RecordReference {
  return {
    text,
    target: 'metadata',
    fields: [],
    get: (r) => r.metadata,
    set: (r, value) => {
      if (value === null || value === undefined) return { ...r, metadata: {} }
      if (!isGoMap(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw recordError(`cannot set .Metadata to a value of type ${goTypeName(value)} (it takes a map of strings)`)
      }
      return { ...r, metadata: { ...(value as { [k: string]: string }) } }
    },
    delete: (r) => ({ ...r, metadata: {} }),
    rename: () => {
      throw recordError('cannot rename .Metadata: it is immutable')
    },
  }
}

function metadataFieldReference(text: string, key: string): RecordReference {
  const without = (r: PipelineRecord): PipelineRecord => {
    if (!Object.hasOwn(r.metadata, key)) return r
    const metadata = { ...r.metadata }
    delete metadata[key]
    return { ...r, metadata }
  }
  return {
    text,
    target: 'metadata',
    fields: [key],
    get: (r) => (Object.hasOwn(r.metadata, key) ? r.metadata[key] : undefined),
    set: (r, value) => {
      if (value === null || value === undefined) return without(r)
      if (typeof value !== 'string') throw recordError(`cannot set ${text} to a value of type ${goTypeName(value)} (metadata values are strings)`)
      return { ...r, metadata: { ...r.metadata, [key]: value } }
    },
    delete: without,
    rename: (r, name) => {
      if (!Object.hasOwn(r.metadata, key)) return r
      if (Object.hasOwn(r.metadata, name)) throw recordError(`cannot rename ${text} to ${JSON.stringify(name)}: that metadata key exists`)
      return { ...r, metadata: renameKey(r.metadata, key, name) as { [k: string]: string } }
    },
  }
}

function dataReference(text: string, target: 'key' | 'before' | 'after'): RecordReference {
  const name = DATA_NAMES[target]
  return {
    text,
    target,
    fields: [],
    get: (r) => getData(r, target),
    set: (r, value) => withData(r, target, toData(value, name)),
    delete: (r) => withData(r, target, null),
    rename: () => {
      throw recordError(`cannot rename ${name}: it is immutable`)
    },
  }
}

/** A copy of `obj` with `from` renamed to `to`, keeping the key order. */
function renameKey(obj: { [k: string]: unknown }, from: string, to: string): { [k: string]: unknown } {
  const out: { [k: string]: unknown } = {}
  for (const k of Object.keys(obj)) out[k === from ? to : k] = obj[k]
  return out
}

function nestedReference(text: string, target: 'key' | 'before' | 'after', fields: readonly string[]): RecordReference {
  const last = fields.length - 1
  const notStructured = (n: number, value: unknown): TributaryError =>
    recordError(`${text}: ${pathName(target, fields, n)} does not contain structured data (it is ${describeKind(value)})`)

  /** The object holding the last field, or undefined when a part of the path is missing or nil. */
  const parentOf = (data: Data): StructuredData | undefined => {
    if (data === null) return undefined
    if (!isGoMap(data)) throw notStructured(0, data)
    let obj: StructuredData = data
    for (let i = 0; i < last; i++) {
      const child = obj[fields[i] as string]
      if (child === undefined || child === null) return undefined
      if (!isGoMap(child)) throw notStructured(i + 1, child)
      obj = child
    }
    return obj
  }

  /** Copies the path down to the parent, applying `change` to the parent; missing parts are created when `create`. */
  const update = (data: StructuredData, i: number, create: boolean, change: (parent: StructuredData) => StructuredData | undefined): StructuredData | undefined => {
    if (i === last) return change(data)
    const field = fields[i] as string
    const child = data[field]
    let next: StructuredData
    if (child === undefined || child === null) {
      if (!create) return undefined
      next = {}
    } else if (isGoMap(child)) next = child
    else throw notStructured(i + 1, child)
    const changed = update(next, i + 1, create, change)
    if (changed === undefined) return undefined
    return { ...data, [field]: changed }
  }

  const rootOf = (r: PipelineRecord, create: boolean): StructuredData | undefined => {
    const data = getData(r, target)
    if (data === null) return create ? {} : undefined
    if (!isGoMap(data)) throw notStructured(0, data)
    return data
  }

  const field = fields[last] as string
  return {
    text,
    target,
    fields,
    get: (r) => {
      const parent = parentOf(getData(r, target))
      return parent === undefined ? undefined : parent[field]
    },
    set: (r, value) => {
      const root = rootOf(r, true) as StructuredData
      const changed = update(root, 0, true, (parent) => ({ ...parent, [field]: value === undefined ? null : value }))
      return withData(r, target, changed as StructuredData)
    },
    delete: (r) => {
      const root = rootOf(r, false)
      if (root === undefined) return r
      const changed = update(root, 0, false, (parent) => {
        if (!Object.hasOwn(parent, field)) return undefined
        const copy = { ...parent }
        delete copy[field]
        return copy
      })
      return changed === undefined ? r : withData(r, target, changed)
    },
    rename: (r, name) => {
      const root = rootOf(r, false)
      if (root === undefined) return r
      const changed = update(root, 0, false, (parent) => {
        if (!Object.hasOwn(parent, field)) return undefined
        if (Object.hasOwn(parent, name)) throw recordError(`cannot rename ${text} to ${JSON.stringify(name)}: that field exists`)
        return renameKey(parent, field, name)
      })
      return changed === undefined ? r : withData(r, target, changed)
    },
  }
}

function describeKind(value: unknown): string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return 'raw data'
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'nil'
  const t = goTypeName(value)
  return `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`
}
