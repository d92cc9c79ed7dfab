/**
 * AresDB's retry failure handler, without its ways of dropping data: a failed save is retried at
 * growing intervals (`initRetryIntervalInSeconds`, × `multiplier`) until the next wait would pass
 * `maxRetryMinutes`; then the last error is returned, so the caller sends the batch to the DLQ.
 *
 * Fixed from AresDB (reference §6.10): the interval starts over on every call; when not even one
 * retry fits, the original error comes back (AresDB returned nil and the batch was committed as
 * if saved); the first wait is never skipped.
 *
 * @example
 * ```ts
 * const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 5, multiplier: 1.5, maxRetryMinutes: 10 })
 * const result = await handler.handle(firstError, () => sink.save(rows), signal)
 * if (!result.ok) await dlq.write(rows, result.error)   // only then commit
 * ```
 * @module
 */
import { sleep } from '../core/backoff.ts'

/** AresDB's `failureHandler.config`. */
export interface RetryHandlerConfig {
  initRetryIntervalInSeconds: number
  multiplier: number
  maxRetryMinutes: number
}

/** The outcome of {@link RetryFailureHandler.handle}. */
export type RetryOutcome = { ok: true; attempts: number } | { ok: false; attempts: number; error: unknown }

/** Retries a failed save with AresDB's intervals. */
export class RetryFailureHandler {
  readonly #initialMs: number
  readonly #multiplier: number
  readonly #maxElapsedMs: number
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>

  /** `sleepFn` is injectable so tests need not wait real minutes. */
  constructor(config: RetryHandlerConfig, sleepFn: (ms: number, signal?: AbortSignal) => Promise<void> = sleep) {
    this.#initialMs = config.initRetryIntervalInSeconds * 1000
    this.#multiplier = Math.max(1, config.multiplier)
    this.#maxElapsedMs = config.maxRetryMinutes * 60_000
    this.#sleep = sleepFn
  }

  /**
   * Retries `save` after `firstError`. Resolves `ok` on the first success, else with the last error
   * once the retry window is used up. An abort of `signal` rejects (nothing is decided then).
   */
  async handle(firstError: unknown, save: () => Promise<void>, signal?: AbortSignal): Promise<RetryOutcome> {
    let interval = this.#initialMs
    let elapsed = 0
    let lastError = firstError
    let attempts = 0
    while (elapsed + interval < this.#maxElapsedMs) {
      await this.#sleep(interval, signal)
      attempts++
      try {
        await save()
        return { ok: true, attempts }
      } catch (err) {
        lastError = err
      }
      elapsed += interval
      interval *= this.#multiplier
    }
    return { ok: false, attempts, error: lastError }
  }
}
