/**
 * The set of jobs an instance runs: one {@link JobDriver} per job and cluster. Job sources (a
 * directory, an HTTP controller) hand it the full list of job configs they see; it starts drivers
 * for new jobs, replaces a driver whose `version` changed (the old one is stopped before the new
 * one starts, so they never run side by side), and stops drivers of jobs no longer listed.
 *
 * Jobs are keyed by name and cluster (`job`, or `job@cluster` when the cluster is set); AresDB kept
 * only the first entry of a name (§6 quirk 6) and never stopped a replaced driver (quirk 4).
 *
 * @example
 * ```ts
 * const jobs = new JobController({ driver: (job) => new JobDriver(job, { sink: (j) => new LogSink(j, { log }) }) })
 * await jobs.apply([jobA, jobB])   // starts both
 * await jobs.apply([jobA2])        // jobA2.version !== jobA.version: replaced; jobB stopped
 * await jobs.stop()
 * ```
 * @module
 */
import { createLogger, type Logger } from '../core/logger.ts'
import type { JobDriver } from './driver.ts'
import type { JobConfig } from './job-config.ts'

/** The key a job is known by: its name, with `@cluster` when the cluster is set. */
export function jobKey(job: Pick<JobConfig, 'job' | 'aresTableConfig'>): string {
  const cluster = job.aresTableConfig.cluster
  return cluster ? `${job.job}@${cluster}` : job.job
}

/** Options of a {@link JobController}. */
export interface JobControllerOptions {
  /** Makes (does not start) the driver of a job. */
  driver: (job: JobConfig) => JobDriver
  logger?: Logger
  /** Called after a driver started or stopped (metrics, progress). */
  onChange?: (event: JobChange) => void
}

/** A driver started, replaced or stopped. */
export interface JobChange {
  kind: 'started' | 'replaced' | 'stopped'
  key: string
  job: JobConfig
}

/** What one {@link JobController.apply} did. */
export interface ApplyResult {
  started: string[]
  replaced: string[]
  stopped: string[]
}

/** Runs one driver per job and keeps them in line with the configs it is given. */
export class JobController {
  readonly #options: JobControllerOptions
  readonly #logger: Logger
  readonly #drivers = new Map<string, JobDriver>()
  readonly #listeners: ((event: JobChange) => void)[] = []
  #queue: Promise<unknown> = Promise.resolve()
  #stopped = false

  constructor(options: JobControllerOptions) {
    this.#options = options
    this.#logger = options.logger ?? createLogger({ name: 'tributary' })
  }

  /** Calls `listener` after every driver change (after `onChange`). */
  subscribe(listener: (event: JobChange) => void): void {
    this.#listeners.push(listener)
  }

  #emit(event: JobChange): void {
    this.#options.onChange?.(event)
    for (const l of this.#listeners) l(event)
  }

  /** The running drivers by key. */
  get drivers(): ReadonlyMap<string, JobDriver> {
    return this.#drivers
  }

  /** The driver of `key` (`job` or `job@cluster`). */
  driver(key: string): JobDriver | undefined {
    return this.#drivers.get(key)
  }

  /**
   * Makes the running jobs exactly `jobs`: new ones start, a changed `version` replaces the driver
   * (old stopped first), missing ones stop. Calls run one after the other. A second config with the
   * same key is an error naming both sources; the first one is kept.
   */
  apply(jobs: readonly JobConfig[]): Promise<ApplyResult> {
    const run = this.#queue.then(() => this.#apply(jobs))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #apply(jobs: readonly JobConfig[]): Promise<ApplyResult> {
    const result: ApplyResult = { started: [], replaced: [], stopped: [] }
    if (this.#stopped) return result
    const wanted = new Map<string, JobConfig>()
    for (const job of jobs) {
      const key = jobKey(job)
      const first = wanted.get(key)
      if (first) {
        this.#logger.error({ job: key }, `job ${key} is defined twice (${first.source} and ${job.source}); keeping ${first.source}`)
        continue
      }
      wanted.set(key, job)
    }
    for (const [key, driver] of [...this.#drivers]) {
      if (wanted.has(key)) continue
      this.#drivers.delete(key)
      await driver.stop()
      this.#logger.info({ job: key }, `job ${key} removed: its driver stopped`)
      result.stopped.push(key)
      this.#emit({ kind: 'stopped', key, job: driver.job })
    }
    for (const [key, job] of wanted) {
      const current = this.#drivers.get(key)
      if (current && current.job.version === job.version) continue
      if (current) {
        this.#drivers.delete(key)
        await current.stop()
        this.#logger.info({ job: key }, `job ${key}: version ${current.job.version} → ${job.version}; old driver stopped, starting the new one`)
      }
      const driver = this.#options.driver(job)
      this.#drivers.set(key, driver)
      driver.start()
      if (current) result.replaced.push(key)
      else {
        this.#logger.info({ job: key }, `job ${key} (version ${job.version}, ${job.streamConfig.processorCount} processor(s), topic ${job.streamConfig.topic}) started`)
        result.started.push(key)
      }
      this.#emit({ kind: current ? 'replaced' : 'started', key, job })
    }
    return result
  }

  /** Stops every driver; later {@link apply} calls do nothing. */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.#queue
    const drivers = [...this.#drivers.values()]
    this.#drivers.clear()
    await Promise.all(drivers.map((d) => d.stop()))
  }
}
