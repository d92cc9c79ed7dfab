/**
 * Read-only snapshots of an embedded file log that another process owns, reopened when older than
 * `maxAgeMs`: how `tributary monitor` watches a running app's `file:` log from a process of its own.
 *
 * A snapshot is the data as of its open (`EmbeddedLogOptions.readOnly`); the one before the current
 * stays open until the next reopen, so a caller still using it finishes undisturbed.
 *
 * @example
 * ```ts
 * const snapshots = new EmbeddedSnapshots('./.tributary', 250, logger)
 * snapshots.current().readCommits(0) // at most 250 ms old
 * await snapshots.close()
 * ```
 * @module
 */
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

  constructor(dir: string, maxAgeMs: number, logger: Logger) {
    this.dir = dir
    this.maxAgeMs = maxAgeMs
    this.#logger = logger
  }

  /** A snapshot at most `maxAgeMs` old. Throws what a read-only open throws (the directory is gone). */
  current(): EmbeddedLog {
    if (this.#current === undefined || Date.now() - this.#openedAt >= this.maxAgeMs) {
      const next = openEmbeddedLog({ mode: 'file', dir: this.dir, readOnly: true, cleanerIntervalMs: 0, logger: this.#logger })
      const retired = this.#previous
      this.#previous = this.#current
      this.#current = next
      this.#openedAt = Date.now()
      retired?.close().catch(() => {})
    }
    return this.#current
  }

  async close(): Promise<void> {
    const open = [this.#previous, this.#current]
    this.#previous = this.#current = undefined
    for (const log of open) await log?.close().catch(() => {})
  }
}
