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
 * | `GET /burrow/admin` | `GOOD` |
 * | `GET /metrics` | Prometheus text (optional in {@link monitorRoutes}) |
 * | `GET /` | the dashboard |
 *
 * {@link monitorRoutes} mounts these on a shared fastify instance: the Burrow routes live in their
 * own encapsulated plugins (prefixes `/v3` and `/burrow`), so their not-found and error handlers
 * and their JSON body parser apply to them only, never to other modules' routes.
 * {@link buildApi} is the monitor's own server: the same routes, `/metrics`, and Burrow's catch-all
 * answer for every unknown path.
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
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.ts'
import type { Evaluator } from './evaluator.ts'
import type { SourceInfo } from './source.ts'
import { publicOffset, type GroupStatus, type PublicOffset } from './status.ts'
import type { GroupPartition, MonitorStorage } from './storage.ts'

/** What the API reads and changes. */
export interface MonitorView {
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
  /** Dashboard refresh period (ms). */
  readonly dashboardRefreshMs: number
  /** Whether `/` serves the dashboard. */
  readonly dashboardEnabled: boolean
}

type Params = { cluster: string; topic: string; group: string }

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

type Reply = (req: FastifyRequest, res: FastifyReply, status: number, message: string, body?: { [k: string]: unknown }) => FastifyReply

const reply: Reply = (req, res, status, message, body = {}) =>
  res
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: status >= 400, message, ...body, request: { url: req.url.split('?')[0], host: HOST } })

/**
 * The monitor's routes as one module for a shared fastify server (`startHttpServer({ routes })` of
 * `tributary/server`): Burrow's API under `/v3`, `/burrow/admin`, the dashboard and, when asked,
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
    await app.register(async (v3) => burrowV3(v3, view), { prefix: '/v3' })
    await app.register(async (admin) => burrowAdmin(admin), { prefix: '/burrow' })
    if (options.metrics) {
      await app.register(async (metrics) => {
        metrics.get('/metrics', async (_req, res) => res.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(await view.metricsText()))
      })
    }
    if (options.dashboard ?? view.dashboardEnabled) await app.register(async (dashboard) => dashboardRoutes(dashboard, view))
  }
}

/** Builds the monitor's own fastify app (not listening yet: call `listen`, or `inject` in tests). */
export function buildApi(view: MonitorView): FastifyInstance {
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH } })
  app.setNotFoundHandler((req, res) => reply(req, res, 404, 'no such path'))
  void app.register(monitorRoutes(view, { metrics: true }))
  return app
}

/** Handlers shared by the encapsulated Burrow plugins: Burrow's envelope for errors and unknown paths. */
function burrowHandlers(app: FastifyInstance): void {
  // Burrow ignores request bodies; clients that send `content-type: application/json` with an empty
  // DELETE must not get fastify's 400.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined)
    try {
      done(null, JSON.parse(body as string))
    } catch (err) {
      done(Object.assign(err as Error, { statusCode: 400 }), undefined)
    }
  })
  app.setNotFoundHandler((req, res) => reply(req, res, 404, 'no such path'))
  app.setErrorHandler((err: Error & { statusCode?: number }, req, res) => reply(req, res, err.statusCode && err.statusCode < 500 ? err.statusCode : 500, err.message))
}

function burrowAdmin(app: FastifyInstance): void {
  burrowHandlers(app)
  app.get('/admin', (_req, res) => res.header('content-type', 'text/plain; charset=utf-8').send('GOOD'))
}

function burrowV3(app: FastifyInstance, view: MonitorView): void {
  burrowHandlers(app)
  const storage = view.storage
  const ok = (req: FastifyRequest, res: FastifyReply, message: string, body: { [k: string]: unknown }): FastifyReply => reply(req, res, 200, message, body)

  app.get('/kafka', (req, res) => ok(req, res, 'cluster list returned', { clusters: storage.clusters() }))
  app.get<{ Params: Params }>('/kafka/:cluster', (req, res) => {
    const info = view.clusterInfo(req.params.cluster)
    if (!info) return reply(req, res, 404, 'cluster not found')
    return ok(req, res, 'cluster module detail returned', { module: info })
  })

  app.get<{ Params: Params }>('/kafka/:cluster/topic', (req, res) => {
    const topics = storage.topics(req.params.cluster)
    if (!topics) return reply(req, res, 404, 'cluster not found')
    return ok(req, res, 'topic list returned', { topics })
  })

  app.get<{ Params: Params }>('/kafka/:cluster/topic/:topic', (req, res) => {
    const offsets = storage.topicOffsets(req.params.cluster, req.params.topic)
    if (!offsets) return reply(req, res, 404, 'cluster or topic not found')
    return ok(req, res, 'topic offsets returned', { offsets })
  })

  app.get<{ Params: Params }>('/kafka/:cluster/topic/:topic/consumers', (req, res) => {
    const consumers = storage.topicConsumers(req.params.cluster, req.params.topic, Date.now())
    if (!consumers) return reply(req, res, 404, 'cluster or topic not found')
    return ok(req, res, 'consumers of topic returned', { consumers })
  })

  app.get<{ Params: Params }>('/kafka/:cluster/consumer', (req, res) => {
    const consumers = storage.groups(req.params.cluster, Date.now())
    if (!consumers) return reply(req, res, 404, 'cluster not found')
    return ok(req, res, 'consumer list returned', { consumers })
  })

  app.get<{ Params: Params }>('/kafka/:cluster/consumer/:group', (req, res) => {
    const { cluster, group } = req.params
    const state = storage.group(cluster, group, Date.now())
    if (!state) return reply(req, res, 404, 'cluster or consumer not found')
    const intervals = storage.options.intervals
    const topics: { [topic: string]: { offsets: (PublicOffset | null)[]; owner: string; client_id: string; 'current-lag': number }[] } = {}
    for (const topic of [...state.topics.keys()].sort()) {
      const slots = state.topics.get(topic) ?? []
      const hwm = storage.topicOffsets(cluster, topic) ?? []
      const count = Math.max(slots.length, hwm.length)
      topics[topic] = Array.from({ length: count }, (_, p) => {
        const slot = slots[p]
        const count = slot?.ring.length ?? 0
        const offsets: (PublicOffset | null)[] = new Array<PublicOffset | null>(Math.max(0, intervals - count)).fill(null)
        for (let i = 0; i < count; i++) offsets.push(publicOffset((slot as GroupPartition).ring.entry(i)))
        const latest = hwm[p] ?? -1
        const lastOffset = count > 0 ? (slot as GroupPartition).ring.offset(count - 1) : -1
        return { offsets, owner: slot?.owner ?? '', client_id: slot?.clientId ?? '', 'current-lag': count > 0 && latest >= 0 ? Math.max(0, latest - lastOffset) : 0 }
      })
    }
    return ok(req, res, 'consumer detail returned', { topics })
  })

  const status = (all: boolean) => (req: FastifyRequest<{ Params: Params }>, res: FastifyReply) => {
    const result = view.evaluator.evaluate(req.params.cluster, req.params.group)
    if (result.status === 'NOTFOUND') return reply(req, res, 404, 'cluster or consumer not found')
    const shown: GroupStatus = all ? result : { ...result, partitions: result.partitions.filter((p) => p.status !== 'OK') }
    return ok(req, res, 'consumer status returned', { status: shown })
  }
  app.get<{ Params: Params }>('/kafka/:cluster/consumer/:group/status', status(false))
  app.get<{ Params: Params }>('/kafka/:cluster/consumer/:group/lag', status(true))

  app.delete<{ Params: Params }>('/kafka/:cluster/consumer/:group', (req, res) => {
    if (!view.deleteGroup(req.params.cluster, req.params.group)) return reply(req, res, 404, 'cluster or consumer not found')
    return ok(req, res, 'consumer group removed', {})
  })

  app.delete<{ Params: Params }>('/kafka/:cluster/consumer/:group/topic/:topic', (req, res) => {
    if (!view.deleteGroupTopic(req.params.cluster, req.params.group, req.params.topic)) return reply(req, res, 404, 'cluster, consumer or topic not found')
    return ok(req, res, 'consumer group topic removed', {})
  })
}

function dashboardRoutes(app: FastifyInstance, view: MonitorView): void {
  const storage = view.storage
  app.get('/', (_req, res) => res.header('content-type', 'text/html; charset=utf-8').send(DASHBOARD_HTML))
  app.get('/dashboard.js', (_req, res) => res.header('content-type', 'text/javascript; charset=utf-8').send(DASHBOARD_JS))
  app.get('/dashboard/summary', (req, res) => {
    const now = Date.now()
    const clusters = storage.clusters().map((name) => ({
      name,
      'class-name': view.clusterInfo(name)?.['class-name'] ?? 'unknown',
      groups: (storage.groups(name, now) ?? []).map((group) => {
        const s = view.evaluator.evaluate(name, group, now)
        return { group, status: s.status, totallag: s.totallag, partition_count: s.partition_count, complete: s.complete }
      }),
    }))
    return reply(req, res, 200, 'dashboard summary returned', { refresh: view.dashboardRefreshMs, clusters })
  })
}
