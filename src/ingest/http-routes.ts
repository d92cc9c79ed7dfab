/**
 * HTTP routes of ingestion jobs, mounted on the shared server (`src/server`):
 *
 * - `GET /v1/jobs` → `{ instance, jobs: DriverStatus[] }`, each in AresDB's driver status shape
 *   (`totalProcessors`, `runningProcessors`, `stoppedProcessors`, `failedProcessors`,
 *   `restartingProcessors`, `processorContext{id: {totalMessages, failedMessages, restartCount,
 *   errors[{timestamp, message}], …}}`)
 * - `GET /v1/jobs/:name` → one job's status (`name` is `job`, or `job@cluster`), or 404 `{ error }`
 * - `POST /v1/jobs/:name/restart` (optional `?processor=N`) → 202 `{ job, restarted: [ids] }`: the
 *   processors stop (their batches in flight finish) and start again at once
 * - `GET /metrics` (when `metrics` is true) → the core prom-client registry
 *
 * @example
 * ```ts
 * const server = await startHttpServer({ port: 8000, routes: [ingestRoutes(jobs, { metrics: true })] })
 * ```
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { metricsRegistry } from '../core/metrics.ts'
import type { JobController } from './controller.ts'

/** Options of {@link ingestRoutes}. */
export interface IngestRoutesOptions {
  /** Also serve `/metrics`. */
  metrics?: boolean
  /** The instance id shown in `/v1/jobs`. */
  instance?: string
}

/** Routes for the jobs of `jobs`. */
export function ingestRoutes(jobs: JobController, options: IngestRoutesOptions = {}): (app: FastifyInstance) => void {
  const notFound = (name: string): { error: string } => ({ error: `no job ${JSON.stringify(name)} on this instance; jobs: ${[...jobs.drivers.keys()].join(', ') || '(none)'}` })
  return (app) => {
    app.get('/v1/jobs', async () => ({ instance: options.instance ?? null, jobs: [...jobs.drivers.values()].map((d) => d.status()) }))
    app.get<{ Params: { name: string } }>('/v1/jobs/:name', async (request, reply) => {
      const driver = jobs.driver(request.params.name)
      if (!driver) return reply.code(404).send(notFound(request.params.name))
      return driver.status()
    })
    app.post<{ Params: { name: string }; Querystring: { processor?: string } }>('/v1/jobs/:name/restart', async (request, reply) => {
      const driver = jobs.driver(request.params.name)
      if (!driver) return reply.code(404).send(notFound(request.params.name))
      const ids = Object.keys(driver.status().processorContext).map(Number)
      const wanted = request.query.processor
      if (wanted !== undefined) {
        const id = Number(wanted)
        if (!Number.isInteger(id) || !ids.includes(id)) return reply.code(400).send({ error: `processor ${JSON.stringify(wanted)} is not one of job ${request.params.name}'s processors on this instance (${ids.join(', ') || 'none'})` })
        driver.restart(id, 0)
        return reply.code(202).send({ job: request.params.name, restarted: [id] })
      }
      driver.restart(undefined, 0)
      return reply.code(202).send({ job: request.params.name, restarted: ids })
    })
    if (options.metrics) {
      app.get('/metrics', async (_request, reply) => {
        reply.header('content-type', metricsRegistry.contentType)
        return metricsRegistry.metrics()
      })
    }
  }
}
