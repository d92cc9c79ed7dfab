/**
 * What the Kafka group consumer and the group-less reader share around their {@link Fetcher}: the
 * platformatic client with its fetch connections, the wait for data in `poll`, and serialised polls.
 *
 * @example
 * ```ts
 * const { client, fetchPool } = fetchClient(settings, 'reader-clicks', READER_CLIENT_GROUP)
 * const wakeup = new Wakeup()
 * wakeup.reset()
 * if (nothingYet) await wakeup.wait(deadline, signal) // returns early on wakeup.notify()
 * ```
 * @module
 */
import { Consumer, ConnectionPool } from '@platformatic/kafka'
import { useRawRecordFetch } from './raw-fetch.ts'
import { clientOptions, poolOptions as connectionPoolOptions, type KafkaSettings } from './settings.ts'

/** Options of the connection pools of one consumer or reader. */
export type PoolOptions = ReturnType<typeof connectionPoolOptions>

/** A platformatic client plus a connection pool of its own for Fetch (a long-poll fetch holds its connection). */
export interface FetchClient {
  readonly client: Consumer
  readonly fetchPool: ConnectionPool
  readonly clientId: string
  readonly poolOptions: PoolOptions
}

/**
 * Makes the client of a consumer or reader. platformatic requires a `groupId` even for clients that
 * never join a group; the reader passes a placeholder that is never sent to a broker (it sends no
 * group request: only Metadata, ListOffsets and Fetch).
 */
export function fetchClient(settings: KafkaSettings, role: string, groupId: string): FetchClient {
  const base = clientOptions(settings, role)
  const client = new Consumer({ ...base, groupId, autocommit: false })
  useRawRecordFetch(client) // the fetcher decodes record batches itself (record-decoder.ts)
  const poolOptions = connectionPoolOptions(settings)
  return { client, fetchPool: new ConnectionPool(base.clientId, poolOptions), clientId: base.clientId, poolOptions }
}

/** The wait of a `poll` for data, a group change or close, with a flag for notifications that came while working. */
export class Wakeup {
  readonly #waiters = new Set<() => void>()
  #signalled = false

  /** True when `notify` was called since the last `reset`. */
  get signalled(): boolean {
    return this.#signalled
  }

  reset(): void {
    this.#signalled = false
  }

  /** Waits until notified, the deadline, or the signal. */
  wait(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()))
      signal?.addEventListener('abort', done, { once: true })
      this.#waiters.add(done)
    })
  }

  notify(): void {
    this.#signalled = true
    for (const waiter of [...this.#waiters]) waiter()
  }
}

/** Runs calls one after the other (polls of one consumer must not interleave). */
export class Serial {
  #chain: Promise<unknown> = Promise.resolve()

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn)
    this.#chain = run.catch(() => {})
    return run
  }
}
