/**
 * A read-only view of an embedded file log that another process owns, kept current by refreshing
 * it when it is older than `maxAgeMs`: how `tributary monitor` watches a running app's `file:` log
 * from a process of its own.
 *
 * The view is opened once; each refresh (`EmbeddedLog.refresh`) reads only what the owner wrote
 * since — new commits of the offsets partition, new bytes of active segments, new or compacted
 * segments — instead of opening the log again and replaying its whole offsets partition. When a
 * refresh fails (the directory was replaced, say), the next call opens a fresh view. While the
 * directory holds no log yet (the monitor started before the app), the view is an empty log and one
 * warning says so; nothing is created.
 *
 * @example
 * ```ts
 * const snapshots = new EmbeddedSnapshots('./.tributary', 250, logger)
 * snapshots.current().readCommits(0) // at most 250 ms old
 * await snapshots.close()
 * ```
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from '../core/logger.ts'
import { openEmbeddedLog, type EmbeddedLog } from '../log/index.ts'

/** Refreshes a read-only view of `dir` when it is older than `maxAgeMs`. */
export class EmbeddedSnapshots {
  readonly dir: string
  readonly maxAgeMs: number
  readonly #logger: Logger
  #current: EmbeddedLog | undefined
  #refreshedAt = 0
  /** True while the view is the empty stand-in for a log that does not exist yet. */
  #waiting = false
  /** Full opens so far (1 while refreshes keep working); for tests and logs. */
  opens = 0

  constructor(dir: string, maxAgeMs: number, logger: Logger) {
    this.dir = dir
    this.maxAgeMs = maxAgeMs
    this.#logger = logger
  }

  /** A view at most `maxAgeMs` old. Throws what a read-only open throws (the directory is gone). */
  current(): EmbeddedLog {
    if (this.#current !== undefined && Date.now() - this.#refreshedAt >= this.maxAgeMs) {
      if (this.#waiting) {
        if (fs.existsSync(path.join(this.dir, 'topics'))) this.#drop()
        else this.#refreshedAt = Date.now()
      } else {
        try {
          this.#current.refresh()
          this.#refreshedAt = Date.now()
        } catch (err) {
          this.#logger.warn({ dir: this.dir, err: (err as Error).message }, 'refreshing the read-only view of the embedded log failed; opening it again')
          this.#drop()
        }
      }
    }
    if (this.#current === undefined) {
      this.#current = this.#open()
      this.#refreshedAt = Date.now()
      this.opens++
    }
    return this.#current
  }

  #drop(): void {
    const stale = this.#current
    this.#current = undefined
    stale?.close().catch(() => {})
  }

  #open(): EmbeddedLog {
    if (!fs.existsSync(path.join(this.dir, 'topics'))) {
      if (!this.#waiting) this.#logger.warn({ dir: path.resolve(this.dir) }, `no log at ${path.resolve(this.dir)} yet; watching for it`)
      this.#waiting = true
      return openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0, logger: this.#logger })
    }
    this.#waiting = false
    return openEmbeddedLog({ mode: 'file', dir: this.dir, readOnly: true, cleanerIntervalMs: 0, logger: this.#logger })
  }

  async close(): Promise<void> {
    const open = this.#current
    this.#current = undefined
    await open?.close().catch(() => {})
  }
}
