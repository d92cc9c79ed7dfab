/**
 * Burrow's HTTP API v3 on fastify — same paths, same JSON — plus `/metrics` and the dashboard.
 *
 * | route | answer |
 * |---|---|
 * | `GET /v3/kafka` | `clusters` |
 * | `GET /v3/kafka/:cluster` | `module` (the cluster's source settings) |
 * | `GET /v3/kafka/:cluster/topic` | `topics` |
 * | `GET /v3/kafka/:cluster/topic/:topic` | `offsets` (newest high watermark per partition) |
 * | `GET /v3/kafka/:cluster/topic/:topic/consumers` | `consumers` |
 * | `GET /v3/kafka/:cluster/consumer` | `consumers` |
 * | `GET /v3/kafka/:cluster/consumer/:group` | `topics` (per partition: `offsets`, `owner`, `client_id`, `current-lag`) |
 * | `GET /v3/kafka/:cluster/consumer/:group/status` | `status` with the non-OK partitions |
 * | `GET /v3/kafka/:cluster/consumer/:group/lag` | `status` with all partitions |
 * | `DELETE /v3/kafka/:cluster/consumer/:group[/topic/:topic]` | removes the group (or its topic) |
 * | `GET /v3/config[/storage\|evaluator\|cluster\|consumer\|notifier[/:name]]` | the config, read-only |
 * | `GET`, `POST /v3/admin/loglevel` | the log level |
 * | `GET /burrow/admin`, `/burrow/admin/ready` | `GOOD`; `READY` or `503 STARTING` |
 * | `GET /metrics` | Prometheus text (optional in {@link monitorRoutes}) |
 * | `GET /` | the dashboard |
 *
 * {@link monitorRoutes} mounts these on a shared fastify instance: the Burrow routes live in their
 * own encapsulated plugins (prefixes `/v3` and `/burrow`), so their not-found and error handlers
 * and their JSON body parser apply to them only, never to other modules' routes.
 * {@link buildApi} is the monitor's own server: the same routes, `/metrics`, and Burrow's answer
 * for every unknown path. Paths, methods, status codes, messages and bodies are Burrow 1.9's,
 * including its router's redirects, `405`s and catch-all `404` (see `burrow-router.ts`); the Burrow
 * quirks kept on purpose are listed in docs/monitor.md.
 *
 * @example
 * ```ts
 * import { startHttpServer } from 'tributary/server'
 * const server = await startHttpServer({ routes: [monitorRoutes(monitor), pipelineRoutes(runtime)] })
 * await fetch(`${server.url}/v3/kafka/local/consumer/billing/status`)
 * ```
 * @module
 */
import os from 'node:os'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions, type RouteHandlerMethod } from 'fastify'
import { clusterModule, consumerModule, DEFAULT_MODULE, evaluatorModule, mainConfig, notifierModule, storageModule } from './burrow-config.ts'
import { BURROW_NOT_FOUND_BODY, resolveUnmatched, type RouteSpec } from './burrow-router.ts'
import type { MonitorConfig } from './config.ts'
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.ts'
import type { Evaluator } from './evaluator.ts'
import type { SourceInfo } from './source.ts'
import { publicOffset, type GroupStatus, type PublicOffset } from './status.ts'
import type { MonitorStorage } from './storage.ts'

/** What the API reads and changes. */
export interface MonitorView {
  readonly config: MonitorConfig
  readonly storage: MonitorStorage
  readonly evaluator: Evaluator
  /** The cluster's source settings; undefined for an unknown cluster. */
  clusterInfo(cluster: string): SourceInfo | undefined
  /** Prometheus exposition text. */
  metricsText(): Promise<string>
  /** Deletes a group (and drops its cached evaluation). */
  deleteGroup(cluster: string, group: string): boolean
  /** Deletes one topic of a group. */
  deleteGroupTopic(cluster: string, group: string, topic: string): boolean
  /** Whether the monitor finished starting (`/burrow/admin/ready`). */
  readonly ready: boolean
  /** The log level, and setting it (`/v3/admin/loglevel`). */
  logLevel: string
  /** Dashboard refresh period (ms). */
  readonly dashboardRefreshMs: number
  /** Whether `/` serves the dashboard. */
  readonly dashboardEnabled: boolean
}

type Params = { cluster: string; topic: string; group: string; name: string }

/** A route module for the shared server (the same shape as `RouteModule` in `tributary/server`). */
export type MonitorRouteModule = (app: FastifyInstance) => Promise<void>

/** Options of {@link monitorRoutes}. */
export interface MonitorRoutesOptions {
  /** Also serve `GET /metrics` (off by default: on a shared server another module may own it). */
  readonly metrics?: boolean
  /** Serve the dashboard at `/`; default `view.dashboardEnabled`. */
  readonly dashboard?: boolean
}

const HOST = os.hostname()

/** Kafka allows 249-character names; two of them in a path exceed fastify's default 100-character parameter limit. */
export const MAX_PARAM_LENGTH = 1024

/** Go's `r.URL.Path`: the decoded path, as Burrow echoes it in `request.url`. */
function requestPath(req: FastifyRequest): string {
  const raw = req.url.split('?')[0]
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** Burrow's `writeResponse`: `application/json`, the payload between `message` and `request`. */
function send(req: FastifyRequest, res: FastifyReply, status: number, body: { [k: string]: unknown }): FastifyReply {
  // A Buffer, so fastify keeps Burrow's bare `application/json` (it appends a charset to JSON it serializes).
  return res
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ ...body, request: { url: requestPath(req), host: HOST } })))
}

/** Burrow's `writeErrorResponse`: `{error: true, message, request}`. */
function sendError(req: FastifyRequest, res: FastifyReply, status: number, message: string): FastifyReply {
  return send(req, res, status, { error: true, message })
}

const ok = (req: FastifyRequest, res: FastifyReply, message: string, body: { [k: string]: unknown } = {}): FastifyReply => send(req, res, 200, { error: false, message, ...body })

interface BurrowRoute extends RouteSpec {
  readonly handler: RouteHandlerMethod
}

type Handler = (req: FastifyRequest<{ Params: Params }>, res: FastifyReply) => FastifyReply | Promise<FastifyReply>

/** Burrow's routes, in the order of its router setup. */
function burrowRoutes(view: MonitorView): BurrowRoute[] {
  const storage = view.storage
  const routes: BurrowRoute[] = []
  const add = (method: string, path: string, handler: Handler): void => {
    routes.push({ method, path, handler: handler as RouteHandlerMethod })
  }
  const clusterOf = (name: string) => view.config.clusters.find((c) => c.name === name)

  add('GET', '/burrow/admin', (_req, res) => res.code(200).header('content-type', 'text/plain; charset=utf-8').send('GOOD'))
  add('GET', '/burrow/admin/ready', (_req, res) =>
    res
      .code(view.ready ? 200 : 503)
      .header('content-type', 'text/plain; charset=utf-8')
      .send(view.ready ? 'READY' : 'STARTING'),
  )

  add('GET', '/v3/kafka', (req, res) => ok(req, res, 'cluster list returned', { clusters: storage.clusters() }))

  const clusterDetail: Handler = (req, res) => {
    const cluster = clusterOf(req.params.cluster)
    if (!cluster) return sendError(req, res, 404, 'cluster module not found')
    return ok(req, res, 'cluster module detail returned', { module: clusterModule(cluster) })
  }
  add('GET', '/v3/kafka/:cluster', clusterDetail)

  add('GET', '/v3/kafka/:cluster/topic', (req, res) => {
    const topics = storage.topics(req.params.cluster)
    if (!topics) return sendError(req, res, 404, 'cluster not found')
    return ok(req, res, 'topic list returned', { topics })
  })

  add('GET', '/v3/kafka/:cluster/topic/:topic', (req, res) => {
    const offsets = storage.topicOffsets(req.params.cluster, req.params.topic)
    if (!offsets) return sendError(req, res, 404, 'cluster or topic not found')
    // Burrow lists only the partitions whose high watermark it has read.
    return ok(req, res, 'topic offsets returned', { offsets: offsets.filter((o) => o >= 0) })
  })

  add('GET', '/v3/kafka/:cluster/topic/:topic/consumers', (req, res) => {
    const consumers = storage.topicConsumers(req.params.cluster, req.params.topic)
    if (!consumers) return sendError(req, res, 404, 'cluster not found')
    return ok(req, res, 'consumers of topic returned', { consumers })
  })

  add('GET', '/v3/kafka/:cluster/consumer', (req, res) => {
    const consumers = storage.listedGroups(req.params.cluster)
    if (!consumers) return sendError(req, res, 404, 'cluster not found')
    return ok(req, res, 'consumer list returned', { consumers })
  })

  add('GET', '/v3/kafka/:cluster/consumer/:group', (req, res) => {
    const { cluster, group } = req.params
    const state = storage.group(cluster, group, Date.now())
    if (!state) return sendError(req, res, 404, 'cluster or consumer not found')
    const intervals = storage.options.intervals
    const topics: { [topic: string]: { offsets: (PublicOffset | null)[]; owner: string; client_id: string; 'current-lag': number }[] } = {}
    for (const topic of [...state.topics.keys()].sort()) {
      const slots = state.topics.get(topic) ?? []
      const hwm = storage.topicOffsets(cluster, topic) ?? []
      topics[topic] = Array.from({ length: Math.max(slots.length, hwm.length) }, (_, p) => {
        const slot = slots[p]
        // A partition the group never committed nor owned has no ring in Burrow: `offsets: []`.
        if (!slot) return { offsets: [], owner: '', client_id: '', 'current-lag': 0 }
        const count = slot.ring.length
        const offsets: (PublicOffset | null)[] = new Array<PublicOffset | null>(Math.max(0, intervals - count)).fill(null)
        for (let i = 0; i < count; i++) offsets.push(publicOffset(slot.ring.entry(i)))
        const latest = hwm[p] ?? -1
        const lag = count > 0 && latest >= 0 ? Math.max(0, latest - slot.ring.offset(count - 1)) : 0
        return { offsets, owner: slot.owner, client_id: slot.clientId, 'current-lag': lag }
      })
    }
    return ok(req, res, 'consumer detail returned', { topics })
  })

  // Burrow answers an unknown group with 404 but `error: false` and a NOTFOUND status body.
  const status =
    (all: boolean): Handler =>
    (req, res) => {
      const result = view.evaluator.evaluate(req.params.cluster, req.params.group)
      const shown: GroupStatus = all ? result : { ...result, partitions: result.partitions.filter((p) => p.status !== 'OK') }
      return send(req, res, result.status === 'NOTFOUND' ? 404 : 200, { error: false, message: 'consumer status returned', status: shown })
    }
  add('GET', '/v3/kafka/:cluster/consumer/:group/status', status(false))
  add('GET', '/v3/kafka/:cluster/consumer/:group/lag', status(true))

  const configList =
    (coordinator: string, modules: () => string[]): Handler =>
    (req, res) =>
      send(req, res, 200, { error: false, message: 'module list returned', request: undefined, coordinator, modules: modules() })
  const configDetail =
    (kind: string, find: (name: string) => { [k: string]: unknown } | undefined): Handler =>
    (req, res) => {
      const module = find(req.params.name)
      if (!module) return sendError(req, res, 404, `${kind} module not found`)
      return ok(req, res, `${kind} module detail returned`, { module })
    }
  const config = view.config
  add('GET', '/v3/config', (req, res) => send(req, res, 200, { error: false, message: 'main config returned', request: undefined, ...mainConfig(config, view.logLevel) }))
  add('GET', '/v3/config/storage', configList('storage', () => [DEFAULT_MODULE]))
  add('GET', '/v3/config/storage/:name', configDetail('storage', (name) => (name === DEFAULT_MODULE ? storageModule(config) : undefined)))
  add('GET', '/v3/config/evaluator', configList('evaluator', () => [DEFAULT_MODULE]))
  add('GET', '/v3/config/evaluator/:name', configDetail('evaluator', (name) => (name === DEFAULT_MODULE ? evaluatorModule(config) : undefined)))
  add('GET', '/v3/config/cluster', configList('cluster', () => config.clusters.map((c) => c.name)))
  add('GET', '/v3/config/cluster/:cluster', clusterDetail)
  add('GET', '/v3/config/consumer', configList('consumer', () => config.clusters.map((c) => c.name)))
  add('GET', '/v3/config/consumer/:name', configDetail('consumer', (name) => mapDefined(clusterOf(name), consumerModule)))
  add('GET', '/v3/config/notifier', configList('notifier', () => config.notifiers.map((n) => n.name)))
  add('GET', '/v3/config/notifier/:name', configDetail('notifier', (name) => mapDefined(config.notifiers.find((n) => n.name === name), notifierModule)))

  // Burrow deletes asynchronously and answers 200 whether or not the group (or topic) existed.
  add('DELETE', '/v3/kafka/:cluster/consumer/:group', (req, res) => {
    view.deleteGroup(req.params.cluster, req.params.group)
    return ok(req, res, 'consumer group removed')
  })
  add('DELETE', '/v3/kafka/:cluster/consumer/:group/topic/:topic', (req, res) => {
    const { cluster, group, topic } = req.params
    // As Burrow: a topic the group does not have is a no-op; removing its last topic removes the group.
    view.deleteGroupTopic(cluster, group, topic)
    return ok(req, res, 'consumer group removed')
  })

  add('GET', '/v3/admin/loglevel', (req, res) => ok(req, res, 'log level returned', { level: burrowLevel(view.logLevel) }))
  add('POST', '/v3/admin/loglevel', (req, res) => {
    const body = req.body as { level?: unknown } | null | undefined
    if (body === undefined || typeof body !== 'object' || Array.isArray(body) || (body !== null && body.level !== undefined && typeof body.level !== 'string')) {
      return sendError(req, res, 400, 'could not decode message body')
    }
    const pinoLevel = LEVELS[String(body?.level ?? '').toLowerCase()]
    if (!pinoLevel) return sendError(req, res, 404, 'unknown log level')
    view.logLevel = pinoLevel
    return ok(req, res, 'set log level')
  })
  return routes
}

/** Burrow's accepted log level names → pino's. */
const LEVELS: { [burrow: string]: string } = { debug: 'debug', trace: 'debug', info: 'info', warning: 'warn', warn: 'warn', error: 'error', fatal: 'fatal' }

/** pino's level as zap names it (zap has no trace). */
const burrowLevel = (level: string): string => (level === 'trace' ? 'debug' : level)

const mapDefined = <T, R>(value: T | undefined, f: (v: T) => R): R | undefined => (value === undefined ? undefined : f(value))

/** Answers a request no route matched as Burrow's router would (redirect, OPTIONS, 405 or catch-all 404). */
function answerUnmatched(routes: readonly RouteSpec[]) {
  return (req: FastifyRequest, res: FastifyReply): FastifyReply => {
    const answer = resolveUnmatched(routes, req.method, req.url)
    switch (answer.kind) {
      case 'redirect':
        res.code(answer.status).header('location', answer.location)
        if (req.method === 'GET' || req.method === 'HEAD') return res.header('content-type', 'text/html; charset=utf-8').send(`<a href="${escapeHtml(answer.location)}">Moved Permanently</a>.\n\n`)
        return res.send()
      case 'options':
        return res.code(200).header('allow', answer.allow).send()
      case 'method-not-allowed':
        return res.code(405).header('allow', answer.allow).header('content-type', 'text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send('Method Not Allowed\n')
      case 'not-found':
        return res.code(404).header('content-type', 'text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(BURROW_NOT_FOUND_BODY)
    }
  }
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;')

/** Mounts routes under `prefix` in an encapsulated plugin with Burrow's parser, error and unmatched handlers. */
async function mountBurrow(app: FastifyInstance, prefix: string, routes: readonly BurrowRoute[], all: readonly RouteSpec[]): Promise<void> {
  await app.register(
    async (scope) => {
      // Burrow ignores request bodies (except the log level's); an empty JSON body is not an error.
      // Burrow reads bodies whatever their content type and ignores them except the log level's; a
      // body that is not JSON reaches the handler as undefined (the log level answers 400 then).
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
        try {
          done(null, body === '' ? undefined : JSON.parse(body as string))
        } catch {
          done(null, undefined)
        }
      })
      scope.setNotFoundHandler(answerUnmatched(all))
      scope.setErrorHandler((err: Error & { statusCode?: number }, req, res) => sendError(req, res, err.statusCode && err.statusCode < 500 ? err.statusCode : 500, err.message))
      const unmatched = answerUnmatched(all)
      for (const r of routes) {
        // fastify matches an empty parameter (`/v3/kafka/` as `:cluster = ''`); httprouter does not.
        const handler: RouteHandlerMethod = function (req, res) {
          for (const value of Object.values(req.params as { [k: string]: string })) if (value === '') return unmatched(req, res)
          return r.handler.call(this, req, res)
        }
        scope.route({ method: r.method, url: r.path.slice(prefix.length), handler, exposeHeadRoute: false })
      }
    },
    { prefix },
  )
}

/**
 * The monitor's routes as one module for a shared fastify server (`startHttpServer({ routes })` of
 * `tributary/server`): Burrow's API under `/v3` and `/burrow`, the dashboard and, when asked,
 * `/metrics`. Each part is an encapsulated plugin: its not-found and error handlers and its JSON
 * parser do not reach other modules' routes.
 *
 * @example
 * ```ts
 * const server = await startHttpServer({ port: 8000, routes: [monitorRoutes(monitor, { metrics: true })] })
 * ```
 */
export function monitorRoutes(view: MonitorView, options: MonitorRoutesOptions = {}): MonitorRouteModule {
  return async (app) => {
    const routes = burrowRoutes(view)
    await mountBurrow(
      app,
      '/v3',
      routes.filter((r) => r.path.startsWith('/v3')),
      routes,
    )
    await mountBurrow(
      app,
      '/burrow',
      routes.filter((r) => r.path.startsWith('/burrow/')),
      routes,
    )
    if (options.metrics) {
      await app.register(async (metrics) => {
        metrics.get('/metrics', { exposeHeadRoute: false }, async (_req, res) => res.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(await view.metricsText()))
      })
    }
    if (options.dashboard ?? view.dashboardEnabled) await app.register(async (dashboard) => dashboardRoutes(dashboard, view))
  }
}

/** The paths {@link buildApi} serves outside Burrow's table, for its 405 answers. */
const OWN_ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/dashboard.js' },
  { method: 'GET', path: '/dashboard/summary' },
]

/** Builds the monitor's own fastify app (not listening yet: call `listen`, or `inject` in tests). */
export function buildApi(view: MonitorView): FastifyInstance {
  const app: FastifyInstance = Fastify({
    logger: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // No route here has a schema: plain compilers keep fastify from loading ajv (memory of the monitor).
    schemaController: { compilersFactory: { buildValidator: () => () => () => true, buildSerializer: () => () => (data: unknown) => JSON.stringify(data) } } as unknown as FastifyServerOptions['schemaController'],
  })
  const routes: RouteSpec[] = [...burrowRoutes(view), ...(view.dashboardEnabled ? OWN_ROUTES : OWN_ROUTES.slice(0, 1))]
  app.setNotFoundHandler(answerUnmatched(routes))
  void app.register(monitorRoutes(view, { metrics: true }))
  return app
}

function dashboardRoutes(app: FastifyInstance, view: MonitorView): void {
  const storage = view.storage
  app.get('/', { exposeHeadRoute: false }, (_req, res) => res.header('content-type', 'text/html; charset=utf-8').send(DASHBOARD_HTML))
  app.get('/dashboard.js', { exposeHeadRoute: false }, (_req, res) => res.header('content-type', 'text/javascript; charset=utf-8').send(DASHBOARD_JS))
  app.get('/dashboard/summary', { exposeHeadRoute: false }, (req, res) => {
    const now = Date.now()
    const clusters = storage.clusters().map((name) => ({
      name,
      'class-name': view.clusterInfo(name)?.['class-name'] ?? 'unknown',
      groups: (storage.groups(name, now) ?? []).map((group) => {
        const s = view.evaluator.evaluate(name, group, now)
        return { group, status: s.status, totallag: s.totallag, partition_count: s.partition_count, complete: s.complete }
      }),
    }))
    return ok(req, res, 'dashboard summary returned', { refresh: view.dashboardRefreshMs, clusters })
  })
}
