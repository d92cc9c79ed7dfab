/**
 * Pipeline files: Conduit's YAML v2.x (`version: "2.2"`), several pipelines per file and several files
 * per directory, validated with zod. Every error is a `TRIB_PIPELINE_CONFIG` naming the file, the
 * line and the field (`pipelines.yaml:12: pipelines[0].connectors[1].plugin: unknown connector plugin
 * "fil"; plugins that exist: file, generator, ...`).
 *
 * Shape (Conduit's `pkg/provisioning/config/yaml/v2`):
 * ```yaml
 * version: "2.2"
 * pipelines:
 *   - id: orders                 # unique over every loaded file
 *     status: running            # or stopped (loaded, not started)
 *     name: orders               # optional
 *     description: ...           # optional
 *     connectors:                # one source, one or more destinations
 *       - id: src
 *         type: source           # or destination
 *         plugin: builtin:generator   # builtin: and @version accepted and ignored
 *         settings: { format.type: structured, ... }   # values are strings; nested maps flatten to a.b keys; ${ENV} expands
 *         processors: [...]      # connector-level processors (a destination's run on its branch only)
 *     processors:                # pipeline-level, between the source's and each destination's
 *       - id: p1
 *         plugin: field.set      # `type` (before 2.2) is accepted too
 *         condition: '{{ eq .Metadata.kind "order" }}'
 *         workers: 2
 *         settings: { field: .Payload.After.x, value: '1' }
 *     dead-letter-queue:
 *       plugin: builtin:log      # any destination plugin; default builtin:log at level warn
 *       settings: { level: warn }
 *       window-size: 1           # default 1
 *       window-nack-threshold: 0 # default 0: the first nack stops the pipeline
 * ```
 * Unknown fields are reported as warnings, as Conduit does.
 *
 * @example
 * ```ts
 * const { pipelines, warnings } = loadPipelineFiles('examples/pipelines', registry)
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import { z } from 'zod'
import { TributaryError } from '../core/errors.ts'
import type { ConnectorPlugin } from './connector.ts'
import type { ProcessorPlugin } from './processor.ts'
import type { PipelineRecord } from './record.ts'
import { normalizePluginName, PluginRegistry } from './registry.ts'
import { compileCondition } from './template.ts'

/** A processor as configured. */
export interface ProcessorSpec {
  /** Full id: `<pipeline>:<processor>` (pipeline level) or `<pipeline>:<connector>:<processor>`. */
  readonly id: string
  readonly pluginName: string
  readonly plugin: ProcessorPlugin<any>
  readonly settings: unknown
  readonly condition?: (record: PipelineRecord) => boolean
  readonly conditionSource?: string
  readonly workers: number
}

/** A connector as configured. */
export interface ConnectorSpec {
  /** Full id: `<pipeline>:<connector>`. */
  readonly id: string
  readonly type: 'source' | 'destination'
  readonly name: string
  readonly pluginName: string
  readonly plugin: ConnectorPlugin<any>
  readonly settings: unknown
  readonly processors: readonly ProcessorSpec[]
}

/** The dead-letter queue as configured. */
export interface DlqSpec {
  readonly pluginName: string
  readonly plugin: ConnectorPlugin<any>
  readonly settings: unknown
  readonly windowSize: number
  readonly windowNackThreshold: number
}

/** A pipeline as configured. */
export interface PipelineSpec {
  readonly id: string
  readonly name: string
  readonly description: string
  readonly status: 'running' | 'stopped'
  /** The file it came from (and its line). */
  readonly file: string
  readonly line: number
  readonly source: ConnectorSpec
  readonly destinations: readonly ConnectorSpec[]
  readonly processors: readonly ProcessorSpec[]
  readonly dlq: DlqSpec
}

/** What loading produced. */
export interface LoadedPipelines {
  readonly pipelines: PipelineSpec[]
  /** Unknown fields and the like, as `file:line: message`. */
  readonly warnings: string[]
}

const settingsSchema = z.record(z.string(), z.unknown()).nullish()

const processorSchema = z.object({
  id: z.string().min(1),
  plugin: z.string().min(1).optional(),
  type: z.string().min(1).optional(),
  condition: z.string().optional(),
  settings: settingsSchema,
  workers: z.coerce.number().int().min(1).optional(),
})

const connectorSchema = z.object({
  id: z.string().min(1),
  type: z.enum(['source', 'destination']),
  plugin: z.string().min(1),
  name: z.string().optional(),
  settings: settingsSchema,
  processors: z.array(processorSchema).nullish(),
})

const dlqSchema = z.object({
  plugin: z.string().min(1).optional(),
  settings: settingsSchema,
  'window-size': z.coerce.number().int().min(0).optional(),
  'window-nack-threshold': z.coerce.number().int().min(0).optional(),
})

const pipelineSchema = z.object({
  id: z.string().min(1),
  status: z.enum(['running', 'stopped']).optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  connectors: z.array(connectorSchema).min(1, 'a pipeline needs connectors: one source and at least one destination'),
  processors: z.array(processorSchema).nullish(),
  'dead-letter-queue': dlqSchema.nullish(),
})

const fileSchema = z.object({
  version: z.union([z.string(), z.number()]).transform(String),
  pipelines: z.array(pipelineSchema),
})

const KNOWN_FIELDS: { [where: string]: readonly string[] } = {
  file: ['version', 'pipelines'],
  pipeline: ['id', 'status', 'name', 'description', 'connectors', 'processors', 'dead-letter-queue'],
  connector: ['id', 'type', 'plugin', 'name', 'settings', 'processors'],
  processor: ['id', 'plugin', 'type', 'condition', 'settings', 'workers'],
  dlq: ['plugin', 'settings', 'window-size', 'window-nack-threshold'],
}

type Path = readonly (string | number)[]

/** `pipelines[0].connectors[1].settings.path` */
export function formatPath(p: Path): string {
  let out = ''
  for (const part of p) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`
  return out || '(top level)'
}

/** Reads one YAML document's positions. */
class Located {
  readonly file: string
  readonly doc: Document
  readonly lines: LineCounter

  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file
    this.doc = doc
    this.lines = lines
  }

  /** The line of the node at `p`, or of its nearest existing parent. */
  line(p: Path): number {
    for (let n = p.length; n >= 0; n--) {
      const node = this.doc.getIn(p.slice(0, n), true) as { range?: [number, number, number] } | undefined
      if (node && typeof node === 'object' && node.range) return this.lines.linePos(node.range[0]).line
    }
    return 1
  }

  error(p: Path, message: string, cause?: unknown): TributaryError {
    return new TributaryError('TRIB_PIPELINE_CONFIG', `${this.file}:${this.line(p)}: ${formatPath(p)}: ${message}`, { cause, details: { file: this.file, line: this.line(p), field: formatPath(p) } })
  }
}

const ENV = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/** Conduit's settings: a flat map of strings. Nested maps flatten to dotted keys, scalars become strings, `${VAR}` expands. */
function flattenSettings(loc: Located, raw: { [k: string]: unknown } | null | undefined, at: Path): { [k: string]: string } {
  const out: { [k: string]: string } = {}
  const walk = (value: unknown, key: string, p: Path): void => {
    if (value === null || value === undefined) {
      out[key] = ''
    } else if (typeof value === 'string') {
      out[key] = value.replace(ENV, (_, name: string) => {
        const v = process.env[name]
        if (v === undefined) throw loc.error(p, `environment variable ${name} is not set`)
        return v
      })
    } else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
      out[key] = String(value)
    } else if (Array.isArray(value)) {
      if (!value.every((v) => typeof v !== 'object' || v === null)) throw loc.error(p, 'a settings value must be a string (or a list of strings, joined with commas)')
      out[key] = value.map((v) => String(v ?? '')).join(',')
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as object)) walk(v, key === '' ? k : `${key}.${k}`, [...p, k])
    }
  }
  for (const [k, v] of Object.entries(raw ?? {})) walk(v, k, [...at, k])
  return out
}

function validateSettings(loc: Located, schema: z.ZodType<unknown>, settings: { [k: string]: string }, at: Path, what: string): unknown {
  const parsed = schema.safeParse(settings)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const field = issue.path.length > 0 ? String(issue.path.join('.')) : undefined
  const p = field === undefined ? at : [...at, field]
  const more = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more: ${parsed.error.issues.slice(1, 4).map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')})` : ''
  throw loc.error(p, `${what}: ${issue.message}${more}`)
}

function warnUnknown(loc: Located, value: unknown, known: readonly string[], at: Path, warnings: string[]): void {
  if (typeof value !== 'object' || value === null) return
  for (const key of Object.keys(value)) if (!known.includes(key)) warnings.push(`${loc.file}:${loc.line([...at, key])}: ${formatPath([...at, key])}: unknown field, ignored`)
}

/** Parses pipeline YAML `text` (from `file`, for messages) into specs, resolving plugins in `registry`. */
export function parsePipelineYaml(text: string, file: string, registry: PluginRegistry = new PluginRegistry()): LoadedPipelines {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const loc = new Located(file, doc, lines)
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line
    throw new TributaryError('TRIB_PIPELINE_CONFIG', `${file}:${line}: malformed YAML: ${e.message.split('\n')[0]}`, { cause: e, details: { file, line } })
  }
  const value = doc.toJS() as unknown
  if (value === null || value === undefined) return { pipelines: [], warnings: [`${file}:1: empty file`] }
  if (!isMap(doc.contents)) throw loc.error([], 'expected a mapping with version and pipelines')
  const version = (value as { version?: unknown }).version
  if (version !== undefined && !/^2(\.\d+)?$/.test(String(version))) {
    throw loc.error(['version'], `version ${JSON.stringify(version)} is not supported; Tributary reads Conduit's pipeline files version 2.x`)
  }
  const parsed = fileSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw loc.error(issue.path as Path, describeIssue(issue, value))
  }
  const warnings: string[] = []
  warnUnknown(loc, value, KNOWN_FIELDS.file, [], warnings)
  if (!isSeq(doc.get('pipelines'))) throw loc.error(['pipelines'], 'expected a list of pipelines')
  const pipelines = parsed.data.pipelines.map((p, i) => buildPipeline(loc, registry, p, i, (value as { pipelines: unknown[] }).pipelines[i], warnings))
  const seen = new Map<string, number>()
  for (const [i, p] of pipelines.entries()) {
    if (seen.has(p.id)) throw loc.error(['pipelines', i, 'id'], `pipeline id ${JSON.stringify(p.id)} is used twice (also pipelines[${seen.get(p.id)}])`)
    seen.set(p.id, i)
  }
  return { pipelines, warnings }
}

function describeIssue(issue: z.core.$ZodIssue, root: unknown): string {
  let at: unknown = root
  for (const part of issue.path) at = at === null || typeof at !== 'object' ? undefined : (at as { [k: string]: unknown })[part as string]
  if (at === undefined) return `required field is missing`
  if (issue.code === 'invalid_value' && 'values' in issue) return `expected one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(at)}`
  return issue.message
}

type RawPipeline = z.infer<typeof pipelineSchema>
type RawProcessor = z.infer<typeof processorSchema>

function buildPipeline(loc: Located, registry: PluginRegistry, p: RawPipeline, index: number, raw: unknown, warnings: string[]): PipelineSpec {
  const at: Path = ['pipelines', index]
  warnUnknown(loc, raw, KNOWN_FIELDS.pipeline, at, warnings)
  const rawObj = raw as { connectors: unknown[]; processors?: unknown[]; 'dead-letter-queue'?: unknown }
  const connectorIds = new Set<string>()
  const connectors = p.connectors.map((c, ci): ConnectorSpec => {
    const cat: Path = [...at, 'connectors', ci]
    warnUnknown(loc, rawObj.connectors[ci], KNOWN_FIELDS.connector, cat, warnings)
    if (connectorIds.has(c.id)) throw loc.error([...cat, 'id'], `connector id ${JSON.stringify(c.id)} is used twice in pipeline ${p.id}`)
    connectorIds.add(c.id)
    const plugin = resolveConnector(loc, registry, c.plugin, c.type, [...cat, 'plugin'])
    const settings = validateSettings(loc, plugin.settings, flattenSettings(loc, c.settings, [...cat, 'settings']), [...cat, 'settings'], `${c.type} ${c.id} (${plugin.name}) settings`)
    const id = `${p.id}:${c.id}`
    const processors = (c.processors ?? []).map((pr, pi) => buildProcessor(loc, registry, pr, `${id}:${pr.id}`, [...cat, 'processors', pi], (rawObj.connectors[ci] as { processors: unknown[] }).processors[pi], warnings))
    return { id, type: c.type, name: c.name ?? c.id, pluginName: c.plugin, plugin, settings, processors }
  })
  const sources = connectors.filter((c) => c.type === 'source')
  const destinations = connectors.filter((c) => c.type === 'destination')
  if (sources.length !== 1) {
    throw loc.error([...at, 'connectors'], sources.length === 0 ? 'a pipeline needs a source connector (type: source)' : `${sources.length} source connectors; Tributary runs one source per pipeline (split them into pipelines)`)
  }
  if (destinations.length === 0) throw loc.error([...at, 'connectors'], 'a pipeline needs at least one destination connector (type: destination)')
  const processors = (p.processors ?? []).map((pr, pi) => buildProcessor(loc, registry, pr, `${p.id}:${pr.id}`, [...at, 'processors', pi], rawObj.processors?.[pi], warnings))
  const ids = new Set<string>()
  for (const pr of [...processors, ...connectors.flatMap((c) => c.processors)]) {
    if (ids.has(pr.id)) throw loc.error([...at, 'processors'], `processor id ${pr.id} is used twice`)
    ids.add(pr.id)
  }
  const d = p['dead-letter-queue'] ?? {}
  const dat: Path = [...at, 'dead-letter-queue']
  warnUnknown(loc, rawObj['dead-letter-queue'], KNOWN_FIELDS.dlq, dat, warnings)
  const dlqPluginName = d.plugin ?? 'builtin:log'
  const dlqPlugin = resolveConnector(loc, registry, dlqPluginName, 'destination', [...dat, 'plugin'])
  const dlqSettings = d.plugin === undefined && d.settings == null ? { level: 'warn', message: 'record delivery failed' } : flattenSettings(loc, d.settings, [...dat, 'settings'])
  const dlq: DlqSpec = {
    pluginName: dlqPluginName,
    plugin: dlqPlugin,
    settings: validateSettings(loc, dlqPlugin.settings, dlqSettings, [...dat, 'settings'], `dead-letter-queue (${dlqPlugin.name}) settings`),
    windowSize: d['window-size'] ?? 1,
    windowNackThreshold: d['window-nack-threshold'] ?? 0,
  }
  return {
    id: p.id,
    name: p.name ?? p.id,
    description: p.description ?? '',
    status: p.status ?? 'running',
    file: loc.file,
    line: loc.line(at),
    source: sources[0],
    destinations,
    processors,
    dlq,
  }
}

function buildProcessor(loc: Located, registry: PluginRegistry, pr: RawProcessor, id: string, at: Path, raw: unknown, warnings: string[]): ProcessorSpec {
  warnUnknown(loc, raw, KNOWN_FIELDS.processor, at, warnings)
  const name = pr.plugin ?? pr.type
  if (name === undefined) throw loc.error([...at, 'plugin'], 'required field is missing (the processor plugin name)')
  if (pr.plugin === undefined) warnings.push(`${loc.file}:${loc.line([...at, 'type'])}: ${formatPath([...at, 'type'])}: deprecated since version 2.2, use plugin`)
  let plugin: ProcessorPlugin<any> | undefined
  try {
    plugin = registry.processor(name)
  } catch (err) {
    throw loc.error([...at, pr.plugin === undefined ? 'type' : 'plugin'], (err as Error).message)
  }
  if (!plugin) {
    const names = registry.processorNames()
    throw loc.error([...at, pr.plugin === undefined ? 'type' : 'plugin'], `unknown processor plugin ${JSON.stringify(name)}; plugins that exist: ${names.length > 0 ? names.join(', ') : '(none registered)'}`)
  }
  const settings = validateSettings(loc, plugin.settings, flattenSettings(loc, pr.settings, [...at, 'settings']), [...at, 'settings'], `processor ${pr.id} (${plugin.name}) settings`)
  let condition: ((r: PipelineRecord) => boolean) | undefined
  if (pr.condition !== undefined && pr.condition.trim() !== '') {
    const where = `${loc.file}:${loc.line([...at, 'condition'])}: ${formatPath([...at, 'condition'])}`
    try {
      condition = compileCondition(pr.condition, where)
    } catch (err) {
      throw err instanceof TributaryError && err.message.includes(where) ? err : loc.error([...at, 'condition'], (err as Error).message, err)
    }
  }
  return { id, pluginName: name, plugin, settings, condition, conditionSource: pr.condition, workers: pr.workers ?? 1 }
}

function resolveConnector(loc: Located, registry: PluginRegistry, name: string, type: 'source' | 'destination', at: Path): ConnectorPlugin<any> {
  let plugin: ConnectorPlugin<any> | undefined
  try {
    plugin = registry.connector(name)
  } catch (err) {
    throw loc.error(at, (err as Error).message)
  }
  const names = registry.connectorNames(type)
  const list = `plugins that exist for a ${type}: ${names.length > 0 ? names.join(', ') : '(none registered)'}`
  if (!plugin) throw loc.error(at, `unknown connector plugin ${JSON.stringify(name)}; ${list}`)
  if (!plugin[type]) throw loc.error(at, `plugin ${normalizePluginName(name)} cannot be a ${type}; ${list}`)
  return plugin
}

/** Loads one file, or every `*.yaml`/`*.yml` file of a directory (sorted by name). Pipeline ids must be unique over all of them. */
export function loadPipelineFiles(fileOrDir: string, registry: PluginRegistry = new PluginRegistry()): LoadedPipelines {
  let files: string[]
  let stat: fs.Stats
  try {
    stat = fs.statSync(fileOrDir)
  } catch (err) {
    throw new TributaryError('TRIB_PIPELINE_CONFIG', `${fileOrDir}: no such file or directory`, { cause: err })
  }
  if (stat.isDirectory()) {
    files = fs
      .readdirSync(fileOrDir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => path.join(fileOrDir, f))
    if (files.length === 0) throw new TributaryError('TRIB_PIPELINE_CONFIG', `${fileOrDir}: no .yaml or .yml files in the directory`)
  } else files = [fileOrDir]
  const pipelines: PipelineSpec[] = []
  const warnings: string[] = []
  const where = new Map<string, PipelineSpec>()
  for (const file of files) {
    const loaded = parsePipelineYaml(fs.readFileSync(file, 'utf8'), file, registry)
    for (const p of loaded.pipelines) {
      const other = where.get(p.id)
      if (other) throw new TributaryError('TRIB_PIPELINE_CONFIG', `${p.file}:${p.line}: pipeline id ${JSON.stringify(p.id)} is already used in ${other.file}:${other.line}`)
      where.set(p.id, p)
      pipelines.push(p)
    }
    warnings.push(...loaded.warnings)
  }
  return { pipelines, warnings }
}
