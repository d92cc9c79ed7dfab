/**
 * The pieces `tributary demo` (`npm start`) is made of. Each part — the click counter, the lag
 * monitor, a pipeline with its DLQ — starts on the demo's one log, adds routes to the demo's HTTP
 * server, reports a status for the start page, and stops at the end. `runDemo` (demo.ts) starts the
 * parts in order, serves them, and stops them in reverse order.
 *
 * @example
 * ```ts
 * export async function startMyPart(ctx: DemoContext): Promise<DemoPart> {
 *   ctx.print('my part: started')
 *   return { name: 'my part', status: () => ({ records: 0 }), stop: async () => {} }
 * }
 * ```
 * @module
 */
import type { Logger } from '../core/logger.ts'
import type { Log, LogLocation } from '../log/index.ts'
import type { RouteModule } from '../server/index.ts'
import type { StoreBuilder } from '../state/index.ts'

/** What every part of the demo gets. */
export interface DemoContext {
  /** The demo's log, shared by every part (an embedded file log is owned by this process). */
  readonly log: Log
  /** The log's URL as given (`file:./.tributary` by default). */
  readonly url: string
  readonly location: LogLocation
  readonly logger: Logger
  /** Prints one line of the demo's narrative (stdout). */
  readonly print: (line: string) => void
  /** Local state for a processor instance or view called `name`: LMDB beside a file log, memory otherwise. */
  readonly stores: (name: string) => StoreBuilder
  /** The first steps must be done by then (ms since the epoch); `until` rejects after it. */
  readonly deadline: number
  /** Aborted when the demo stops (Ctrl-C, or the end of a `--once` run). */
  readonly signal: AbortSignal
  /** Whether this is a `--once` run: do the steps, check them, and stop; no live traffic. */
  readonly once: boolean
  /** Resolves when `check()` holds, re-checked on every {@link notify}; rejects at the deadline. */
  until(check: () => boolean, what: string): Promise<void>
  /** Wakes the pending {@link until} checks (call it from callbacks: rebalances, commits, updates). */
  notify(): void
}

/** One running part of the demo. */
export interface DemoPart {
  /** A short name: the start page's section title and the key in `/status`. */
  readonly name: string
  /** Routes this part serves on the demo's HTTP server (e.g. `/users/:user`). */
  readonly routes?: readonly RouteModule[]
  /** Lines for the start page and `/status`: what the part is doing now (JSON-serialisable). */
  status(): unknown
  /** Stops the part; called once, in reverse start order. */
  stop(): Promise<void>
}

/** Builds `until`/`notify` for a context: promises re-checked whenever something happened. */
export function waiter(deadline: number): Pick<DemoContext, 'until' | 'notify'> {
  const listeners = new Set<() => void>()
  return {
    notify(): void {
      for (const l of [...listeners]) l()
    },
    until(check: () => boolean, what: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`demo: ${what} did not happen in time`)), Math.max(0, deadline - Date.now()))
        const done = (err?: unknown): void => {
          clearTimeout(timer)
          listeners.delete(listener)
          if (err) reject(err)
          else resolve()
        }
        const listener = (): void => {
          try {
            if (check()) done()
          } catch (err) {
            done(err)
          }
        }
        listeners.add(listener)
        listener()
      })
    },
  }
}
