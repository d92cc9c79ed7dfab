/**
 * One HTTP server for a `tributary` process: route modules (the monitor's Burrow API, pipeline
 * status, views, metrics) mount on one fastify instance, listening on 127.0.0.1 by default.
 *
 * @example
 * ```ts
 * const server = await startHttpServer({ port: 8000, portFallback: true, routes: [pipelineRoutes(runtime)] })
 * console.log(server.url) // http://127.0.0.1:8000 (or the next free port)
 * await server.close()
 * ```
 * @module
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { TributaryError } from '../core/errors.ts'

/** Something that adds routes to the shared fastify instance. */
export type RouteModule = (app: FastifyInstance) => void | Promise<void>

/** Options for {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Interface to bind; default `127.0.0.1`. */
  host?: string
  /** Port; `0` picks a free one. Default 8000. */
  port?: number
  /** When the port is taken, try the next ones (up to 20) instead of failing. Default false. */
  portFallback?: boolean
  routes: readonly RouteModule[]
}

/** A listening server. */
export interface HttpServer {
  readonly app: FastifyInstance
  /** `http://host:port` as bound. */
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

/** Builds the fastify instance with every route module mounted, without listening (for `inject` in tests). */
export async function buildHttpApp(routes: readonly RouteModule[]): Promise<FastifyInstance> {
  // Kafka allows 249-character names; two of them in a path exceed fastify's default 100-character parameter limit.
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: 1024 } })
  for (const register of routes) await register(app)
  return app
}

/** Starts the server; `TRIB_INVALID_ARGUMENT` names the address when it cannot bind. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const host = options.host ?? '127.0.0.1'
  const first = options.port ?? 8000
  const tries = options.portFallback && first !== 0 ? 20 : 1
  let lastError: unknown
  for (let i = 0; i < tries; i++) {
    const app = await buildHttpApp(options.routes)
    try {
      await app.listen({ host, port: first + i })
    } catch (err) {
      lastError = err
      await app.close()
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue
      break
    }
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : first + i
    const shownHost = host.includes(':') ? `[${host}]` : host
    return { app, url: `http://${shownHost}:${port}`, port, close: () => app.close() }
  }
  throw new TributaryError('TRIB_INVALID_ARGUMENT', `cannot listen on ${host}:${first}${tries > 1 ? `..${first + tries - 1}` : ''}: ${(lastError as Error)?.message}`, { cause: lastError })
}
