/**
 * Committed offsets of the embedded log, kept the way Kafka keeps them: as records of an internal
 * compacted partition (`__consumer_offsets`), key `group NUL topic NUL partition`, value the offset as
 * an unsigned 64-bit integer. Replayed into a map when the log opens; one commit call is one batch,
 * so it is applied whole or not at all, also across a crash.
 * @module
 */
import { NO_HEADERS, type Record, type TopicPartitionOffset } from '../../core/record.ts'
import { readU64, writeU64, type StoredInput } from './batch-codec.ts'
import type { PartitionLog } from './partition.ts'

const SEP = '\u0000'

/**
 * One record of the committed-offset history (see {@link OffsetStore.history}): `offset` is null for
 * a tombstone (the offset was deleted with its topic).
 */
export interface CommitRecord {
  /** Position of the record in the internal `__consumer_offsets` partition; grows with every commit. */
  readonly position: number
  readonly group: string
  readonly topic: string
  readonly partition: number
  readonly offset: number | null
  /** When the commit was stored (ms since the epoch). */
  readonly timestamp: number
}

/** Committed offsets per group, durable when the partition behind it is file-backed. */
export class OffsetStore {
  readonly #log: PartitionLog
  /** group → "topic NUL partition" → offset */
  readonly #groups = new Map<string, Map<string, number>>()

  /** The next offset of the partition to apply to the map. */
  #applied = 0

  constructor(log: PartitionLog) {
    this.#log = log
    this.catchUp()
  }

  /**
   * Applies the records stored since the last call (all of them at construction). A read-only view
   * calls it after its partition took in what the owner appended, so only the new commits are read.
   */
  catchUp(): void {
    const log = this.#log
    const records: Record[] = []
    let offset = Math.max(this.#applied, log.startOffset)
    while (offset < log.endOffset) {
      records.length = 0
      if (log.read(offset, 10_000, records) === 0) break
      for (const r of records) this.#apply(r.key as Buffer, r.value)
      offset = records[records.length - 1].offset + 1
    }
    this.#applied = Math.max(offset, this.#applied)
  }

  /** Stores the offsets of one commit call atomically. */
  commit(groupId: string, offsets: readonly TopicPartitionOffset[], now: number): void {
    if (offsets.length === 0) return
    const batch: StoredInput[] = offsets.map((o) => {
      const value = Buffer.allocUnsafe(8)
      writeU64(value, 0, o.offset)
      return { offset: 0, timestamp: now, key: Buffer.from(groupId + SEP + o.topic + SEP + o.partition), value, headers: NO_HEADERS }
    })
    this.#log.append(batch, now)
    for (const entry of batch) this.#apply(entry.key as Buffer, entry.value)
    this.#applied = this.#log.endOffset
  }

  /** The committed offset of a partition, or undefined. */
  get(groupId: string, topic: string, partition: number): number | undefined {
    return this.#groups.get(groupId)?.get(topic + SEP + partition)
  }

  /** All committed offsets of a group, optionally of one topic, sorted by topic and partition. */
  list(groupId: string, topic?: string): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = []
    for (const [key, offset] of this.#groups.get(groupId) ?? []) {
      const [t, p] = key.split(SEP)
      if (topic === undefined || t === topic) out.push({ topic: t, partition: Number(p), offset })
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
  }

  /**
   * The stored commit records from `fromPosition` on (at most `max`), oldest first. Compaction keeps
   * only the latest record per group and partition, so old history may be gone.
   */
  history(fromPosition: number, max: number): CommitRecord[] {
    const records: Record[] = []
    this.#log.read(Math.max(0, fromPosition), max, records)
    const out: CommitRecord[] = []
    for (const r of records) {
      const text = (r.key as Buffer).toString()
      const first = text.indexOf(SEP)
      const second = text.indexOf(SEP, first + 1)
      out.push({
        position: r.offset,
        group: text.slice(0, first),
        topic: text.slice(first + 1, second),
        partition: Number(text.slice(second + 1)),
        offset: r.value === null ? null : readU64(r.value, 0),
        timestamp: r.timestamp,
      })
    }
    return out
  }

  /** Groups with at least one committed offset. */
  groups(): string[] {
    return [...this.#groups.keys()]
  }

  /** Forgets the offsets of a deleted topic (writes tombstones). */
  deleteTopic(topic: string, now: number): void {
    const tombstones: StoredInput[] = []
    for (const [group, offsets] of this.#groups) {
      for (const key of offsets.keys()) {
        if (key.split(SEP)[0] === topic) {
          tombstones.push({ offset: 0, timestamp: now, key: Buffer.from(group + SEP + key), value: null, headers: NO_HEADERS })
        }
      }
    }
    if (tombstones.length === 0) return
    this.#log.append(tombstones, now)
    for (const t of tombstones) this.#apply(t.key as Buffer, null)
    this.#applied = this.#log.endOffset
  }

  #apply(key: Buffer, value: Buffer | null): void {
    const text = key.toString()
    const at = text.indexOf(SEP)
    const group = text.slice(0, at)
    const rest = text.slice(at + 1)
    if (value === null) {
      const offsets = this.#groups.get(group)
      offsets?.delete(rest)
      if (offsets?.size === 0) this.#groups.delete(group)
      return
    }
    let offsets = this.#groups.get(group)
    if (!offsets) this.#groups.set(group, (offsets = new Map()))
    offsets.set(rest, readU64(value, 0))
  }
}
