/**
 * Exponential backoff with full jitter, for retry loops.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 })
 * await sleep(backoff.next())   // ~0..100 ms, then ~0..200, ... capped at 5 s
 * backoff.reset()               // after a success
 * ```
 * @module
 */

/** Options for {@link Backoff}. */
export interface BackoffOptions {
  /** First delay ceiling in ms. Default 100. */
  initialMs?: number
  /** Largest delay in ms. Default 10,000. */
  maxMs?: number
  /** Growth factor per attempt. Default 2. */
  factor?: number
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). Default 0.5. */
  jitter?: number
  /** Random source in [0, 1); injectable for deterministic tests. */
  random?: () => number
}

/** Computes successive retry delays. */
export class Backoff {
  readonly #initial: number
  readonly #max: number
  readonly #factor: number
  readonly #jitter: number
  readonly #random: () => number
  #attempt = 0

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? 100
    this.#max = options.maxMs ?? 10_000
    this.#factor = options.factor ?? 2
    this.#jitter = options.jitter ?? 0.5
    this.#random = options.random ?? Math.random
  }

  /** How many delays were handed out since the last reset. */
  get attempt(): number {
    return this.#attempt
  }

  /** The next delay in ms. */
  next(): number {
    const ceiling = Math.min(this.#max, this.#initial * this.#factor ** this.#attempt)
    this.#attempt++
    const fixed = ceiling * (1 - this.#jitter)
    return Math.round(fixed + ceiling * this.#jitter * this.#random())
  }

  /** Starts over from the initial delay. */
  reset(): void {
    this.#attempt = 0
  }
}

/** Resolves when `signal` aborts (at once if it already has). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
