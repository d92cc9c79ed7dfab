/**
 * AresDB's batcher as a source wrapper: a read returns once `batchSize` messages are together or
 * `maxBatchDelayMS` has passed since the first of them, so a quiet topic still flushes and a busy one
 * writes full batches. Acks and teardown pass through unchanged (positions are the inner source's).
 *
 * @example
 * ```ts
 * const source = new BatchingSource(logSource, 32_768, 10_000)
 * const batch = await source.read(signal)   // up to 32,768 messages, at most 10 s after the first
 * ```
 * @module
 */
import type { Source } from '../pipeline/connector.ts'
import type { PipelineRecord } from '../pipeline/record.ts'

/** Gathers reads of `inner` into batches by size and delay. */
export class BatchingSource implements Source {
  readonly #inner: Source
  readonly #batchSize: number
  readonly #maxDelayMs: number

  constructor(inner: Source, batchSize: number, maxDelayMs: number) {
    this.#inner = inner
    this.#batchSize = batchSize
    this.#maxDelayMs = maxDelayMs
  }

  open(signal: AbortSignal): Promise<void> {
    return this.#inner.open(signal)
  }

  async read(signal: AbortSignal): Promise<PipelineRecord[]> {
    const batch = await this.#inner.read(signal)
    if (batch.length === 0 || batch.length >= this.#batchSize) return batch
    const deadline = performance.now() + this.#maxDelayMs
    while (batch.length < this.#batchSize && !signal.aborted) {
      const left = deadline - performance.now()
      if (left <= 0) break
      // The inner read returns what it has when the wait ends, so nothing read is left behind.
      const more = await this.#inner.read(AbortSignal.any([signal, AbortSignal.timeout(Math.ceil(left))]))
      for (const record of more) batch.push(record)
    }
    return batch
  }

  ack(positions: readonly Buffer[]): Promise<void> {
    return this.#inner.ack(positions)
  }

  teardown(): Promise<void> {
    return this.#inner.teardown()
  }
}
