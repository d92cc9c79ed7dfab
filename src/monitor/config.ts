/**
 * The monitor's configuration: a YAML file shaped like Burrow's TOML sections (kebab-case keys,
 * durations in seconds), validated with zod. Every error names the file, the line and the field
 * path (`monitor.yaml:7: clusters.local.offset-refresh: expected a number, got string`).
 *
 * ```yaml
 * clusters:
 *   local:
 *     log: file:./.tributary         # or kafka://127.0.0.1:9092, or servers: [host:port]
 *     offset-refresh: 10
 * storage:   { intervals: 10, expire-group: 604800, min-distance: 0 }
 * evaluator: { expire-cache: 10, minimum-complete: 0, allowed-lag: 0 }
 * httpserver: { address: 127.0.0.1:8000 }
 * notifiers:
 *   ops: { class-name: http, url-open: 'http://alerts.local/open/{{.Group}}', threshold: WARN }
 * ```
 * The full reference is in `docs/monitor.md`.
 *
 * @example
 * ```ts
 * const config = loadConfig('monitor.yaml')   // throws TRIB_MONITOR_CONFIG naming the bad field
 * config.clusters[0].offsetRefreshMs          // 10_000
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { LineCounter, parseDocument, isNode } from 'yaml'
import { z } from 'zod'
import { TributaryError } from '../core/errors.ts'
import { kafkaSecuritySchema, mergeSecurity, parseLogUrl, type KafkaSecurityOptions } from '../log/index.ts'
import { parseStatus, type StatusCode } from './status.ts'
import { compileTemplate, type Template } from './template.ts'

const seconds = z.number({ error: 'expected a number of seconds' }).positive('must be greater than 0')
const nonNegativeSeconds = z.number({ error: 'expected a number of seconds' }).nonnegative('must not be negative')
const regex = z.string({ error: 'expected a regular expression string' }).superRefine((value, ctx) => {
  try {
    new RegExp(value)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}` })
  }
})
const status = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const code = parseStatus(value)
  if (code === undefined || code === 0) {
    ctx.addIssue({ code: 'custom', message: `expected a status (OK, WARN, ERR, STOP, STALL, REWIND or 1..6), got ${JSON.stringify(value)}` })
    return z.NEVER
  }
  return code
})
const address = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8000')

const clusterSchema = z
  .object({
    log: z.string().optional(),
    servers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).min(1, 'list at least one broker').optional(),
    'offset-refresh': seconds.default(10),
    'topic-refresh': seconds.default(60),
    'offsets-topic': z.string().min(1).default('__consumer_offsets'),
    'start-latest': z.boolean().default(false),
    'self-group': z.boolean().default(true),
    'poll-interval': seconds.default(0.25),
    'client-id': z.string().regex(/^\S+$/, 'must not contain spaces').default('tributary-monitor'),
    'group-allowlist': regex.optional(),
    'group-denylist': regex.optional(),
    kafka: kafkaSecuritySchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.log === undefined) === (c.servers === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of log (memory:, file:<dir>, kafka://host:port) or servers ([host:port])' })
      return
    }
    if (c.log !== undefined) {
      try {
        parseLogUrl(c.log)
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['log'], message: (err as Error).message })
      }
    }
  })

const storageSchema = z
  .object({
    intervals: z.number().int('must be an integer').min(1).max(1000).default(10),
    'expire-group': seconds.default(604_800),
    'min-distance': nonNegativeSeconds.default(0),
    'group-allowlist': regex.optional(),
    'group-denylist': regex.optional(),
  })
  .strict()

const evaluatorSchema = z
  .object({
    'expire-cache': nonNegativeSeconds.default(10),
    'minimum-complete': z.number().min(0).max(1, 'a share between 0 and 1').default(0),
    'allowed-lag': z.number().int('must be an integer').nonnegative().default(0),
  })
  .strict()

const httpServerSchema = z.object({ address: address.default('127.0.0.1:8000') }).strict()
const dashboardSchema = z.object({ enabled: z.boolean().default(true), refresh: seconds.default(5) }).strict()

const notifierCommon = {
  interval: seconds.default(60),
  threshold: status.default(2),
  'send-once': z.boolean().default(false),
  'send-close': z.boolean().default(false),
  'send-interval': seconds.optional(),
  'group-allowlist': regex.optional(),
  'group-denylist': regex.optional(),
  extras: z.record(z.string(), z.string()).default({}),
}

const httpNotifierSchema = z
  .object({
    'class-name': z.literal('http'),
    ...notifierCommon,
    'url-open': z.string().min(1),
    'method-open': z.string().regex(/^[A-Z]+$/, 'an HTTP method in capitals').default('POST'),
    'template-open': z.string().optional(),
    'body-open': z.string().optional(),
    'url-close': z.string().optional(),
    'method-close': z.string().regex(/^[A-Z]+$/, 'an HTTP method in capitals').default('DELETE'),
    'template-close': z.string().optional(),
    'body-close': z.string().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    'basic-auth': z.object({ username: z.string(), password: z.string() }).strict().optional(),
    timeout: seconds.default(5),
    retries: z.number().int().nonnegative().default(3),
    backoff: z.object({ initial: seconds.default(0.5), max: seconds.default(30) }).strict().default({ initial: 0.5, max: 30 }),
  })
  .strict()
  .superRefine((n, ctx) => {
    if (n['template-open'] !== undefined && n['body-open'] !== undefined) ctx.addIssue({ code: 'custom', path: ['body-open'], message: 'set template-open (a file) or body-open (inline), not both' })
    if (n['template-close'] !== undefined && n['body-close'] !== undefined) ctx.addIssue({ code: 'custom', path: ['body-close'], message: 'set template-close (a file) or body-close (inline), not both' })
  })

const logNotifierSchema = z
  .object({
    'class-name': z.literal('log'),
    ...notifierCommon,
    level: z.enum(['info', 'warn', 'error']).default('warn'),
  })
  .strict()

const notifierSchema = z.discriminatedUnion('class-name', [httpNotifierSchema, logNotifierSchema], {
  error: 'class-name must be http or log',
})

const coordinationSchema = z
  .object({
    log: z.string().min(1),
    topic: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ., _ and - only').default('tributary-monitor-leader'),
    group: z.string().min(1).default('tributary-monitor'),
    'session-timeout': seconds.default(10),
  })
  .strict()

const rootSchema = z
  .object({
    clusters: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'cluster names use letters, digits, ., _ and -'), clusterSchema).refine((c) => Object.keys(c).length > 0, 'define at least one cluster'),
    storage: storageSchema.default(storageSchema.parse({})),
    evaluator: evaluatorSchema.default(evaluatorSchema.parse({})),
    httpserver: httpServerSchema.default(httpServerSchema.parse({})),
    dashboard: dashboardSchema.default(dashboardSchema.parse({})),
    notifiers: z.record(z.string(), notifierSchema).default({}),
    coordination: coordinationSchema.optional(),
  })
  .strict()

/** One monitored cluster. */
export interface ClusterConfig {
  readonly name: string
  /** `kafka` reads `__consumer_offsets`; `embedded` reads the embedded log's commit history. */
  readonly kind: 'kafka' | 'embedded'
  /** The log URL (`kafka://...`, `file:...`, `memory:`). */
  readonly log: string
  /** Kafka bootstrap brokers (empty for the embedded log). */
  readonly servers: readonly string[]
  readonly offsetRefreshMs: number
  readonly topicRefreshMs: number
  readonly offsetsTopic: string
  readonly startLatest: boolean
  /** Report the monitor's own progress through the offsets topic as group `burrow-<cluster>`. */
  readonly selfGroup: boolean
  readonly pollIntervalMs: number
  readonly clientId: string
  readonly groupAllowlist?: RegExp
  readonly groupDenylist?: RegExp
  /** Kafka: TLS and SASL (the `kafka:` section merged over what a `kafka+ssl://` URL says). */
  readonly kafka?: KafkaSecurityOptions
}

/** Settings shared by the notifier classes. */
interface NotifierBase {
  readonly name: string
  readonly intervalMs: number
  readonly threshold: StatusCode
  readonly sendOnce: boolean
  readonly sendClose: boolean
  readonly sendIntervalMs: number
  readonly groupAllowlist?: RegExp
  readonly groupDenylist?: RegExp
  readonly extras: Readonly<{ [k: string]: string }>
}

/** An HTTP notifier. */
export interface HttpNotifierConfig extends NotifierBase {
  readonly className: 'http'
  readonly urlOpen: Template
  readonly methodOpen: string
  readonly bodyOpen: Template
  readonly urlClose?: Template
  readonly methodClose: string
  readonly bodyClose: Template
  readonly headers: Readonly<{ [k: string]: string }>
  readonly basicAuth?: { readonly username: string; readonly password: string }
  readonly timeoutMs: number
  readonly retries: number
  readonly backoffInitialMs: number
  readonly backoffMaxMs: number
}

/** A notifier that writes incidents to the log. */
export interface LogNotifierConfig extends NotifierBase {
  readonly className: 'log'
  readonly level: 'info' | 'warn' | 'error'
}

/** A notifier. */
export type NotifierConfig = HttpNotifierConfig | LogNotifierConfig

/** The validated configuration (durations in ms). */
export interface MonitorConfig {
  readonly clusters: readonly ClusterConfig[]
  readonly storage: {
    readonly intervals: number
    readonly expireGroupMs: number
    readonly minDistanceMs: number
    readonly groupAllowlist?: RegExp
    readonly groupDenylist?: RegExp
  }
  readonly evaluator: { readonly expireCacheMs: number; readonly minimumComplete: number; readonly allowedLag: number }
  readonly httpserver: { readonly host: string; readonly port: number }
  readonly dashboard: { readonly enabled: boolean; readonly refreshMs: number }
  readonly notifiers: readonly NotifierConfig[]
  readonly coordination?: { readonly log: string; readonly topic: string; readonly group: string; readonly sessionTimeoutMs: number }
}

/** The body sent when a notifier has no template of its own. */
export const DEFAULT_OPEN_BODY =
  '{"event":"open","id":"{{.ID}}","cluster":{{jsonencoder .Cluster}},"group":{{jsonencoder .Group}},"start":"{{formattimestamp .Start}}",' +
  '"status":"{{.Result.Status}}","totallag":{{.Result.TotalLag}},"complete":{{.Result.Complete}},"partitions":{{partitioncounts .Result.Partitions}},' +
  '"maxlag":{{jsonencoder .Result.Maxlag}},"extras":{{jsonencoder .Extras}}}'

/** The close body when a notifier has no template of its own. */
export const DEFAULT_CLOSE_BODY =
  '{"event":"close","id":"{{.ID}}","cluster":{{jsonencoder .Cluster}},"group":{{jsonencoder .Group}},"start":"{{formattimestamp .Start}}",' +
  '"status":"{{.Result.Status}}","extras":{{jsonencoder .Extras}}}'

const SAMPLE_PARTITION = { topic: 't', partition: 0, owner: '/127.0.0.1', client_id: 'c', status: 'WARN', start: null, end: null, current_lag: 1, complete: 1 }

/** Sample template data, used to check templates when the config loads. */
export function sampleTemplateData(extras: { [k: string]: string } = {}): unknown {
  return {
    Cluster: 'cluster',
    Group: 'group',
    ID: '00000000-0000-0000-0000-000000000000',
    Start: new Date(0),
    Extras: new Map(Object.entries(extras)),
    Result: { cluster: 'cluster', group: 'group', status: 'WARN', complete: 1, partitions: [SAMPLE_PARTITION], partition_count: 1, maxlag: SAMPLE_PARTITION, totallag: 1 },
  }
}

function configError(source: string, message: string): TributaryError {
  return new TributaryError('TRIB_MONITOR_CONFIG', `${source}: ${message}`, { details: { source } })
}

const dotted = (p: readonly PropertyKey[]): string => (p.length === 0 ? '(top level)' : p.map(String).join('.'))

/**
 * Validates a parsed config object. `source` names it in errors (a file name); `baseDir` resolves
 * template file paths; `lineOf` maps a field path to a line number when known.
 */
export function parseConfig(raw: unknown, source = 'config', baseDir = process.cwd(), lineOf: (p: readonly PropertyKey[]) => number | undefined = () => undefined): MonitorConfig {
  const result = rootSchema.safeParse(raw ?? {})
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined]
      return keys
        .map((key) => {
          const p = key === undefined ? issue.path : [...issue.path, key]
          const line = lineOf(p)
          const where = line === undefined ? '' : `line ${line}: `
          const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message.replace(/^Invalid input: /, '')
          return `${where}${dotted(p)}: ${message}`
        })
        .join('\n  ')
    })
    throw configError(source, lines.length === 1 ? lines[0] : `\n  ${lines.join('\n  ')}`)
  }
  const c = result.data
  const re = (s: string | undefined): RegExp | undefined => (s === undefined ? undefined : new RegExp(s))
  const ms = (s: number): number => Math.round(s * 1000)

  const clusters: ClusterConfig[] = Object.entries(c.clusters).map(([name, k]) => {
    const location = k.log === undefined ? { backend: 'kafka' as const, brokers: k.servers as string[] } : parseLogUrl(k.log)
    const kind = location.backend === 'kafka' ? 'kafka' : 'embedded'
    return {
      name,
      kind,
      log: k.log ?? `kafka://${(k.servers as string[]).join(',')}`,
      servers: location.backend === 'kafka' ? location.brokers : [],
      offsetRefreshMs: ms(k['offset-refresh']),
      topicRefreshMs: ms(k['topic-refresh']),
      offsetsTopic: k['offsets-topic'],
      startLatest: k['start-latest'],
      selfGroup: k['self-group'],
      pollIntervalMs: ms(k['poll-interval']),
      clientId: k['client-id'],
      groupAllowlist: re(k['group-allowlist']),
      groupDenylist: re(k['group-denylist']),
      kafka: location.backend === 'kafka' ? mergeSecurity(location.security, k.kafka) : undefined,
    }
  })

  const template = (text: string, name: string, extras: { [k: string]: string }): Template => {
    try {
      const t = compileTemplate(text, name)
      t.render(sampleTemplateData(extras))
      return t
    } catch (err) {
      throw configError(source, `${name}: ${(err as Error).message.replace(`template ${name}: `, '')}`)
    }
  }
  const readTemplate = (file: string, field: string): string => {
    const full = path.resolve(baseDir, file)
    try {
      return fs.readFileSync(full, 'utf8')
    } catch (err) {
      throw configError(source, `${field}: cannot read template file ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }

  const notifiers: NotifierConfig[] = Object.entries(c.notifiers).map(([name, n]) => {
    const base = {
      name,
      intervalMs: ms(n.interval),
      threshold: n.threshold,
      sendOnce: n['send-once'],
      sendClose: n['send-close'],
      sendIntervalMs: ms(n['send-interval'] ?? n.interval),
      groupAllowlist: re(n['group-allowlist']),
      groupDenylist: re(n['group-denylist']),
      extras: n.extras,
    }
    if (n['class-name'] === 'log') return { ...base, className: 'log', level: n.level }
    const at = `notifiers.${name}`
    const body = (file: string | undefined, inline: string | undefined, fallback: string, field: string): Template =>
      template(file !== undefined ? readTemplate(file, `${at}.template-${field}`) : (inline ?? fallback), `${at}.${file !== undefined ? 'template' : 'body'}-${field}`, n.extras)
    return {
      ...base,
      className: 'http',
      urlOpen: template(n['url-open'], `${at}.url-open`, n.extras),
      methodOpen: n['method-open'],
      bodyOpen: body(n['template-open'], n['body-open'], DEFAULT_OPEN_BODY, 'open'),
      urlClose: n['url-close'] === undefined ? undefined : template(n['url-close'], `${at}.url-close`, n.extras),
      methodClose: n['method-close'],
      bodyClose: body(n['template-close'], n['body-close'], DEFAULT_CLOSE_BODY, 'close'),
      headers: n.headers,
      basicAuth: n['basic-auth'],
      timeoutMs: ms(n.timeout),
      retries: n.retries,
      backoffInitialMs: ms(n.backoff.initial),
      backoffMaxMs: ms(n.backoff.max),
    }
  })
  for (const n of notifiers) {
    if (n.className === 'http' && n.sendClose && n.urlClose === undefined) {
      throw configError(source, `notifiers.${n.name}.url-close: required when send-close is true`)
    }
  }

  const [host, port] = [c.httpserver.address.slice(0, c.httpserver.address.lastIndexOf(':')), Number(c.httpserver.address.slice(c.httpserver.address.lastIndexOf(':') + 1))]
  if (port > 65535) throw configError(source, 'httpserver.address: port must be at most 65535')
  return {
    clusters,
    storage: {
      intervals: c.storage.intervals,
      expireGroupMs: ms(c.storage['expire-group']),
      minDistanceMs: ms(c.storage['min-distance']),
      groupAllowlist: re(c.storage['group-allowlist']),
      groupDenylist: re(c.storage['group-denylist']),
    },
    evaluator: { expireCacheMs: ms(c.evaluator['expire-cache']), minimumComplete: c.evaluator['minimum-complete'], allowedLag: c.evaluator['allowed-lag'] },
    httpserver: { host, port },
    dashboard: { enabled: c.dashboard.enabled, refreshMs: ms(c.dashboard.refresh) },
    notifiers,
    coordination:
      c.coordination === undefined
        ? undefined
        : { log: c.coordination.log, topic: c.coordination.topic, group: c.coordination.group, sessionTimeoutMs: ms(c.coordination['session-timeout']) },
  }
}

/** Parses YAML text and validates it; errors name `source`, the line and the field. */
export function parseConfigYaml(text: string, source = 'config', baseDir = process.cwd()): MonitorConfig {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const at = lineCounter.linePos(e.pos[0])
    throw configError(source, `line ${at.line}, column ${at.col}: invalid YAML: ${e.message.split('\n')[0]}`)
  }
  const lineOf = (p: readonly PropertyKey[]): number | undefined => {
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n) as unknown[], true)
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line
    }
    return undefined
  }
  return parseConfig(doc.toJS(), source, baseDir, lineOf)
}

/** Reads and validates a YAML config file. Throws `TRIB_MONITOR_CONFIG` naming the file and the field. */
export function loadConfig(file: string): MonitorConfig {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw configError(file, `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parseConfigYaml(text, file, path.dirname(path.resolve(file)))
}
