/**
 * Notifier classes: `http` (templated URL and body, open and close, basic auth, headers, timeout,
 * retries with backoff) and `log`.
 *
 * `send` never blocks and never throws: it starts the delivery and returns. A failing HTTP endpoint
 * is retried with exponential backoff (`retries`, `backoff`), each failure logged; after the last
 * retry the notification is logged as lost (`TRIB_MONITOR_NOTIFY`) and counted. Evaluation goes on
 * meanwhile. `close()` cancels pending retries and waits for deliveries in flight.
 *
 * @example
 * ```ts
 * const notifier = createNotifier(config.notifiers[0], { logger, metrics })
 * notifier.send({ kind: 'open', cluster: 'local', group: 'billing', id, start: new Date(), result })
 * await notifier.close()
 * ```
 * @module
 */
import { Backoff, sleep } from '../core/backoff.ts'
import { TributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { HttpNotifierConfig, LogNotifierConfig, NotifierConfig } from './config.ts'
import type { MonitorMetrics } from './metrics.ts'
import type { GroupStatus } from './status.ts'

/** One notification. */
export interface NotificationEvent {
  readonly kind: 'open' | 'close'
  readonly cluster: string
  readonly group: string
  /** The incident id (a UUID), the same for its open and close notifications. */
  readonly id: string
  /** When the incident started. */
  readonly start: Date
  readonly result: GroupStatus
}

/** A configured notifier. */
export interface Notifier {
  readonly config: NotifierConfig
  /** Starts delivering; returns at once. */
  send(event: NotificationEvent): void
  /** Deliveries in flight (including ones waiting to retry). */
  readonly pending: number
  /** Cancels retries and waits for deliveries in flight. */
  close(): Promise<void>
}

/** Dependencies of notifiers. */
export interface NotifierDeps {
  readonly logger: Logger
  readonly metrics: MonitorMetrics
}

/** The data templates see: `.Cluster .Group .ID .Start .Extras .Result`. */
export function templateData(event: NotificationEvent, extras: { readonly [k: string]: string }): unknown {
  return { Cluster: event.cluster, Group: event.group, ID: event.id, Start: event.start, Extras: new Map(Object.entries(extras)), Result: event.result }
}

class HttpNotifier implements Notifier {
  readonly config: HttpNotifierConfig
  readonly #deps: NotifierDeps
  readonly #inflight = new Set<Promise<void>>()
  readonly #controller = new AbortController()

  constructor(config: HttpNotifierConfig, deps: NotifierDeps) {
    this.config = config
    this.#deps = deps
  }

  get pending(): number {
    return this.#inflight.size
  }

  send(event: NotificationEvent): void {
    if (this.#controller.signal.aborted) return
    const delivery = this.#deliver(event).catch((err: unknown) => {
      this.#deps.logger.error({ notifier: this.config.name, err: (err as Error).message }, 'notification failed')
    })
    this.#inflight.add(delivery)
    void delivery.finally(() => this.#inflight.delete(delivery))
  }

  async close(): Promise<void> {
    this.#controller.abort()
    await Promise.all([...this.#inflight])
  }

  async #deliver(event: NotificationEvent): Promise<void> {
    const c = this.config
    const open = event.kind === 'open'
    const data = templateData(event, c.extras)
    const url = (open ? c.urlOpen : c.urlClose)?.render(data)
    if (url === undefined) return
    const body = (open ? c.bodyOpen : c.bodyClose).render(data)
    const method = open ? c.methodOpen : c.methodClose
    const headers: { [k: string]: string } = { 'content-type': 'application/json', ...c.headers }
    if (c.basicAuth) headers.authorization = `Basic ${Buffer.from(`${c.basicAuth.username}:${c.basicAuth.password}`).toString('base64')}`
    const backoff = new Backoff({ initialMs: c.backoffInitialMs, maxMs: c.backoffMaxMs })
    const log = { notifier: c.name, event: event.kind, cluster: event.cluster, group: event.group, id: event.id, url }
    const signal = this.#controller.signal
    for (let attempt = 0; ; attempt++) {
      let failure: string
      try {
        const response = await fetch(url, {
          method,
          headers,
          body: method === 'GET' || method === 'HEAD' ? undefined : body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(c.timeoutMs)]),
        })
        await response.arrayBuffer().catch(() => undefined)
        if (response.status >= 200 && response.status < 300) {
          this.#deps.metrics.notifications.inc({ notifier: c.name, event: event.kind, result: 'sent' })
          this.#deps.logger.debug({ ...log, status: response.status }, 'notification sent')
          return
        }
        failure = `HTTP ${response.status}`
      } catch (err) {
        if (signal.aborted) return
        failure = (err as Error).name === 'TimeoutError' ? `no answer within ${c.timeoutMs} ms` : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message)
      }
      if (attempt >= c.retries) {
        this.#deps.metrics.notifications.inc({ notifier: c.name, event: event.kind, result: 'failed' })
        const error = new TributaryError('TRIB_MONITOR_NOTIFY', `notifier ${c.name}: ${event.kind} notification for ${event.cluster}/${event.group} failed after ${attempt + 1} attempt(s): ${failure}`, {
          retriable: true,
          details: log,
        })
        this.#deps.logger.error({ ...log, code: error.code, attempts: attempt + 1 }, error.message)
        return
      }
      const wait = backoff.next()
      this.#deps.metrics.notifications.inc({ notifier: c.name, event: event.kind, result: 'retried' })
      this.#deps.logger.warn({ ...log, attempt: attempt + 1, retryInMs: wait, failure }, `notification failed (${failure}); retrying`)
      try {
        await sleep(wait, signal)
      } catch {
        return
      }
    }
  }
}

class LogNotifier implements Notifier {
  readonly config: LogNotifierConfig
  readonly #deps: NotifierDeps
  readonly pending = 0

  constructor(config: LogNotifierConfig, deps: NotifierDeps) {
    this.config = config
    this.#deps = deps
  }

  send(event: NotificationEvent): void {
    const r = event.result
    const fields = {
      notifier: this.config.name,
      event: event.kind,
      id: event.id,
      cluster: event.cluster,
      group: event.group,
      status: r.status,
      totallag: r.totallag,
      start: event.start.toISOString(),
      maxlag: r.maxlag ? { topic: r.maxlag.topic, partition: r.maxlag.partition, lag: r.maxlag.current_lag } : null,
      extras: this.config.extras,
    }
    const message = event.kind === 'open' ? `consumer group ${event.cluster}/${event.group} is ${r.status}` : `consumer group ${event.cluster}/${event.group} is OK again`
    this.#deps.logger[this.config.level](fields, message)
    this.#deps.metrics.notifications.inc({ notifier: this.config.name, event: event.kind, result: 'sent' })
  }

  async close(): Promise<void> {}
}

/** Creates the notifier a config describes. */
export function createNotifier(config: NotifierConfig, deps: NotifierDeps): Notifier {
  return config.className === 'http' ? new HttpNotifier(config, deps) : new LogNotifier(config, deps)
}
