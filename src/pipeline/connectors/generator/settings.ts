/**
 * Settings of the `generator` source, as Conduit's generator connector names them:
 *
 * - `format.type` (`structured`, `raw`, `file`), `format.options.<field>: <type>` (types `int`,
 *   `string`, `time`, `bool`, `duration`; Tributary adds `float`), `format.options.path` (for `file`),
 *   `operations` (comma-separated, default `create`) — the default collection;
 * - `collections.<name>.format.type`, `collections.<name>.format.options.*`,
 *   `collections.<name>.operations` — named collections (records carry `opencdc.collection`);
 * - `recordCount` (0 = endless), `rate` (records/s, 0 = unlimited), `readTime` (deprecated, one
 *   record per duration), `burst.sleepTime`, `burst.generateTime` (default 1s);
 * - `sdk.batch.size`: the most records one read returns (0 or absent: 10,000).
 *
 * @example
 * ```ts
 * generatorSettings.parse({ 'format.type': 'structured', 'format.options.id': 'int', recordCount: '100' })
 * ```
 * @module
 */
import type { ZodType } from 'zod'
import { OPERATIONS, type Operation } from '../../record.ts'
import { connectorSettings, type SettingsReader } from '../settings.ts'

/** The field types of `format.options.*`. Conduit knows all but `float`. */
export const FIELD_TYPES = ['int', 'string', 'time', 'bool', 'duration', 'float'] as const
export type FieldType = (typeof FIELD_TYPES)[number]

/** The payload formats of `format.type`. */
export const FORMAT_TYPES = ['structured', 'raw', 'file'] as const
export type FormatType = (typeof FORMAT_TYPES)[number]

/** One generated field. */
export interface FieldSpec {
  readonly name: string
  readonly type: FieldType
}

/** One collection: what its records look like. The default collection has the name `''`. */
export interface CollectionSpec {
  readonly name: string
  readonly operations: readonly Operation[]
  readonly formatType: FormatType
  /** Fields sorted by name (the order Go's encoder writes them in). */
  readonly fields: readonly FieldSpec[]
  /** For `file`: the file whose content is every payload. */
  readonly path?: string
}

/** Parsed generator settings. Durations are in milliseconds. */
export interface GeneratorSettings {
  readonly collections: readonly CollectionSpec[]
  /** Records to generate in total; 0 = no end. */
  readonly recordCount: number
  /** Records per second; 0 = as fast as possible. */
  readonly rate: number
  readonly burstSleepTime: number
  readonly burstGenerateTime: number
  /** The most records one `read` returns. */
  readonly batchSize: number
}

/** The default number of records per read when `sdk.batch.size` is 0 or absent. */
export const DEFAULT_GENERATOR_BATCH = 10_000

function collection(s: SettingsReader, prefix: string, name: string): CollectionSpec {
  const formatType = s.oneOf(`${prefix}format.type`, FORMAT_TYPES, 'structured')
  const operations: Operation[] = []
  for (const op of s.list(`${prefix}operations`, ['create'])) {
    if ((OPERATIONS as readonly string[]).includes(op)) operations.push(op as Operation)
    else s.fail(`${prefix}operations`, `has unknown operation ${JSON.stringify(op)}; use ${OPERATIONS.join(', ')}`)
  }
  if (operations.length === 0) s.fail(`${prefix}operations`, 'names no operation')
  const fields: FieldSpec[] = []
  let path: string | undefined
  for (const setting of s.namesUnder(`${prefix}format.options.`)) {
    const field = setting.slice(`${prefix}format.options.`.length)
    if (field === 'path') {
      path = s.optional(setting)
      continue
    }
    const type = s.optional(setting)?.toLowerCase()
    if (field.trim() === '') s.fail(setting, 'has an empty field name')
    else if (type === undefined) s.fail(setting, 'has an empty type; use one of ' + FIELD_TYPES.join(', '))
    else if (!(FIELD_TYPES as readonly string[]).includes(type)) s.fail(setting, `has unknown type ${JSON.stringify(type)}; use one of ${FIELD_TYPES.join(', ')}`)
    else fields.push({ name: field, type: type as FieldType })
  }
  if (formatType === 'file' && path === undefined) s.fail(`${prefix}format.options.path`, 'is required when the format type is file')
  fields.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { name, operations, formatType, fields, path }
}

const COLLECTION_SETTING = /^collections\.(.+?)\.(format\.type|format\.options\..+|operations)$/

function build(s: SettingsReader): GeneratorSettings {
  const collections: CollectionSpec[] = []
  if (s.has('format.type')) collections.push(collection(s, '', ''))
  else s.accept('operations', ...s.namesUnder('format.options.'))
  const names = new Set<string>()
  for (const setting of s.namesUnder('collections.')) {
    const m = COLLECTION_SETTING.exec(setting)
    if (m === null) s.fail(setting, 'is not a collection setting (collections.<name>.format.type, .format.options.<field>, .operations)')
    else names.add(m[1])
  }
  for (const name of [...names].sort()) {
    if (!s.has(`collections.${name}.format.type`)) s.fail(`collections.${name}.format.type`, 'is required for collection ' + JSON.stringify(name))
    collections.push(collection(s, `collections.${name}.`, name))
  }
  if (collections.length === 0) s.fail('format.type', 'is required: configure at least one collection with format.type or collections.<name>.format.type')

  const readTime = s.duration('readTime', 0)
  let rate = s.float('rate', 0, 0)
  if (readTime > 0 && rate > 0) s.fail('readTime', 'and "rate" are both set; readTime is deprecated, set only rate')
  else if (readTime > 0) rate = 1_000 / readTime
  const burstSleepTime = s.duration('burst.sleepTime', 0)
  const burstGenerateTime = s.duration('burst.generateTime', 1_000)
  if (burstSleepTime > 0 && burstGenerateTime <= 0) s.fail('burst.generateTime', 'must be greater than 0 when burst.sleepTime is set')
  const recordCount = s.int('recordCount', 0, 0)
  const batchSize = s.int('sdk.batch.size', 0, 0) || DEFAULT_GENERATOR_BATCH
  s.accept('sdk.batch.delay')
  return { collections, recordCount, rate, burstSleepTime, burstGenerateTime, batchSize }
}

/** The zod schema of the generator's settings. */
export const generatorSettings: ZodType<GeneratorSettings> = connectorSettings(build)
