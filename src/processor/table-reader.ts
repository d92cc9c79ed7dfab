/**
 * Reads table partitions from given offsets without touching any consumer group's commits: a
 * throwaway group (`__tributary-reader-<uuid>`) that seeks where asked and never commits. Recovery
 * of processor partitions and views is built on it, so it works on every `Log` backend.
 *
 * @example
 * ```ts
 * await recoverStores(log, 'clicks-table', [{ partition: 0, store }], { signal })
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto'
import { TributaryError } from '../core/errors.ts'
import type { Record, TopicPartition } from '../core/record.ts'
import type { GroupConsumer, Log } from '../log/types.ts'
import type { Store, StoreChange } from '../state/store.ts'

/** A group id nobody else uses; readers never commit, so the group leaves nothing behind. */
export function readerGroupId(topic: string): string {
  return `__tributary-reader-${topic}-${randomUUID()}`
}

/**
 * A consumer of every partition of `topic` in a throwaway group, positioned by `startOffset` when
 * partitions are assigned (partitions it returns `undefined` for are paused).
 */
export function openReader(
  log: Log,
  topic: string,
  startOffset: (partition: number) => number | undefined,
  options: { clientId?: string; maxPollRecords?: number } = {},
): GroupConsumer {
  const consumer: GroupConsumer = log.consumer({
    groupId: readerGroupId(topic),
    topics: [topic],
    autoOffsetReset: 'earliest',
    clientId: options.clientId,
    maxPollRecords: options.maxPollRecords ?? 10_000,
    onAssign: (tps: TopicPartition[]) => {
      const paused: TopicPartition[] = []
      for (const tp of tps) {
        const from = startOffset(tp.partition)
        if (from === undefined) paused.push(tp)
        else consumer.seek(tp, from)
      }
      if (paused.length > 0) consumer.pause(paused)
    },
  })
  return consumer
}

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
  const consumer = openReader(log, topic, (p) => ranges.get(p)?.from, { clientId: options.clientId })
  const stallMs = options.stallTimeoutMs ?? 60_000
  let lastProgress = Date.now()
  try {
    while (ranges.size > 0) {
      options.signal?.throwIfAborted()
      const records = await consumer.poll({ timeoutMs: 500, signal: options.signal })
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
        // Compaction can remove the last offsets of a range: the consumer's position tells we passed them.
        const position = consumer.position({ topic, partition })
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
    await consumer.close().catch(() => {})
  }
  return result
}
