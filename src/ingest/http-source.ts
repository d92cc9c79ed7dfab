/**
 * Job configs from an HTTP controller speaking AresDB's protocol:
 * `GET {url}/assignment/{namespace}/hash/{instance}` answers an opaque hash of the instance's
 * assignment; when it differs from the last one applied,
 * `GET {url}/assignment/{namespace}/assignments/{instance}` answers
 * `{subscriber, jobs: [job config…], instances}`, and the jobs become the running set. Polled every
 * `refreshIntervalMs` (AresDB: `refreshInterval` minutes, default 10).
 *
 * The hash is remembered only when every job of the assignment was valid (as AresDB does), so a
 * bad job is reported again at each refresh; the other jobs run, and a bad job keeps its last good
 * version. A controller that cannot be reached leaves the running jobs alone.
 *
 * @example
 * ```ts
 * const source = new HttpJobSource({ url: 'http://127.0.0.1:5436', namespace: 'dev', instance: 'host-1' }, jobs)
 * await source.start()
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import type { JobController } from './controller.ts'
import { jobKey } from './controller.ts'
import { parseJobConfig, type JobConfig } from './job-config.ts'

/** Options of an {@link HttpJobSource}. */
export interface HttpJobSourceOptions {
  /** The controller's base URL (`http://host:port`). */
  url: string
  namespace: string
  instance: string
  /** Poll period; default 10 minutes. */
  refreshIntervalMs?: number
  /** Per-request time-out; default 30 s (AresDB's `controller.timeout`). */
  timeoutMs?: number
  logger?: Logger
}

/** AresDB's `IngestionAssignment`. */
export interface IngestionAssignment {
  subscriber: string
  jobs: unknown[]
  instances: { [name: string]: unknown }
}

/** One sync's outcome. */
export interface HttpSync {
  /** False when the hash was unchanged. */
  changed: boolean
  jobs: JobConfig[]
  errors: string[]
}

/** Keeps a {@link JobController} in line with an AresDB-protocol controller's assignment. */
export class HttpJobSource {
  readonly #options: HttpJobSourceOptions
  readonly #jobs: JobController
  readonly #logger: Logger
  #hash: string | undefined
  /** The last good config per job key. */
  readonly #good = new Map<string, JobConfig>()
  #timer: NodeJS.Timeout | undefined
  #syncing: Promise<HttpSync> | undefined

  constructor(options: HttpJobSourceOptions, jobs: JobController) {
    this.#options = options
    this.#jobs = jobs
    this.#logger = options.logger ?? createLogger({ name: 'tributary' })
  }

  #path(kind: 'hash' | 'assignments'): string {
    const base = this.#options.url.replace(/\/+$/, '')
    return `${base}/assignment/${encodeURIComponent(this.#options.namespace)}/${kind}/${encodeURIComponent(this.#options.instance)}`
  }

  async #get(url: string): Promise<string> {
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000), headers: { accept: 'application/json' } })
    } catch (err) {
      throw new TributaryError('TRIB_INGEST_CONTROLLER', `controller ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, { cause: err, retriable: true })
    }
    const body = await response.text()
    if (!response.ok) throw new TributaryError('TRIB_INGEST_CONTROLLER', `controller ${url}: HTTP ${response.status}${body ? `: ${body.slice(0, 200)}` : ''}`, { retriable: true })
    return body
  }

  /** First sync (throws when the controller cannot be reached), then one every refresh interval. */
  async start(): Promise<HttpSync> {
    const first = await this.sync()
    this.#timer = setInterval(() => void this.sync().catch(() => undefined), this.#options.refreshIntervalMs ?? 600_000)
    this.#timer.unref()
    return first
  }

  /** Asks the controller now; logs and rethrows when it cannot be reached or answers nonsense. */
  sync(): Promise<HttpSync> {
    this.#syncing ??= this.#sync().finally(() => {
      this.#syncing = undefined
    })
    return this.#syncing
  }

  async #sync(): Promise<HttpSync> {
    try {
      const hash = await this.#get(this.#path('hash'))
      if (this.#hash !== undefined && hash === this.#hash) return { changed: false, jobs: [...this.#good.values()], errors: [] }
      const url = this.#path('assignments')
      const text = await this.#get(url)
      let assignment: IngestionAssignment
      try {
        assignment = JSON.parse(text) as IngestionAssignment
      } catch (err) {
        throw new TributaryError('TRIB_INGEST_CONTROLLER', `controller ${url}: the assignment is not JSON: ${(err as Error).message}`, { cause: err })
      }
      if (!assignment || typeof assignment !== 'object' || !Array.isArray(assignment.jobs)) throw new TributaryError('TRIB_INGEST_CONTROLLER', `controller ${url}: the assignment has no jobs[] (expected {subscriber, jobs, instances})`)
      const jobs: JobConfig[] = []
      const errors: string[] = []
      const keys = new Set<string>()
      assignment.jobs.forEach((raw, i) => {
        const name = raw && typeof raw === 'object' && typeof (raw as { job?: unknown }).job === 'string' ? (raw as { job: string }).job : undefined
        try {
          const job = parseJobConfig(raw, `${url} jobs[${i}]${name ? ` (${name})` : ''}`)
          const key = jobKey(job)
          this.#good.set(key, job)
          keys.add(key)
          jobs.push(job)
        } catch (err) {
          errors.push((err as Error).message)
          this.#logger.error({ controller: url }, (err as Error).message)
          const kept = name ? [...this.#good.entries()].filter(([k]) => k === name || k.startsWith(`${name}@`)) : []
          for (const [k, job] of kept) {
            keys.add(k)
            jobs.push(job)
          }
        }
      })
      for (const k of [...this.#good.keys()]) if (!keys.has(k)) this.#good.delete(k)
      await this.#jobs.apply(jobs)
      if (errors.length === 0) this.#hash = hash
      return { changed: true, jobs, errors }
    } catch (err) {
      if ((err as TributaryError).code === 'TRIB_INGEST_CONTROLLER') this.#logger.error({}, `${(err as Error).message}; the running jobs are left alone`)
      throw err
    }
  }

  /** Stops polling (the jobs keep running; stop the controller for that). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    await this.#syncing?.catch(() => undefined)
  }
}
