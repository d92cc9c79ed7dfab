/**
 * The dead-letter queue's nack window, counted exactly as Conduit's `dlqWindow`.
 *
 * A ring of the last `size` outcomes, all acks at first. `size` 0 disables the check (every nack is
 * accepted); threshold 0 shrinks the ring to one slot. Once the ring holds more nacks than
 * `threshold`, the window freezes for good: every later nack is refused and acks change nothing.
 *
 * @example
 * ```ts
 * const w = new NackWindow(1, 0)  // Conduit's default
 * w.nack()                        // false: the first nack is refused
 * ```
 * @module
 */

/** Conduit's DLQ nack window. */
export class NackWindow {
  readonly size: number
  readonly threshold: number
  readonly #ring: Uint8Array
  #cursor = 0
  #nacks = 0

  constructor(size: number, threshold: number) {
    this.threshold = threshold
    this.size = size > 0 && threshold === 0 ? 1 : size
    this.#ring = new Uint8Array(this.size)
  }

  /** Nacks currently in the ring. */
  get nackCount(): number {
    return this.#nacks
  }

  /** True once the threshold was exceeded (for good). */
  get frozen(): boolean {
    return this.size > 0 && this.#nacks > this.threshold
  }

  /** Records `n` acks. */
  ack(n = 1): void {
    if (this.size === 0 || this.frozen) return
    if (n >= this.size) {
      this.#ring.fill(0)
      this.#nacks = 0
      this.#cursor = (this.#cursor + n) % this.size
      return
    }
    for (let i = 0; i < n; i++) this.#store(0)
  }

  /** Records a nack; false when it is refused (the threshold is, or now becomes, exceeded). */
  nack(): boolean {
    if (this.size === 0) return true
    if (this.frozen) return false
    this.#store(1)
    return this.#nacks <= this.threshold
  }

  #store(value: number): void {
    this.#nacks += value - this.#ring[this.#cursor]
    this.#ring[this.#cursor] = value
    this.#cursor = (this.#cursor + 1) % this.size
  }
}
