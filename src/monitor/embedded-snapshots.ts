/**
 * Read-only snapshots of an embedded file log that another process owns, reopened when older than
 * `maxAgeMs`: how `tributary monitor` watches a running app's `file:` log from a process of its own.
 *
 * A snapshot is the data as of its open (`EmbeddedLogOptions.readOnly`); the one before the current
 * stays open until the next reopen, so a caller still using it finishes undisturbed. While the
 * directory holds no log yet (the monitor started before the app), a snapshot is an empty log and
 * one warning says so; nothing is created.
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

/** Reopens a read-only view of `dir` when the current one is older than `maxAgeMs`. */
export class EmbeddedSnapshots {
  readonly dir: string
  readonly maxAgeMs: number
  readonly #logger: Logger
  #current: EmbeddedLog | undefined
  #previous: EmbeddedLog | undefined
  #openedAt = 0
  #waiting = false

  constructor(dir: string, maxAgeMs: number, logger: Logger) {
    this.dir = dir
    this.maxAgeMs = maxAgeMs
    this.#logger = logger
  }

  /** A snapshot at most `maxAgeMs` old. Throws what a read-only open throws (the directory is gone). */
  current(): EmbeddedLog {
    if (this.#current === undefined || Date.now() - this.#openedAt >= this.maxAgeMs) {
      const next = this.#open()
      const retired = this.#previous
      this.#previous = this.#current
      this.#current = next
      this.#openedAt = Date.now()
      retired?.close().catch(() => {})
    }
    return this.#current
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
    const open = [this.#previous, this.#current]
    this.#previous = this.#current = undefined
    for (const log of open) await log?.close().catch(() => {})
  }
}
