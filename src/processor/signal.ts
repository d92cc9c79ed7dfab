/**
 * A state holder callers can wait on and observe: the explicit lifecycle of processors, partitions
 * and views (goka's `Signal`), instead of boolean flags.
 *
 * @example
 * ```ts
 * const signal = new StateSignal<'idle' | 'running' | 'stopped'>('idle', ['stopped'])
 * const running = signal.waitFor('running')
 * signal.set('running')
 * await running
 * ```
 * @module
 */

/** Called with the new and the previous state. */
export type StateListener<S extends string> = (state: S, previous: S) => void

/** A current state, waiters and listeners. */
export class StateSignal<S extends string> {
  #state: S
  #error: unknown
  readonly #terminal: ReadonlySet<S>
  readonly #listeners = new Set<StateListener<S>>()

  /** `terminal` states end waiting: `waitFor` another state then rejects. */
  constructor(initial: S, terminal: readonly S[] = []) {
    this.#state = initial
    this.#terminal = new Set(terminal)
  }

  get state(): S {
    return this.#state
  }

  /** The error passed with the last terminal state, if any. */
  get error(): unknown {
    return this.#error
  }

  /** Moves to `state` and notifies listeners (no-op when unchanged). */
  set(state: S, error?: unknown): void {
    if (state === this.#state) return
    const previous = this.#state
    this.#state = state
    if (error !== undefined) this.#error = error
    for (const listener of [...this.#listeners]) listener(state, previous)
  }

  /** Calls `listener` on every change until the returned function is called. */
  observe(listener: StateListener<S>): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Resolves when the state is one of `states` (now or later). Rejects when a terminal state that is
   * not among them is reached first, with the error that state was set with.
   */
  waitFor(...states: S[]): Promise<void> {
    const wanted = new Set(states)
    if (wanted.has(this.#state)) return Promise.resolve()
    if (this.#terminal.has(this.#state)) return Promise.reject(this.#terminalError())
    return new Promise((resolve, reject) => {
      const stop = this.observe((state) => {
        if (wanted.has(state)) {
          stop()
          resolve()
        } else if (this.#terminal.has(state)) {
          stop()
          reject(this.#terminalError())
        }
      })
    })
  }

  #terminalError(): unknown {
    return this.#error ?? new Error(`reached state ${this.#state}`)
  }
}
