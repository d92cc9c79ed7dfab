/**
 * The logs the connectors of one process share, keyed by URL.
 *
 * A source and a destination naming the same URL get the same open {@link Log}: that is what makes
 * a `memory:` log useful at all (each `openLog('memory:')` is a new, empty log), and it keeps an
 * embedded `file:` directory from being opened twice (it is locked per open log). The first
 * connector to name a URL opens the log, the last one to let go closes it.
 *
 * Code that already holds a Log — a test, the demo, an application embedding pipelines — hands it
 * over with {@link registerLog}; connectors naming that URL then use it and never close it. Names
 * after `memory:` are free (`memory:orders`), so several in-process logs can live side by side.
 *
 * @example
 * ```ts
 * const log = await openLog('memory:')
 * const unregister = registerLog('memory:demo', log)
 * // a pipeline with { plugin: tributary-log, settings: { url: 'memory:demo', topics: 'in' } } reads `log`
 * unregister()
 * ```
 * @module
 */
import path from 'node:path'
import { TributaryError } from '../../../core/errors.ts'
import { openLog, type Log, type OpenLogOptions } from '../../../log/index.ts'

interface Entry {
  log: Promise<Log>
  refs: number
  /** True when the registry opened the log (and so closes it). */
  owned: boolean
}

const entries = new Map<string, Entry>()

/**
 * The registry key of a URL: the three spellings of the anonymous memory log are one, and a `file:`
 * directory is keyed by its absolute path (`file:./data` and `file:data` are one log).
 */
export function logKey(url: string): string {
  const u = url.trim()
  if (u === 'memory' || u === 'memory://') return 'memory:'
  if (u.startsWith('file:')) {
    let dir = u.slice('file:'.length)
    if (dir.startsWith('//')) dir = dir.slice(2)
    if (dir !== '') return `file:${path.resolve(dir)}`
  }
  return u
}

/**
 * Makes an open `log` the one connectors get for `url`. Returns a function that removes it again.
 * Throws `TRIB_INVALID_ARGUMENT` when the URL is in use by another log.
 */
export function registerLog(url: string, log: Log): () => void {
  const key = logKey(url)
  const existing = entries.get(key)
  if (existing !== undefined) throw new TributaryError('TRIB_INVALID_ARGUMENT', `registerLog: ${key} is already in use by another log`, { details: { url: key } })
  const entry: Entry = { log: Promise.resolve(log), refs: 0, owned: false }
  entries.set(key, entry)
  return () => {
    if (entries.get(key) === entry) entries.delete(key)
  }
}

/** A use of a shared log; `release` it when done. */
export interface LogLease {
  readonly log: Log
  readonly url: string
  release(): Promise<void>
}

/**
 * Gets the log for `url`: the registered one, the one another connector opened, or a newly opened
 * one (`memory:<anything>` opens an in-memory log). Opening errors (`TRIB_LOG_BAD_URL`,
 * `TRIB_LOG_BROKER_UNREACHABLE`, `TRIB_LOG_LOCKED`) are passed on.
 */
export async function acquireLog(url: string, options: OpenLogOptions = {}): Promise<LogLease> {
  const key = logKey(url)
  let entry = entries.get(key)
  if (entry === undefined) {
    const opening = openLog(key.startsWith('memory:') ? 'memory:' : key, options)
    entry = { log: opening, refs: 0, owned: true }
    const created = entry
    entries.set(key, created)
    opening.catch(() => {
      if (entries.get(key) === created) entries.delete(key)
    })
  }
  entry.refs++
  let log: Log
  try {
    log = await entry.log
  } catch (err) {
    entry.refs--
    throw err
  }
  const held = entry
  let released = false
  return {
    log,
    url: key,
    async release() {
      if (released) return
      released = true
      held.refs--
      if (held.refs === 0 && held.owned && entries.get(key) === held) {
        entries.delete(key)
        await log.close()
      }
    },
  }
}
