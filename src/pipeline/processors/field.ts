/**
 * Conduit's `field.*` processors: `field.set` (a template's output into a field), `field.exclude`
 * (remove fields), `field.rename` (rename nested fields and metadata keys) and `field.convert`
 * (string, int, float, bool or time).
 *
 * @example
 * ```yaml
 * processors:
 *   - id: mark
 *     plugin: field.set
 *     settings: { field: .Payload.After.postgres, value: '{{ eq .Metadata.table "postgres" }}' }
 * ```
 * @module
 */
import { z } from 'zod'
import { goParseBool, goSprint, isGoMap } from '../go-format.ts'
import type { ProcessorPlugin } from '../processor.ts'
import { recordError, type RecordReference } from '../reference.ts'
import { compileTemplate } from '../template.ts'
import { describeProcessor, perRecord, processorSettings, referenceSetting, requiredString, settingError } from './common.ts'

const setSettings = processorSettings({ field: requiredString('field'), value: requiredString('value') })

/** `field.set`: sets `field` to the output of the `value` template (a string; `.Operation` takes an operation name). */
export const fieldSet: ProcessorPlugin<z.infer<typeof setSettings>> = {
  name: 'field.set',
  summary: 'Set the value of a certain field (a Go template over the record).',
  settings: setSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'field.set')
    const ref = referenceSetting(label, 'field', settings.field)
    if (ref.target === 'position') throw settingError(label, 'field', 'it is not allowed to set .Position')
    if (ref.fields.length === 0 && (ref.target === 'record' || ref.target === 'payload' || ref.target === 'metadata')) {
      throw settingError(label, 'field', `${JSON.stringify(settings.field)} cannot take the template's text; set a metadata key, .Key, a payload side or a field inside them`)
    }
    const value = compileTemplate(settings.value, `${label}: setting "value"`)
    return { process: perRecord(label, (record) => ref.set(record, value(record))) }
  },
}

/** Splits a comma-separated list setting (Conduit's `[]string` settings). */
function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

const excludeSettings = processorSettings({ fields: requiredString('fields') })

/** `field.exclude`: removes each of `fields` (a comma-separated list of references). */
export const fieldExclude: ProcessorPlugin<z.infer<typeof excludeSettings>> = {
  name: 'field.exclude',
  summary: 'Remove a subset of fields from the record.',
  settings: excludeSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'field.exclude')
    const refs = list(settings.fields).map((f) => {
      const ref = referenceSetting(label, 'fields', f)
      if (ref.target === 'position' || ref.target === 'operation' || ref.target === 'record') {
        throw settingError(label, 'fields', `it is not allowed to exclude ${JSON.stringify(f)} (.Position and .Operation cannot be excluded)`)
      }
      return ref
    })
    if (refs.length === 0) throw settingError(label, 'fields', 'lists no field')
    return {
      process: perRecord(label, (record) => {
        let out = record
        for (const ref of refs) out = ref.delete(out)
        return out
      }),
    }
  },
}

const renameSettings = processorSettings({ mapping: requiredString('mapping') })

/** `field.rename`: renames fields as `mapping` says (`.Metadata.key:id,.Payload.After.foo:bar`). */
export const fieldRename: ProcessorPlugin<z.infer<typeof renameSettings>> = {
  name: 'field.rename',
  summary: 'Rename a group of fields.',
  settings: renameSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'field.rename')
    const pairs: [RecordReference, string][] = list(settings.mapping).map((pair) => {
      const parts = pair.split(':')
      if (parts.length !== 2) {
        throw settingError(label, 'mapping', `${JSON.stringify(pair)} is not "reference:newName"; the setting is a comma-separated list such as .Metadata.key:id,.Payload.After.foo:bar`)
      }
      const from = (parts[0] as string).trim()
      const to = (parts[1] as string).trim()
      const ref = referenceSetting(label, 'mapping', from)
      if (ref.fields.length === 0) throw settingError(label, 'mapping', `cannot rename the top-level field ${JSON.stringify(from)}`)
      if (to === '') throw settingError(label, 'mapping', `cannot rename ${JSON.stringify(from)} to an empty name`)
      return [ref, to]
    })
    if (pairs.length === 0) throw settingError(label, 'mapping', 'lists no field')
    return {
      process: perRecord(label, (record) => {
        let out = record
        for (const [ref, to] of pairs) out = ref.rename(out, to)
        return out
      }),
    }
  },
}

/** The types `field.convert` converts to. */
export const CONVERT_TYPES = ['string', 'int', 'float', 'bool', 'time'] as const

const convertSettings = processorSettings({
  field: requiredString('field'),
  type: z.enum(CONVERT_TYPES, { error: `type must be one of ${CONVERT_TYPES.join(', ')}` }),
})

/** A number as Go's `strconv.FormatFloat(f, 'f', -1, 64)` prints it: shortest digits, never an exponent. */
function formatFixed(n: number): string {
  const s = String(n)
  if (!s.includes('e')) return s
  if (Math.abs(n) >= 1) return BigInt(n).toString()
  return n.toFixed(20).replace(/0+$/, '')
}

/** The text `field.convert` parses (Conduit's `toString`). */
function convertInput(value: unknown, type: string): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (typeof value === 'string') return value
  if (typeof value === 'number') return formatFixed(value)
  if (typeof value === 'boolean') return type === 'int' || type === 'float' ? (value ? '1' : '0') : String(value)
  return goSprint(value)
}

const INT = /^[+-]?\d+$/
const FLOAT = /^[+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:inf|infinity)$/i

/** Unix nanoseconds as RFC 3339 with nanoseconds (Go's `time.Time` in JSON), in UTC. */
function unixNanosToRfc3339(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n - (nanos < 0n && nanos % 1_000_000_000n !== 0n ? 1n : 0n)
  const frac = nanos - seconds * 1_000_000_000n
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19)
  const fraction = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`
  return `${base}${fraction}Z`
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

function convert(text: string, type: (typeof CONVERT_TYPES)[number]): unknown {
  switch (type) {
    case 'string':
      return text
    case 'int': {
      if (!INT.test(text)) throw recordError(`strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`)
      const big = BigInt(text)
      if (big > 9223372036854775807n || big < -9223372036854775808n) throw recordError(`strconv.Atoi: parsing ${JSON.stringify(text)}: value out of range`)
      return Number(big)
    }
    case 'float': {
      if (!FLOAT.test(text)) throw recordError(`strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`)
      const lower = text.toLowerCase().replace(/^\+/, '')
      if (lower === 'inf' || lower === 'infinity') return Infinity
      if (lower === '-inf' || lower === '-infinity') return -Infinity
      return Number(text.replace(/_/g, ''))
    }
    case 'bool': {
      const b = goParseBool(text)
      if (b === undefined) throw recordError(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`)
      return b
    }
    case 'time':
      if (INT.test(text)) return unixNanosToRfc3339(BigInt(text))
      if (!RFC3339.test(text) || Number.isNaN(Date.parse(text))) {
        throw recordError(`parsing time ${JSON.stringify(text)}: not unix nanoseconds or an RFC 3339 time`)
      }
      return text
  }
}

/** `field.convert`: converts a structured field under `.Key` or `.Payload` to `type`. */
export const fieldConvert: ProcessorPlugin<z.infer<typeof convertSettings>> = {
  name: 'field.convert',
  summary: 'Convert the type of a field (string, int, float, bool, time).',
  settings: convertSettings,
  create(settings, ctx) {
    const label = describeProcessor(ctx, 'field.convert')
    const ref = referenceSetting(label, 'field', settings.field, ['key', 'before', 'after'], 'only fields under .Key and .Payload can be converted')
    if (ref.fields.length === 0) throw settingError(label, 'field', `${JSON.stringify(settings.field)} is not allowed: name a field inside structured data (.Key.id, .Payload.After.n)`)
    const type = settings.type
    return {
      process: perRecord(label, (record) => {
        const value = ref.get(record)
        if (value === undefined) throw recordError(`${ref.text} does not exist`)
        if (isGoMap(value) || Array.isArray(value)) throw recordError(`${ref.text} is structured data, which cannot be converted to ${type}`)
        return ref.set(record, convert(convertInput(value, type), type))
      }),
    }
  },
}
