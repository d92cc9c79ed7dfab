/**
 * Recovery of stores from their table (changelog) partitions with a group-less {@link LogReader}
 * (`log.reader`): it starts at each store's offset, joins no group and commits nothing. Processor
 * partitions and views are built on it.
 *
 * @example
 * ```ts
 * await recoverStores(log, 'clicks-table', [{ partition: 0, store }], { signal })
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { Record } from '../core/record.ts'
import type { Log } from '../log/types.ts'
import type { Store, StoreChange } from '../state/store.ts'

/** Turns table records into store changes (records without a key are not table rows and are skipped). */
export function toChanges(records: readonly Record[], from: number, to: number): StoreChange[] {
  const changes: StoreChange[] = []
  for (const r of records) {
    if (r.offset < from || r.offset >= to || r.key === null) continue
    changes.push([r.key.toString('utf8'), r.value])
  }
  return changes
}

/** A store to bring up to the end of its changelog partition. */
export interface RecoveryTarget {
  readonly partition: number
  readonly store: Store
  /** Called after each applied batch with the next offset, and once at the start with the range. */
  progress?(next: number, range: { from: number; to: number }, records: number): void
}

interface Range {
  readonly target: RecoveryTarget
  readonly from: number
  readonly to: number
  /** What the store holds up to (exclusive). */
  next: number
  /** Records applied to the store. */
  records: number
  /** Changes read but not yet written, and the offset after them. */
  readonly pending: Map<string, Buffer | null>
  pendingNext: number
  pendingRecords: number
  flushedAt: number
}

/** A recovering partition's store is written every this many records, or this often. */
const FLUSH_RECORDS = 50_000
const FLUSH_MS = 1_000

/** Options of {@link recoverStores}. */
export interface RecoverOptions {
  signal?: AbortSignal
  clientId?: string
  /** Fails when no record arrives for this long while records are missing (ms). Default 60,000. */
  stallTimeoutMs?: number
}

/**
 * Brings each target store up to the changelog end (as of the call): reads from the store's offset
 * (or the start of the partition), keeps the latest change per key in memory, and writes them in
 * one store transaction with the next offset every 50,000 records or second (and at the end), so a
 * crash mid-recovery resumes from the last written batch. A store whose offset is past the end (the topic was recreated) is cleared first.
 * Returns per partition the offset the store now reflects.
 */
export async function recoverStores(log: Log, topic: string, targets: readonly RecoveryTarget[], options: RecoverOptions = {}): Promise<Map<number, number>> {
  const [starts, ends] = await Promise.all([log.offsets.startOffsets(topic), log.offsets.endOffsets(topic)])
  const ranges = new Map<number, Range>()
  const result = new Map<number, number>()
  for (const target of targets) {
    const { partition, store } = target
    const start = starts[partition] ?? 0
    const end = ends[partition] ?? 0
    let from = store.offset() ?? start
    if (from > end) {
      store.clear()
      from = start
    }
    if (from < start) from = start
    target.progress?.(from, { from, to: end }, 0)
    result.set(partition, from)
    if (from < end) ranges.set(partition, { target, from, to: end, next: from, records: 0, pending: new Map(), pendingNext: from, pendingRecords: 0, flushedAt: Date.now() })
    else if (store.offset() !== from) store.setOffset(from)
  }
  if (ranges.size === 0) return result
  const flush = (range: Range): void => {
    if (range.pendingNext <= range.next) return
    range.target.store.write(range.pending, range.pendingNext)
    range.records += range.pendingRecords
    range.next = range.pendingNext
    range.pending.clear()
    range.pendingRecords = 0
    range.flushedAt = Date.now()
    result.set(range.target.partition, range.next)
    range.target.progress?.(range.next, range, range.records)
  }
  const reader = log.reader({
    topic,
    partitions: [...ranges.keys()],
    from: new Map([...ranges].map(([p, range]) => [p, range.from])),
    clientId: options.clientId,
  })
  const stallMs = options.stallTimeoutMs ?? 60_000
  let lastProgress = Date.now()
  try {
    while (ranges.size > 0) {
      options.signal?.throwIfAborted()
      const records = await reader.poll({ timeoutMs: 500, signal: options.signal })
      options.signal?.throwIfAborted()
      if (records.length > 0) lastProgress = Date.now()
      const byPartition = new Map<number, Record[]>()
      for (const r of records) {
        let list = byPartition.get(r.partition)
        if (!list) byPartition.set(r.partition, (list = []))
        list.push(r)
      }
      for (const [partition, list] of byPartition) {
        const range = ranges.get(partition)
        if (!range) continue
        const last = list[list.length - 1].offset
        const next = Math.min(last + 1, range.to)
        if (next <= range.pendingNext) continue
        // Later records of a key replace earlier ones in the pending batch: compaction in memory.
        for (const [key, value] of toChanges(list, range.pendingNext, range.to)) {
          range.pending.set(key, value)
          range.pendingRecords++
        }
        range.pendingNext = next
      }
      for (const [partition, range] of [...ranges]) {
        // Compaction can remove the last offsets of a range: the reader's position tells we passed them.
        const position = reader.position({ topic, partition })
        if (range.pendingNext < range.to && position !== undefined && position >= range.to) range.pendingNext = range.to
        const done = range.pendingNext >= range.to
        if (done || range.pendingRecords >= FLUSH_RECORDS || (range.pendingNext > range.next && Date.now() - range.flushedAt >= FLUSH_MS)) flush(range)
        if (done) ranges.delete(partition)
      }
      if (ranges.size > 0 && Date.now() - lastProgress > stallMs) {
        const missing = [...ranges.values()].map((r) => `${topic}/${r.target.partition} at ${r.next} of ${r.to}`).join(', ')
        throw new TributaryError('TRIB_TIMEOUT', `recovery of ${missing} made no progress for ${stallMs} ms`, { retriable: true, details: { topic } })
      }
    }
  } finally {
    await reader.close().catch(() => {})
  }
  return result
}
