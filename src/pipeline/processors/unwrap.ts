/**
 * Conduit's `unwrap.*` processors: a record that carries another record (an OpenCDC record, a
 * Debezium change event, a Kafka Connect message) in one of its fields is replaced by the record
 * it carries, keeping its own position so acknowledgements still reach the source.
 *
 * @example
 * ```yaml
 * processors:
 *   - { id: unwrap, plugin: unwrap.debezium, settings: { field: .Payload.After } }
 * ```
 * @module
 */
import { z } from 'zod'
import { goSprint, goTypeName, isGoMap } from '../go-format.ts'
import type { ProcessorPlugin } from '../processor.ts'
import { MetadataKeys, OPERATIONS, unixNanos, type Data, type Operation, type PipelineRecord, type StructuredData } from '../record.ts'
import { recordError, type RecordReference } from '../reference.ts'
import { decodeBase64Strict } from './codec.ts'
import { describeProcessor, perRecord, processorSettings, referenceSetting } from './common.ts'

const unwrapSettings = processorSettings({ field: z.string().default('.Payload.After') })
type UnwrapSettings = z.infer<typeof unwrapSettings>

/** The wrapped value as structured data: structured as is, raw bytes or a string parsed as a JSON object. */
function wrappedObject(ref: RecordReference, record: PipelineRecord, what: string): StructuredData {
  const value = ref.get(record)
  if (isGoMap(value)) return value
  if (Buffer.isBuffer(value) || typeof value === 'string') {
    let parsed: unknown
    try {
      parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'))
    } catch (err) {
      throw recordError(`${ref.text}: failed to unmarshal ${what} from ${typeof value === 'string' ? 'a string' : 'raw data'} as JSON: ${(err as Error).message}`, err)
    }
    if (!isGoMap(parsed)) throw recordError(`${ref.text}: the JSON is not an object, so it cannot hold ${what}`)
    return parsed
  }
  if (value === undefined || value === null) throw recordError(`${ref.text}: the field to unwrap is nil`)
  throw recordError(`${ref.text}: unexpected data type ${goTypeName(value)}`)
}

// ---------------------------------------------------------------------------------------------
// unwrap.opencdc

function opencdcData(container: StructuredData, key: string, path: string): Data {
  const v = container[key]
  if (v === undefined || v === null) return null
  if (isGoMap(v)) return v
  if (typeof v === 'string') {
    try {
      return decodeBase64Strict(v)
    } catch (err) {
      throw recordError(`${path} is a string but not base64 raw data: ${(err as Error).message}`, err)
    }
  }
  throw recordError(`${path}: expected structured data or a base64 string, got ${goTypeName(v)}`)
}

function unwrapOpenCdc(ref: RecordReference, record: PipelineRecord): PipelineRecord {
  const data = wrappedObject(ref, record, 'an OpenCDC record')
  const where = (f: string) => `${ref.text}.${f}`
  if (!('operation' in data)) throw recordError(`${ref.text}: the wrapped record has no operation`)
  const op = data.operation
  if (typeof op !== 'string' || !(OPERATIONS as readonly string[]).includes(op)) {
    throw recordError(`${where('operation')}: invalid operation ${typeof op === 'string' ? JSON.stringify(op) : goTypeName(op)} (expected one of ${OPERATIONS.join(', ')})`)
  }
  if (!('metadata' in data)) throw recordError(`${ref.text}: the wrapped record has no metadata`)
  const md = data.metadata
  if (!isGoMap(md)) throw recordError(`${where('metadata')}: expected a map, got ${goTypeName(md)}`)
  const metadata: { [k: string]: string } = {}
  for (const [k, v] of Object.entries(md)) metadata[k] = typeof v === 'string' ? v : goSprint(v)
  if (!('payload' in data)) throw recordError(`${ref.text}: the wrapped record has no payload`)
  const payload = data.payload
  if (!isGoMap(payload)) throw recordError(`${where('payload')}: expected a map with before and after, got ${goTypeName(payload)}`)
  return {
    position: record.position,
    operation: op as Operation,
    metadata,
    key: opencdcData(data, 'key', where('key')),
    payload: { before: opencdcData(payload, 'before', where('payload.before')), after: opencdcData(payload, 'after', where('payload.after')) },
  }
}

/** `unwrap.opencdc`: replaces the record with the OpenCDC record in `field` (default `.Payload.After`), keeping the position. */
export const unwrapOpencdc: ProcessorPlugin<UnwrapSettings> = {
  name: 'unwrap.opencdc',
  summary: 'Unwrap an OpenCDC record saved in one of the record fields.',
  settings: unwrapSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'unwrap.opencdc')
    const ref = referenceSetting(label, 'field', settings.field)
    return { process: perRecord(label, (record) => unwrapOpenCdc(ref, record)) }
  },
}

// ---------------------------------------------------------------------------------------------
// unwrap.debezium and unwrap.kafkaconnect

/** A key that wraps its value Kafka Connect style (`{"payload": …, "schema": …}`) is unwrapped. */
function unwrapKey(key: Data): Data {
  let structured: StructuredData | undefined
  if (Buffer.isBuffer(key)) {
    try {
      const parsed: unknown = JSON.parse(key.toString('utf8'))
      if (isGoMap(parsed)) structured = parsed
    } catch {
      return key
    }
  } else if (isGoMap(key)) structured = key
  if (structured === undefined || !Object.hasOwn(structured, 'payload')) return key
  const payload = structured.payload
  if (isGoMap(payload)) return payload
  return Buffer.from(goSprint(payload ?? null))
}

const DEBEZIUM_OPERATIONS: { [op: string]: Operation } = { c: 'create', u: 'update', d: 'delete', r: 'snapshot', $unset: 'update' }

function debeziumData(value: unknown, field: string): Data {
  if (value === undefined || value === null) return null
  if (isGoMap(value)) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  throw recordError(`failed to parse field ${field}: expected a map or a string, got ${goTypeName(value)}`)
}

/** Flattens nested values into dotted metadata keys; strings as they are, other values as Go prints them. */
function flatten(prefix: string, value: unknown, out: { [k: string]: string }): void {
  if (value === null || value === undefined) return
  if (isGoMap(value)) {
    const p = prefix === '' ? '' : `${prefix}.`
    for (const [k, v] of Object.entries(value)) flatten(p + k, v, out)
    return
  }
  out[prefix] = typeof value === 'string' ? value : goSprint(value)
}

function unwrapDebezium(ref: RecordReference, record: PipelineRecord): PipelineRecord {
  const event = wrappedObject(ref, record, 'a Debezium record')
  const dbz = event.payload
  if (!isGoMap(dbz)) throw recordError(`${ref.text}: the data to unwrap doesn't contain a payload field`)
  const missing = ['after', 'source', 'op'].filter((f) => !Object.hasOwn(dbz, f))
  if (missing.length > 0) throw recordError(`${ref.text}: invalid Debezium record: ${missing.map((f) => `the "${f}" field is missing from the debezium payload`).join('; ')}`)
  const before = debeziumData(dbz.before, 'before')
  const after = debeziumData(dbz.after, 'after')
  const op = dbz.op
  if (typeof op !== 'string') throw recordError(`${ref.text}: the Debezium operation is not a string (${goTypeName(op)})`)
  const operation = DEBEZIUM_OPERATIONS[op]
  if (operation === undefined) throw recordError(`${ref.text}: ${JSON.stringify(op)} is an invalid Debezium operation (expected c, u, d, r or $unset)`)
  const metadata: { [k: string]: string } = { ...record.metadata }
  let source: { [k: string]: string } = {}
  for (const [field, value] of Object.entries(dbz)) {
    if (field === 'after' || field === 'before' || field === 'op') continue
    if (field === 'ts_ms') {
      if (typeof value !== 'number') throw recordError(`${ref.text}: ts_ms is not a number (${goTypeName(value)})`)
      metadata[MetadataKeys.readAt] = unixNanos(value)
    } else if (field === 'source') {
      source = {}
      flatten('', value, source)
    } else {
      flatten(`debezium.${field}`, value, metadata)
    }
  }
  Object.assign(metadata, source)
  return { position: record.position, operation, metadata, key: unwrapKey(record.key), payload: { before, after } }
}

const payloadOnlySettings = processorSettings({ field: z.string().default('.Payload.After') })

/** `unwrap.debezium`: replaces the record with the Debezium change event in `field` (default `.Payload.After`). */
export const unwrapDebeziumPlugin: ProcessorPlugin<UnwrapSettings> = {
  name: 'unwrap.debezium',
  summary: 'Unwrap a Debezium record from the input OpenCDC record.',
  settings: payloadOnlySettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'unwrap.debezium')
    const ref = referenceSetting(label, 'field', settings.field, ['payload', 'before', 'after'], 'the Debezium record must be under .Payload')
    return { process: perRecord(label, (record) => unwrapDebezium(ref, record)) }
  },
}

function unwrapKafkaConnect(ref: RecordReference, record: PipelineRecord): PipelineRecord {
  const message = wrappedObject(ref, record, 'a Kafka Connect record')
  const payload = message.payload
  if (!isGoMap(payload)) throw recordError(`${ref.text}: the referenced field doesn't contain a payload field`)
  return { position: record.position, operation: 'create', metadata: record.metadata, key: unwrapKey(record.key), payload: { before: null, after: payload } }
}

/** `unwrap.kafkaconnect`: replaces the payload with the Kafka Connect message's payload in `field`. */
export const unwrapKafkaConnectPlugin: ProcessorPlugin<UnwrapSettings> = {
  name: 'unwrap.kafkaconnect',
  summary: 'Unwrap a Kafka Connect record from an OpenCDC record.',
  settings: payloadOnlySettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'unwrap.kafkaconnect')
    const ref = referenceSetting(label, 'field', settings.field, ['payload', 'before', 'after'], 'the Kafka Connect record must be under .Payload')
    return { process: perRecord(label, (record) => unwrapKafkaConnect(ref, record)) }
  },
}
