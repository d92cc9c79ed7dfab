/**
 * The async iteration shared by group consumers and readers: poll until closed, yielding non-empty
 * batches.
 *
 * @example
 * ```ts
 * [Symbol.asyncIterator]() { return pollBatches(() => this.poll(), () => this.#closed) }
 * ```
 * @module
 */
import type { Record } from '../core/record.ts'

/** Polls with `poll` until `closed()` holds, yielding every non-empty batch. */
export async function* pollBatches(poll: () => Promise<Record[]>, closed: () => boolean): AsyncGenerator<Record[], void, undefined> {
  while (!closed()) {
    const batch = await poll()
    if (batch.length > 0) yield batch
  }
}
