/**
 * Conduit's encoding processors: `json.decode` and `json.encode` (raw JSON ⇄ structured data) and
 * `base64.encode` and `base64.decode`.
 *
 * @example
 * ```yaml
 * processors:
 *   - { id: parse, plugin: json.decode, settings: { field: .Payload.After } }
 * ```
 * @module
 */
import { goJsonMarshal, goSprint, goTypeName, isGoMap } from '../go-format.ts'
import type { ProcessorPlugin } from '../processor.ts'
import type { PipelineRecord } from '../record.ts'
import { recordError } from '../reference.ts'
import { describeProcessor, perRecord, processorSettings, referenceSetting, requiredString, settingError } from './common.ts'

const fieldSettings = processorSettings({ field: requiredString('field') })
type FieldSettings = { field: string }

const KEY_OR_PAYLOAD = ['key', 'before', 'after'] as const

function jsonFieldReference(label: string, field: string, what: string) {
  const ref = referenceSetting(label, 'field', field, KEY_OR_PAYLOAD, `only fields under .Key and .Payload can be ${what}`)
  return ref
}

/** `json.decode`: parses the raw JSON (bytes or a string) in `field` into structured data. */
export const jsonDecode: ProcessorPlugin<FieldSettings> = {
  name: 'json.decode',
  summary: 'Decode raw JSON data into structured data.',
  settings: fieldSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'json.decode')
    const ref = jsonFieldReference(label, settings.field, 'decoded')
    return {
      process: perRecord(label, (record) => {
        const value = ref.get(record)
        let text: string
        if (Buffer.isBuffer(value)) text = value.toString('utf8')
        else if (typeof value === 'string') text = value
        else if (value === undefined || value === null || isGoMap(value)) return record
        else throw recordError(`${ref.text}: unexpected data type ${goTypeName(value)} (expected raw JSON)`)
        if (text.length === 0) return ref.set(record, null)
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch (err) {
          throw recordError(`${ref.text}: failed to unmarshal raw data as JSON: ${(err as Error).message}`, err)
        }
        if (ref.fields.length === 0 && !isGoMap(parsed) && typeof parsed !== 'string' && parsed !== null) {
          throw recordError(`${ref.text}: the JSON is ${Array.isArray(parsed) ? 'an array' : `${/^[aeiou]/.test(goTypeName(parsed)) ? 'an' : 'a'} ${goTypeName(parsed)}`}, but ${ref.text} takes an object, a string or null`)
        }
        return ref.set(record, parsed)
      }),
    }
  },
}

/** `json.encode`: replaces the value in `field` with its JSON text (Go's encoding: sorted keys). */
export const jsonEncode: ProcessorPlugin<FieldSettings> = {
  name: 'json.encode',
  summary: 'Encode a field as raw JSON data.',
  settings: fieldSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'json.encode')
    const ref = jsonFieldReference(label, settings.field, 'encoded')
    return {
      process: perRecord(label, (record) => {
        const value = ref.get(record)
        if (value === undefined || value === null) return record
        let text: string
        try {
          text = goJsonMarshal(value)
        } catch (err) {
          throw recordError(`${ref.text}: ${(err as Error).message}`, err)
        }
        return ref.set(record, text)
      }),
    }
  },
}

function base64Reference(label: string, field: string) {
  const ref = referenceSetting(label, 'field', field)
  if (ref.target === 'position') throw settingError(label, 'field', 'it is not allowed to encode or decode .Position')
  if (ref.target === 'record' || ref.target === 'payload' || (ref.target === 'metadata' && ref.fields.length === 0)) {
    throw settingError(label, 'field', `${JSON.stringify(field)} is not a field that holds bytes or a string`)
  }
  return ref
}

/** `base64.encode`: replaces the bytes, string, number or boolean in `field` with its base64 text. */
export const base64Encode: ProcessorPlugin<FieldSettings> = {
  name: 'base64.encode',
  summary: 'Encode a field to base64.',
  settings: fieldSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'base64.encode')
    const ref = base64Reference(label, settings.field)
    return {
      process: perRecord(label, (record: PipelineRecord) => {
        const value = ref.get(record)
        let bytes: Buffer
        if (Buffer.isBuffer(value)) bytes = value
        else if (typeof value === 'string') bytes = Buffer.from(value, 'utf8')
        else if (typeof value === 'number' || typeof value === 'boolean') bytes = Buffer.from(goSprint(value))
        else if (value === undefined || value === null) return record
        else throw recordError(`${ref.text}: unexpected data type ${goTypeName(value)} (base64.encode takes raw data, a string, a number or a boolean)`)
        return ref.set(record, bytes.toString('base64'))
      }),
    }
  },
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Decodes standard base64 strictly, as Go's `base64.StdEncoding` (padding required; CR and LF ignored). */
export function decodeBase64Strict(text: string): Buffer {
  const s = text.replace(/[\r\n]/g, '')
  if (!STRICT_BASE64.test(s)) {
    let at = s.search(/[^A-Za-z0-9+/=]/)
    if (at < 0) at = s.length - (s.length % 4 === 0 ? 1 : s.length % 4)
    throw recordError(`illegal base64 data at input byte ${Math.max(0, at)}`)
  }
  return Buffer.from(s, 'base64')
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** `base64.decode`: replaces the base64 text in `field` with the bytes it encodes. */
export const base64Decode: ProcessorPlugin<FieldSettings> = {
  name: 'base64.decode',
  summary: 'Decode a field from base64.',
  settings: fieldSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'base64.decode')
    const ref = base64Reference(label, settings.field)
    const nested = ref.fields.length > 0 && ref.target !== 'metadata'
    return {
      process: perRecord(label, (record) => {
        const value = ref.get(record)
        let text: string
        if (Buffer.isBuffer(value)) text = value.toString('latin1')
        else if (typeof value === 'string') text = value
        else if (value === undefined || value === null) return record
        else throw recordError(`${ref.text}: unexpected data type ${goTypeName(value)} (base64.decode takes raw data or a string)`)
        let decoded: Buffer
        try {
          decoded = decodeBase64Strict(text)
        } catch (err) {
          throw recordError(`${ref.text}: failed to decode the value: ${(err as Error).message}`, err)
        }
        if (ref.fields.length === 0) return ref.set(record, decoded)
        // A nested field or metadata value becomes a string when the bytes are UTF-8, as in Conduit;
        // other bytes stay bytes in structured data rather than being mangled.
        let asText: string | undefined
        try {
          asText = utf8.decode(decoded)
        } catch {
          if (!nested) throw recordError(`${ref.text}: the decoded bytes are not UTF-8 text, which metadata values must be`)
        }
        return ref.set(record, asText ?? decoded)
      }),
    }
  },
}
