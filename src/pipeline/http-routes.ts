/**
 * HTTP routes of the pipeline runtime, mounted on the shared server (`src/server`):
 *
 * - `GET /v1/pipelines` → `{ pipelines: PipelineStatus[] }` (state, counters, last error, plugins)
 * - `GET /v1/pipelines/:id` → one `PipelineStatus`, or 404 `{ error }`
 * - `GET /metrics` (when `metrics` is true) → the core prom-client registry, Conduit's metric names
 *
 * @example
 * ```ts
 * const server = await startHttpServer({ port: 8000, routes: [pipelineRoutes(service, { metrics: true })] })
 * ```
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { metricsRegistry } from '../core/metrics.ts'
import type { PipelineService } from './service.ts'

/** Routes for `service`; `metrics: true` also serves `/metrics`. */
export function pipelineRoutes(service: PipelineService, options: { metrics?: boolean } = {}): (app: FastifyInstance) => void {
  return (app) => {
    app.get('/v1/pipelines', async () => ({ pipelines: service.list() }))
    app.get<{ Params: { id: string } }>('/v1/pipelines/:id', async (request, reply) => {
      const runner = service.get(request.params.id)
      if (!runner) return reply.code(404).send({ error: `no pipeline ${JSON.stringify(request.params.id)}; pipelines: ${[...service.runners.keys()].join(', ') || '(none)'}` })
      return runner.status()
    })
    if (options.metrics) {
      app.get('/metrics', async (_request, reply) => {
        reply.header('content-type', metricsRegistry.contentType)
        return metricsRegistry.metrics()
      })
    }
  }
}
