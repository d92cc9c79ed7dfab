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

/** Committed offsets per group, durable when the partition behind it is file-backed. */
export class OffsetStore {
  readonly #log: PartitionLog
  /** group → "topic NUL partition" → offset */
  readonly #groups = new Map<string, Map<string, number>>()

  constructor(log: PartitionLog) {
    this.#log = log
    const records: Record[] = []
    for (let offset = log.startOffset; offset < log.endOffset; ) {
      records.length = 0
      if (log.read(offset, 10_000, records) === 0) break
      for (const r of records) this.#apply(r.key as Buffer, r.value)
      offset = records[records.length - 1].offset + 1
    }
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
