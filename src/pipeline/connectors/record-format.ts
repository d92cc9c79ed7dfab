/**
 * The output format of a destination, Conduit's `sdk.record.format` and `sdk.record.format.options`:
 *
 * - `opencdc/json` (Conduit's default): the whole record as OpenCDC JSON, byte for byte as Conduit;
 * - `template`: the options are a Go template over the record (`{{ printf "%s" .Payload.After }}`),
 *   rendered by the pipeline's template module;
 * - `payload` (Tributary, where a plugin allows it): the bytes of `payload.after` (structured data
 *   as JSON), or `null` when there is none — the value of a Kafka record as its producer wrote it.
 *
 * Conduit's `debezium/json` is not supported (an error names the setting).
 *
 * @example
 * ```ts
 * const format = readRecordFormat(s, ['opencdc/json', 'template'], 'opencdc/json')
 * const bytes = format.encode(record) // Buffer
 * ```
 * @module
 */
import { compileTemplate } from '../template.ts'
import type { PipelineRecord } from '../record.ts'
import { conduitDataBytes, conduitRecordJson } from './opencdc-json.ts'
import type { SettingsReader } from './settings.ts'

export type RecordFormatName = 'opencdc/json' | 'template' | 'payload'

/** A chosen output format. */
export interface RecordFormat {
  readonly name: RecordFormatName
  /** The record's bytes in this format (`null` only for `payload` without `after`). */
  encode(record: PipelineRecord): Buffer | null
}

const KNOWN: readonly string[] = ['opencdc/json', 'template', 'payload', 'debezium/json']

/** Reads `sdk.record.format` (and its options) allowing the `allowed` formats. */
export function readRecordFormat(s: SettingsReader, allowed: readonly RecordFormatName[], fallback: RecordFormatName): RecordFormat {
  const name = s.string('sdk.record.format', fallback)
  const options = s.optional('sdk.record.format.options')
  if (!KNOWN.includes(name) || !(allowed as readonly string[]).includes(name)) {
    s.fail('sdk.record.format', `is ${JSON.stringify(name)}; this connector writes ${allowed.join(', ')}${name === 'debezium/json' ? ' (debezium/json is not supported)' : ''}`)
    return opencdcJson
  }
  if (name === 'template') {
    if (options === undefined) {
      s.fail('sdk.record.format.options', 'must hold the Go template when sdk.record.format is template')
      return opencdcJson
    }
    try {
      const render = compileTemplate(options, 'sdk.record.format.options')
      return { name, encode: (record) => Buffer.from(render(record)) }
    } catch (err) {
      s.fail('sdk.record.format.options', `is not a usable template: ${(err as Error).message}`)
      return opencdcJson
    }
  }
  if (name === 'payload') return payloadFormat
  return opencdcJson
}

/** Conduit's default: the record as OpenCDC JSON. */
export const opencdcJson: RecordFormat = { name: 'opencdc/json', encode: (record) => Buffer.from(conduitRecordJson(record)) }

/** `payload.after` as bytes. */
export const payloadFormat: RecordFormat = { name: 'payload', encode: (record) => conduitDataBytes(record.payload.after) }
