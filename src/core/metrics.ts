/**
 * The project's Prometheus registry (prom-client). Components register their metrics here and the
 * HTTP server exposes `registry.metrics()` at `/metrics`.
 *
 * @example
 * ```ts
 * const appended = new Counter({ name: 'tributary_log_appended_records_total', help: '...', registers: [metricsRegistry] })
 * ```
 * @module
 */
import { Registry } from 'prom-client'

/** The registry all Tributary metrics are registered in. */
export const metricsRegistry = new Registry()

/** Returns a metric already registered under `name`, or the one `create` makes (idempotent registration). */
export function metric<T>(name: string, create: () => T): T {
  const existing = metricsRegistry.getSingleMetric(name)
  return (existing as T | undefined) ?? create()
}
