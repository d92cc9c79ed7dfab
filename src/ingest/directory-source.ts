/**
 * Job configs from a directory: every `*.json`, `*.yaml` and `*.yml` file is one job config
 * (AresDB's job JSON, or the same in YAML). The directory is watched with `fs.watch` and rescanned
 * every `refreshIntervalMs` as well (watchers miss events on some file systems); each scan hands
 * the full list to a {@link JobController}.
 *
 * A file that does not parse or validate is logged as an error naming the file, line and field,
 * and the version of that file last read successfully keeps running; a removed file stops its job.
 *
 * @example
 * ```ts
 * const source = new DirectoryJobSource('jobs/', jobs, { refreshIntervalMs: 600_000 })
 * await source.start()   // first scan applied
 * await source.stop()
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { TributaryError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import type { JobController } from './controller.ts'
import { loadJobConfigFile, type JobConfig } from './job-config.ts'

const JOB_FILE = /\.(json|ya?ml)$/i

/** Options of a {@link DirectoryJobSource}. */
export interface DirectoryJobSourceOptions {
  /** Rescan period; default 10 minutes (AresDB's `refreshInterval`). */
  refreshIntervalMs?: number
  /** Delay after a file event before rescanning (several events come at once); default 100 ms. */
  debounceMs?: number
  logger?: Logger
}

/** One scan's outcome. */
export interface DirectoryScan {
  jobs: JobConfig[]
  /** One message per bad file (file, line, field). */
  errors: string[]
}

/** Keeps a {@link JobController} in line with the job files of a directory. */
export class DirectoryJobSource {
  readonly dir: string
  readonly #jobs: JobController
  readonly #options: DirectoryJobSourceOptions
  readonly #logger: Logger
  /** The last good config of each file, by path. */
  readonly #good = new Map<string, { mtimeMs: number; size: number; job: JobConfig }>()
  /** The error last reported per file (reported once until the file changes). */
  readonly #reported = new Map<string, string>()
  #watcher: fs.FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  #debounce: NodeJS.Timeout | undefined
  #scanning: Promise<DirectoryScan> | undefined
  #again = false

  constructor(dir: string, jobs: JobController, options: DirectoryJobSourceOptions = {}) {
    this.dir = dir
    this.#jobs = jobs
    this.#options = options
    this.#logger = options.logger ?? createLogger({ name: 'tributary' })
  }

  /** Reads the directory once and applies it; throws `TRIB_INGEST_CONFIG` when the directory cannot be read. */
  async start(): Promise<DirectoryScan> {
    const first = await this.scan()
    try {
      this.#watcher = fs.watch(this.dir, () => this.#schedule())
      this.#watcher.on('error', (err) => this.#logger.warn({ err: err.message }, `watching ${this.dir} failed; rescanning every refresh interval only`))
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, `cannot watch ${this.dir}; rescanning every refresh interval only`)
    }
    this.#timer = setInterval(() => void this.scan().catch(() => undefined), this.#options.refreshIntervalMs ?? 600_000)
    this.#timer.unref()
    return first
  }

  #schedule(): void {
    if (this.#debounce) clearTimeout(this.#debounce)
    this.#debounce = setTimeout(() => void this.scan().catch(() => undefined), this.#options.debounceMs ?? 100)
  }

  /** Scans now (a scan in progress is followed by one more) and applies the result. */
  scan(): Promise<DirectoryScan> {
    if (this.#scanning) {
      this.#again = true
      return this.#scanning
    }
    const run = (async (): Promise<DirectoryScan> => {
      let result: DirectoryScan
      do {
        this.#again = false
        result = this.#read()
        await this.#jobs.apply(result.jobs)
      } while (this.#again)
      return result
    })()
    this.#scanning = run
    void run.finally(() => {
      if (this.#scanning === run) this.#scanning = undefined
    }).catch(() => undefined)
    return run
  }

  #read(): DirectoryScan {
    let names: string[]
    try {
      names = fs.readdirSync(this.dir).filter((n) => JOB_FILE.test(n)).sort()
    } catch (err) {
      const e = new TributaryError('TRIB_INGEST_CONFIG', `${this.dir}: cannot read the job directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
      this.#logger.error({ dir: this.dir }, e.message)
      throw e
    }
    const jobs: JobConfig[] = []
    const errors: string[] = []
    const seen = new Set<string>()
    for (const name of names) {
      const file = path.join(this.dir, name)
      seen.add(file)
      let stat: fs.Stats
      try {
        stat = fs.statSync(file)
      } catch {
        continue // removed meanwhile
      }
      if (!stat.isFile()) continue
      const good = this.#good.get(file)
      if (good && good.mtimeMs === stat.mtimeMs && good.size === stat.size) {
        jobs.push(good.job)
        continue
      }
      try {
        const job = loadJobConfigFile(file)
        this.#good.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, job })
        this.#reported.delete(file)
        jobs.push(job)
      } catch (err) {
        const message = (err as Error).message
        errors.push(message)
        if (this.#reported.get(file) !== message) {
          this.#reported.set(file, message)
          this.#logger.error({ file }, `${message}${good ? ` (version ${good.job.version} of job ${good.job.job} keeps running)` : ''}`)
        }
        if (good) jobs.push(good.job)
      }
    }
    for (const file of [...this.#good.keys()]) if (!seen.has(file)) this.#good.delete(file)
    for (const file of [...this.#reported.keys()]) if (!seen.has(file)) this.#reported.delete(file)
    return { jobs, errors }
  }

  /** Stops watching (the jobs keep running; stop the controller for that). */
  async stop(): Promise<void> {
    this.#watcher?.close()
    if (this.#timer) clearInterval(this.#timer)
    if (this.#debounce) clearTimeout(this.#debounce)
    await this.#scanning?.catch(() => undefined)
  }
}
