/**
 * What the builtin processors share: settings helpers that read Conduit's string settings
 * (numbers, booleans and Go durations written as text), the `sdk.schema.*` settings every Conduit
 * processor accepts, and the per-record loop that turns a thrown error into a nack naming the
 * processor and the record's position.
 *
 * @example
 * ```ts
 * const settings = processorSettings({ field: requiredString('field') })
 * const run = perRecord(describeProcessor(ctx, 'json.decode'), (rec) => decode(rec))
 * ```
 * @module
 */
import { z, type ZodType } from 'zod'
import { TributaryError } from '../../core/errors.ts'
import { errorRecord, type ProcessedRecord, type ProcessorContext } from '../processor.ts'
import type { PipelineRecord } from '../record.ts'
import { describePosition, parseReference, type RecordReference, type ReferenceTarget } from '../reference.ts'

/** A required, non-blank string setting (kept as written). */
export function requiredString(name: string): ZodType<string> {
  return z.string({ error: `${name} is required` }).refine((s) => s.trim() !== '', `${name} is required`)
}

/** A setting read as a number (Conduit settings are strings). */
export function numberSetting(name: string): z.ZodCoercedNumber {
  return z.coerce.number({ error: `${name} must be a number` })
}

/** Go's `strconv.ParseBool` as a setting: `true/false/1/0/t/f/...`. */
export function boolSetting(name: string): ZodType<boolean> {
  return z.union([z.boolean(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'boolean') return v
    const b = ({ '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false } as { [k: string]: boolean })[v.trim()]
    if (b === undefined) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a boolean (true or false), got ${JSON.stringify(v)}` })
      return z.NEVER
    }
    return b
  }) as unknown as ZodType<boolean>
}

const DURATION_UNITS: { [u: string]: number } = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses a Go duration (`100ms`, `5s`, `1m30s`, `0`) into milliseconds; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  const s = text.trim()
  if (s === '0') return 0
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s)
  if (m === null) return undefined
  let total = 0
  for (const part of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * (DURATION_UNITS[part[2] as string] as number)
  return m[1] === '-' ? -total : total
}

/** A Go duration setting, in milliseconds. */
export function durationSetting(name: string): ZodType<number> {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') return v
    const ms = parseGoDuration(v)
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a Go duration such as 100ms, 5s or 1m30s, got ${JSON.stringify(v)}` })
      return z.NEVER
    }
    return ms
  }) as unknown as ZodType<number>
}

/** The schema settings Conduit adds to every processor; accepted for compatibility, not used (no schema registry). */
const SDK_SCHEMA_SETTINGS = {
  'sdk.schema.decode.key.enabled': boolSetting('sdk.schema.decode.key.enabled').optional(),
  'sdk.schema.decode.payload.enabled': boolSetting('sdk.schema.decode.payload.enabled').optional(),
  'sdk.schema.encode.key.enabled': boolSetting('sdk.schema.encode.key.enabled').optional(),
  'sdk.schema.encode.payload.enabled': boolSetting('sdk.schema.encode.payload.enabled').optional(),
}

/** A processor's settings object: the given settings plus Conduit's `sdk.schema.*`; unknown settings are errors. */
export function processorSettings<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject({ ...shape, ...SDK_SCHEMA_SETTINGS })
}

/** `processor "id" (plugin)`, the prefix of every message about a processor. */
export function describeProcessor(ctx: ProcessorContext, plugin: string): string {
  return ctx.processorId === plugin ? `processor ${JSON.stringify(ctx.processorId)}` : `processor ${JSON.stringify(ctx.processorId)} (${plugin})`
}

/** A `TRIB_PIPELINE_CONFIG` error for one setting of a processor. */
export function settingError(label: string, setting: string, message: string): TributaryError {
  return new TributaryError('TRIB_PIPELINE_CONFIG', `${label}: setting ${JSON.stringify(setting)}: ${message}`)
}

/**
 * Parses a reference setting. `allowed` lists the record parts the processor may touch; anything
 * else is a `TRIB_PIPELINE_CONFIG` error naming the setting.
 */
export function referenceSetting(label: string, setting: string, text: string, allowed?: readonly ReferenceTarget[], rule?: string): RecordReference {
  const ref = parseReference(text, `${label}: setting ${JSON.stringify(setting)}`)
  if (allowed !== undefined && !allowed.includes(ref.target)) {
    throw settingError(label, setting, `${JSON.stringify(text)} is not allowed: ${rule ?? `use a field under ${allowed.join(', ')}`}`)
  }
  return ref
}

/** The outcome for a record that failed: a nack whose error names the processor and the position. */
export function failRecord(label: string, record: PipelineRecord, err: unknown): ProcessedRecord {
  const message = err instanceof Error ? err.message : String(err)
  return errorRecord(new TributaryError('TRIB_PIPELINE_RECORD', `${label}: record at position ${describePosition(record.position)}: ${message}`, { cause: err }))
}

/** A `process` that applies `fn` to each record in order; a throw becomes that record's nack. */
export function perRecord(label: string, fn: (record: PipelineRecord) => ProcessedRecord): (records: readonly PipelineRecord[]) => ProcessedRecord[] {
  return (records) => {
    const out = new Array<ProcessedRecord>(records.length)
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as PipelineRecord
      try {
        out[i] = fn(record)
      } catch (err) {
        out[i] = failRecord(label, record, err)
      }
    }
    return out
  }
}
