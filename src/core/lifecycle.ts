/**
 * A lifecycle helper: one service, started once, stopped by `stop()` or an `AbortSignal`.
 *
 * States go `idle → starting → running → stopping → stopped` (or `failed`); callers can wait for a
 * state instead of polling booleans. `stop()` is idempotent and waits for the run to finish.
 *
 * @example
 * ```ts
 * const service = new Lifecycle('printer', async (signal) => {
 *   while (!signal.aborted) await sleep(1000, signal).catch(() => {})
 * })
 * service.start(AbortSignal.timeout(5_000))
 * await service.waitFor('running')
 * await service.stop()
 * ```
 * @module
 */
import { TributaryError } from './errors.ts'

/** The states of a {@link Lifecycle}. */
export type LifecycleState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed'

const ORDER: Record<LifecycleState, number> = { idle: 0, starting: 1, running: 2, stopping: 3, stopped: 4, failed: 4 }

/**
 * The body of a service. It receives a signal that aborts on stop, calls `ready()` once it is
 * serving (otherwise the service counts as running when the body starts), and returns when done.
 */
export type LifecycleBody = (signal: AbortSignal, ready: () => void) => Promise<void>

/** Runs a {@link LifecycleBody} with explicit, awaitable states. */
export class Lifecycle {
  readonly name: string
  readonly #body: LifecycleBody
  readonly #controller = new AbortController()
  #state: LifecycleState = 'idle'
  #error: unknown
  #done: Promise<void> | undefined
  readonly #waiters = new Set<() => void>()
  #explicitReady = false

  constructor(name: string, body: LifecycleBody) {
    this.name = name
    this.#body = body
  }

  get state(): LifecycleState {
    return this.#state
  }

  /** The error the body failed with, if it failed. */
  get error(): unknown {
    return this.#error
  }

  /** The signal handed to the body; aborted when stopping. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Starts the body. `signal`, when given, stops the service when it aborts. Returns the run's promise. */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#done) throw new TributaryError('TRIB_INVALID_ARGUMENT', `${this.name} was already started`)
    signal?.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true })
    if (signal?.aborted) this.#controller.abort(signal.reason)
    this.#set('starting')
    const ready = (): void => {
      if (this.#state === 'starting') this.#set('running')
    }
    this.#done = (async () => {
      try {
        const run = this.#body(this.#controller.signal, () => {
          this.#explicitReady = true
          ready()
        })
        if (!this.#explicitReady && this.#body.length < 2) ready()
        await run
        this.#set('stopped')
      } catch (err) {
        if (this.#controller.signal.aborted && err === this.#controller.signal.reason) {
          this.#set('stopped')
        } else {
          this.#error = err
          this.#set('failed')
          throw err
        }
      }
    })()
    return this.#done
  }

  /** Aborts the body and waits until it returned. Safe to call more than once, or before start. */
  async stop(reason: unknown = new TributaryError('TRIB_CLOSED', `${this.name} stopped`)): Promise<void> {
    if (!this.#done) {
      this.#set('stopped')
      return
    }
    if (ORDER[this.#state] < ORDER.stopping) this.#set('stopping')
    this.#controller.abort(reason)
    await this.#done.catch(() => {})
  }

  /** Resolves once the state reached `state` (or a later one). Rejects if the service failed first. */
  waitFor(state: LifecycleState): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.#state === state || (ORDER[this.#state] >= ORDER[state] && this.#state !== 'failed')) {
          resolve()
          return true
        }
        if (this.#state === 'failed') {
          reject(this.#error)
          return true
        }
        return false
      }
      if (check()) return
      const waiter = (): void => {
        if (check()) this.#waiters.delete(waiter)
      }
      this.#waiters.add(waiter)
    })
  }

  #set(state: LifecycleState): void {
    this.#state = state
    for (const waiter of [...this.#waiters]) waiter()
  }
}
