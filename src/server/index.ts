/**
 * `tributary/server`: one HTTP server that the monitor, pipeline and view routes mount on.
 * @module
 */
export { startHttpServer, buildHttpApp, type HttpServer, type HttpServerOptions, type RouteModule } from './http-server.ts'
