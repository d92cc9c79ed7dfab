/**
 * A byte-rate limiter for `megaBytePerSec`: a token bucket that holds one second of budget and
 * refills continuously, so a burst up to the rate passes at once and a steady stream is held to it.
 * (AresDB counts whole MiB tokens drained once a second; the continuous bucket gives the same
 * long-run rate without one-second stalls.)
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter(600 * 1024 * 1024)
 * await limiter.take(message.value.length, signal)
 * ```
 * @module
 */
import { sleep } from '../core/backoff.ts'

/** Holds a stream of bytes to a rate. */
export class RateLimiter {
  readonly #bytesPerSec: number
  readonly #now: () => number
  #tokens: number
  #last: number

  constructor(bytesPerSec: number, now: () => number = () => performance.now()) {
    if (!(bytesPerSec > 0)) throw new RangeError(`rate must be positive, got ${bytesPerSec}`)
    this.#bytesPerSec = bytesPerSec
    this.#now = now
    this.#tokens = bytesPerSec
    this.#last = now()
  }

  #refill(): void {
    const t = this.#now()
    this.#tokens = Math.min(this.#bytesPerSec, this.#tokens + ((t - this.#last) / 1000) * this.#bytesPerSec)
    this.#last = t
  }

  /** How long (ms) a take of `bytes` would wait now; 0 when it passes at once. */
  delayFor(bytes: number): number {
    this.#refill()
    const missing = Math.min(bytes, this.#bytesPerSec) - this.#tokens
    return missing <= 0 ? 0 : Math.ceil((missing / this.#bytesPerSec) * 1000)
  }

  /** Waits until `bytes` fit in the budget, then spends them. A message larger than one second's budget waits for a full bucket. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (let wait = this.delayFor(bytes); wait > 0; wait = this.delayFor(bytes)) await sleep(wait, signal)
    this.#tokens -= bytes
  }
}
