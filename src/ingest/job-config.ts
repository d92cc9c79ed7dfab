/**
 * Ingestion job configs: AresDB's job config JSON accepted as it is (or the same in YAML), with
 * AresDB's defaults, validated with zod, and the rules AresDB derives from it (destinations,
 * transformations, update modes, primary keys).
 *
 * Defaults are AresDB's controller defaults (`controller/models/defaults.go`), applied to every
 * field the file leaves out — also for local files, where AresDB applies none. A field that is
 * given is kept as given, `false` included. A zero `processorCount`, `batchSize`,
 * `maxBatchDelayMS`, `megaBytePerSec`, `errorThreshold`, `statusCheckInterval` or
 * `restartInterval` means "the default", as Go's zero value does in AresDB.
 *
 * @example
 * ```ts
 * const job = loadJobConfigFile('jobs/trips.json')
 * job.streamConfig.batchSize          // 32768 unless the file says otherwise
 * job.rules.columns.map((c) => c.updateMode)
 * ```
 * @module
 */
import fs from 'node:fs'
import { LineCounter, isNode, parseDocument } from 'yaml'
import { z } from 'zod'
import { TributaryError } from '../core/errors.ts'
import { columnTypeBits, COLUMN_TYPES, isColumnType } from './column-types.ts'

/** AresDB's column update modes. Primary-key columns are always `overwrite_notnull`. */
export type UpdateMode = 'overwrite_notnull' | 'overwrite_force' | 'addition' | 'min' | 'max'

const UPDATE_MODES: readonly UpdateMode[] = ['overwrite_notnull', 'overwrite_force', 'addition', 'min', 'max']

/** AresDB's stream defaults (`controller/models/defaults.go`). */
export const STREAM_DEFAULTS = {
  topicType: 'json',
  latestOffset: true,
  errorThreshold: 10,
  statusCheckInterval: 60,
  autoRecoveryThreshold: 8,
  processorCount: 1,
  batchSize: 32768,
  maxBatchDelayMS: 10000,
  megaBytePerSec: 600,
  restartOnFailure: true,
  restartInterval: 300,
  sessionTimeoutMs: 10000,
  channelBufferSize: 256,
  reblanceTimeoutSec: 10,
  failureHandler: { type: 'retry', config: { initRetryIntervalInSeconds: 60, multiplier: 1, maxRetryMinutes: 15 } },
} as const

const positiveOrDefault = (fallback: number) =>
  z
    .number()
    .int()
    .nonnegative()
    .optional()
    .transform((n) => (n === undefined || n === 0 ? fallback : n))

const columnSchema = z.looseObject({
  name: z.string().min(1),
  type: z.string().refine(isColumnType, { message: `unknown column type; one of ${COLUMN_TYPES.join(', ')}` }),
  deleted: z.boolean().optional().default(false),
  defaultValue: z.string().nullable().optional(),
  caseInsensitive: z.boolean().optional(),
  disableAutoExpand: z.boolean().optional(),
  config: z.looseObject({}).optional(),
})

const tableSchema = z.looseObject({
  name: z.string().min(1),
  columns: z.array(columnSchema).min(1),
  primaryKeyColumns: z.array(z.number().int().nonnegative()).min(1),
  isFactTable: z.boolean().optional().default(false),
  config: z.looseObject({ allowMissingEventTime: z.boolean().optional() }).optional().default({}),
  archivingSortColumns: z.array(z.number().int()).optional(),
  version: z.number().int().optional(),
})

const failureHandlerSchema = z
  .looseObject({
    type: z.literal('retry').optional().default('retry'),
    config: z
      .looseObject({
        initRetryIntervalInSeconds: positiveOrDefault(STREAM_DEFAULTS.failureHandler.config.initRetryIntervalInSeconds),
        multiplier: z
          .number()
          .optional()
          .transform((m) => (m === undefined || m < 1 ? STREAM_DEFAULTS.failureHandler.config.multiplier : m)),
        maxRetryMinutes: positiveOrDefault(STREAM_DEFAULTS.failureHandler.config.maxRetryMinutes),
      })
      .prefault({}),
  })
  .prefault({})

const streamSchema = z.looseObject({
  topic: z.string().min(1),
  kafkaBroker: z.string().optional(),
  kafkaVersion: z.string().optional(),
  kafkaClusterName: z.string().optional(),
  kafkaClusterFile: z.string().optional(),
  topicType: z.literal('json').optional().default('json'),
  latestOffset: z.boolean().optional().default(STREAM_DEFAULTS.latestOffset),
  errorThreshold: positiveOrDefault(STREAM_DEFAULTS.errorThreshold),
  statusCheckInterval: positiveOrDefault(STREAM_DEFAULTS.statusCheckInterval),
  autoRecoveryThreshold: positiveOrDefault(STREAM_DEFAULTS.autoRecoveryThreshold),
  processorCount: positiveOrDefault(STREAM_DEFAULTS.processorCount),
  batchSize: positiveOrDefault(STREAM_DEFAULTS.batchSize),
  maxBatchDelayMS: positiveOrDefault(STREAM_DEFAULTS.maxBatchDelayMS),
  megaBytePerSec: positiveOrDefault(STREAM_DEFAULTS.megaBytePerSec),
  restartOnFailure: z.boolean().optional().default(STREAM_DEFAULTS.restartOnFailure),
  restartInterval: positiveOrDefault(STREAM_DEFAULTS.restartInterval),
  sessionTimeoutMs: positiveOrDefault(STREAM_DEFAULTS.sessionTimeoutMs),
  channelBufferSize: positiveOrDefault(STREAM_DEFAULTS.channelBufferSize),
  reblanceTimeoutSec: positiveOrDefault(STREAM_DEFAULTS.reblanceTimeoutSec),
  failureHandler: failureHandlerSchema,
})

const jobSchema = z
  .looseObject({
    job: z.string().regex(/^[A-Za-z0-9._-]+$/, { message: 'a job name uses letters, digits, ".", "_" and "-"' }),
    version: z.number().int().nonnegative().optional().default(0),
    numShards: z.number().int().nonnegative().optional().default(0),
    aresTableConfig: z.looseObject({
      name: z.string().optional(),
      cluster: z.string().optional().default(''),
      schema: tableSchema,
      updateMode: z.record(z.string(), z.string()).optional().default({}),
    }),
    streamConfig: streamSchema,
  })
  .superRefine((job, ctx) => {
    const columns = job.aresTableConfig.schema.columns
    const seen = new Set<string>()
    columns.forEach((c, i) => {
      if (!c.deleted && seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['aresTableConfig', 'schema', 'columns', i, 'name'], message: `column ${c.name} appears twice` })
      if (!c.deleted) seen.add(c.name)
    })
    job.aresTableConfig.schema.primaryKeyColumns.forEach((pk, i) => {
      const path = ['aresTableConfig', 'schema', 'primaryKeyColumns', i]
      if (pk >= columns.length) ctx.addIssue({ code: 'custom', path, message: `column index ${pk} is past the last column (${columns.length - 1})` })
      else if (columns[pk].deleted) ctx.addIssue({ code: 'custom', path, message: `column ${columns[pk].name} is deleted and cannot be a primary key` })
    })
    for (const [column, mode] of Object.entries(job.aresTableConfig.updateMode)) {
      const path = ['aresTableConfig', 'updateMode', column]
      if (!seen.has(column)) ctx.addIssue({ code: 'custom', path, message: `no column ${column} in the schema` })
      else if (!(UPDATE_MODES as readonly string[]).includes(mode.toLowerCase())) ctx.addIssue({ code: 'custom', path, message: `update mode ${JSON.stringify(mode)} is not one of ${UPDATE_MODES.join(', ')}` })
    }
  })

type ParsedJob = z.output<typeof jobSchema>

/** One non-deleted column as the mapper and sinks use it (AresDB's destination + transformation). */
export interface ColumnRule {
  readonly name: string
  readonly type: string
  /** The column's index in the schema (AresDB's column id). */
  readonly schemaIndex: number
  readonly updateMode: UpdateMode
  readonly primaryKey: boolean
  /** `defaultValue` from the schema (a string, as in AresDB), applied when a message lacks the field. */
  readonly defaultValue: string | null
}

/** The rules derived from a job config. */
export interface JobRules {
  readonly table: string
  /** Non-deleted columns, sorted by name as AresDB's parser sorts them. */
  readonly columns: readonly ColumnRule[]
  readonly primaryKeys: readonly string[]
  /** Σ over primary-key columns of max(bits, 8) / 8, as AresDB computes `primaryKeyBytes`. */
  readonly primaryKeyBytes: number
  /** The event-time column of a fact table (schema column 0), or null when not required. */
  readonly requiredTimeColumn: string | null
}

/** A validated job config with AresDB's defaults applied and its derived rules. */
export type JobConfig = ParsedJob & { readonly rules: JobRules; readonly source: string }

function deriveRules(job: ParsedJob): JobRules {
  const schema = job.aresTableConfig.schema
  const pkIndexes = new Set(schema.primaryKeyColumns)
  const columns: ColumnRule[] = []
  schema.columns.forEach((c, i) => {
    if (c.deleted) return
    const primaryKey = pkIndexes.has(i)
    const mode = job.aresTableConfig.updateMode[c.name]?.toLowerCase() as UpdateMode | undefined
    columns.push({ name: c.name, type: c.type, schemaIndex: i, updateMode: primaryKey ? 'overwrite_notnull' : (mode ?? 'overwrite_notnull'), primaryKey, defaultValue: c.defaultValue ?? null })
  })
  columns.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const primaryKeyBytes = schema.primaryKeyColumns.reduce((sum, i) => sum + Math.max(columnTypeBits(schema.columns[i].type), 8) / 8, 0)
  const timeColumn = schema.isFactTable && !schema.config.allowMissingEventTime && !schema.columns[0].deleted ? schema.columns[0].name : null
  return {
    table: schema.name,
    columns,
    primaryKeys: schema.primaryKeyColumns.map((i) => schema.columns[i].name),
    primaryKeyBytes,
    requiredTimeColumn: timeColumn,
  }
}

function configError(source: string, message: string): TributaryError {
  return new TributaryError('TRIB_INGEST_CONFIG', `${source}: ${message}`, { details: { source } })
}

/**
 * Validates a parsed job config. `source` names it in errors; `lineOf` maps a field path to a line
 * when the text is at hand.
 */
export function parseJobConfig(raw: unknown, source = 'job config', lineOf: (p: readonly PropertyKey[]) => number | undefined = () => undefined): JobConfig {
  const result = jobSchema.safeParse(raw)
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const p = issue.path
      const line = lineOf(p)
      const field = p.length === 0 ? '(top level)' : p.map(String).join('.')
      return `${line === undefined ? '' : `line ${line}: `}${field}: ${issue.message.replace(/^Invalid input: /, '')}`
    })
    throw configError(source, lines.length === 1 ? lines[0] : `\n  ${lines.join('\n  ')}`)
  }
  return { ...result.data, rules: deriveRules(result.data), source }
}

/** Parses JSON or YAML text (JSON is YAML) and validates it; errors name `source`, line and field. */
export function parseJobConfigText(text: string, source = 'job config'): JobConfig {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const pos = lineCounter.linePos(e.pos[0])
    throw configError(source, `line ${pos.line}, column ${pos.col}: invalid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${e.message.split('\n')[0]}`)
  }
  const lineOf = (p: readonly PropertyKey[]): number | undefined => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n) as unknown[], true)
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line
    }
    return undefined
  }
  return parseJobConfig(doc.toJS(), source, lineOf)
}

/** Reads and validates a job config file (`.json`, `.yaml` or `.yml`). Throws `TRIB_INGEST_CONFIG` naming the file. */
export function loadJobConfigFile(file: string): JobConfig {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw configError(file, `cannot read the job config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parseJobConfigText(text, file)
}
