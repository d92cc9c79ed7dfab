/**
 * One partition of the embedded log: an ordered list of segments, the last one active.
 *
 * Appends go to the active segment, which rolls by `segment.bytes` / `segment.ms` (checked at append
 * time, as Kafka does). Retention drops whole closed segments from the front; compaction rewrites
 * closed segments keeping only the latest record per key (and tombstones younger than
 * `delete.retention.ms`), merging neighbours whose survivors fit in one `segment.bytes` segment, as
 * Kafka's cleaner groups segments, so compacted partitions do not pile up small or empty files. The
 * active segment is never cleaned. A pass holds the latest offset per key and one group's survivors
 * in memory, not the partition.
 * @module
 */
import type { Record } from '../../core/record.ts'
import { recordSize, type StoredInput } from './batch-codec.ts'
import { floorIndex, type Segment, type SegmentStore } from './segment.ts'
import type { TopicConfig } from './topic-config.ts'

/** Calls `fn` for every record of `segment`, reading a bounded number at a time. */
function forEachRecord(segment: Segment, fn: (record: Record) => void): void {
  const chunk: Record[] = []
  for (let from = segment.baseOffset; ; ) {
    chunk.length = 0
    if (segment.read(from, 8_192, chunk) === 0) return
    for (const r of chunk) fn(r)
    from = chunk[chunk.length - 1].offset + 1
  }
}

/** What a compaction or retention pass did, for logs and tests. */
export interface CleanResult {
  readonly removedSegments: number
  readonly removedRecords: number
}

/** A partition's segments and offsets. */
export class PartitionLog {
  readonly topic: string
  readonly partition: number
  #config: TopicConfig
  readonly #store: SegmentStore
  #segments: Segment[]
  #bases: number[]
  #end: number
  /** Offsets below this were compacted already; the dirty part starts here. */
  #cleanedUpTo = 0

  constructor(topic: string, partition: number, config: TopicConfig, store: SegmentStore) {
    this.topic = topic
    this.partition = partition
    this.#config = config
    this.#store = store
    this.#segments = store.load()
    this.#dropMergeLeftovers()
    if (this.#segments.length === 0) this.#segments.push(store.create(0))
    this.#bases = this.#segments.map((s) => s.baseOffset)
    const last = this.#segments[this.#segments.length - 1]
    this.#end = Math.max(last.nextOffset, last.baseOffset)
  }

  /** The first offset still retained. */
  get startOffset(): number {
    return this.#segments[0].baseOffset
  }

  /** The high watermark: the offset the next record gets. */
  get endOffset(): number {
    return this.#end
  }

  get sizeBytes(): number {
    let size = 0
    for (const s of this.#segments) size += s.sizeBytes
    return size
  }

  get segmentCount(): number {
    return this.#segments.length
  }

  /** Assigns offsets to `records` (in place) and appends them. Returns the first offset. */
  append(records: StoredInput[], now: number): number {
    this.#maybeRoll(now)
    const base = this.#end
    for (let i = 0; i < records.length; i++) records[i].offset = base + i
    this.#active().append(records)
    this.#end = base + records.length
    return base
  }

  /** Appends to `out` up to `max` records from `offset` on; returns how many. */
  read(offset: number, max: number, out: Record[]): number {
    if (offset >= this.#end) return 0
    let i = Math.max(0, floorIndex(this.#bases, offset))
    let added = 0
    let from = Math.max(offset, this.startOffset)
    while (i < this.#segments.length && added < max) {
      added += this.#segments[i].read(from, max - added, out)
      i++
      if (i < this.#segments.length) from = Math.max(from, this.#segments[i].baseOffset)
    }
    return added
  }

  /** Forces data to stable storage. */
  sync(): void {
    this.#active().sync()
  }

  /** fsyncs every segment and index of the partition (before a clean shutdown is recorded). */
  syncAll(): void {
    for (const s of this.#segments) s.sync()
  }

  /** Applies `retention.ms` and `retention.bytes` to closed segments. */
  enforceRetention(now: number): CleanResult {
    const { retentionMs, retentionBytes } = this.#config
    let removed = 0
    let size = this.sizeBytes
    while (this.#segments.length > 1) {
      const first = this.#segments[0]
      const expired = retentionMs >= 0 && first.maxTimestamp > 0 && first.maxTimestamp < now - retentionMs
      const tooBig = retentionBytes >= 0 && size > retentionBytes
      if (!expired && !tooBig) break
      size -= first.sizeBytes
      this.#store.remove(first)
      this.#segments.shift()
      removed++
    }
    if (removed > 0) this.#bases = this.#segments.map((s) => s.baseOffset)
    return { removedSegments: removed, removedRecords: 0 }
  }

  /** The share of closed-segment bytes written since the last compaction. */
  dirtyRatio(): number {
    let total = 0
    let dirty = 0
    for (let i = 0; i < this.#segments.length - 1; i++) {
      const s = this.#segments[i]
      total += s.sizeBytes
      if (s.nextOffset > this.#cleanedUpTo) dirty += s.sizeBytes
    }
    return total === 0 ? 0 : dirty / total
  }

  /**
   * Compacts closed segments if the dirty ratio reached `min.cleanable.dirty.ratio`: keeps the latest
   * record of each key (looking at the whole partition, the active segment included), drops
   * tombstones older than `delete.retention.ms`, and leaves segments younger than
   * `min.compaction.lag.ms` alone.
   */
  compact(now: number, force = false): CleanResult {
    if (this.#config.cleanupPolicy !== 'compact' || this.#segments.length < 2) return { removedSegments: 0, removedRecords: 0 }
    if (!force && this.dirtyRatio() < this.#config.minCleanableDirtyRatio) return { removedSegments: 0, removedRecords: 0 }
    // Two passes, holding the latest record of each key (where it is, its size) and one group's
    // survivors in memory: first what survives where, then each group that changes, rewritten.
    const lagMs = this.#config.minCompactionLagMs
    let cleanable = 0
    while (cleanable < this.#segments.length - 1 && !(lagMs > 0 && this.#segments[cleanable].maxTimestamp > now - lagMs)) cleanable++
    const latest = new Map<string, { offset: number; segment: number; bytes: number; kept: boolean }>()
    const keptBytes = new Array<number>(this.#segments.length).fill(0)
    const keptCount = new Array<number>(this.#segments.length).fill(0)
    const total = new Array<number>(this.#segments.length).fill(0)
    for (let i = 0; i < this.#segments.length; i++) {
      forEachRecord(this.#segments[i], (r) => {
        total[i]++
        if (r.key === null) return
        const key = r.key.toString('latin1')
        // A tombstone older than delete.retention.ms goes too.
        const kept = !(r.value === null && r.timestamp + this.#config.deleteRetentionMs <= now)
        const bytes = kept ? recordSize(r) : 0
        let entry = latest.get(key)
        if (entry === undefined) latest.set(key, (entry = { offset: r.offset, segment: i, bytes, kept }))
        else {
          keptBytes[entry.segment] -= entry.bytes
          if (entry.kept) keptCount[entry.segment]--
          entry.offset = r.offset
          entry.segment = i
          entry.bytes = bytes
          entry.kept = kept
        }
        keptBytes[i] += bytes
        if (kept) keptCount[i]++
      })
    }
    const survives = (r: Record): boolean => {
      if (r.key === null) return false
      const entry = latest.get(r.key.toString('latin1'))
      return entry !== undefined && entry.offset === r.offset && entry.kept
    }
    const changed = (i: number): boolean => keptCount[i] < total[i]
    let removedRecords = 0
    for (let i = 0; i < cleanable; i++) removedRecords += total[i] - keptCount[i]
    // Group neighbours whose survivors fit in one segment; rewrite a group into its first segment.
    const cleaned: Segment[] = []
    let removedSegments = 0
    for (let i = 0; i < cleanable; ) {
      let j = i + 1
      let bytes = keptBytes[i]
      while (j < cleanable && bytes + keptBytes[j] <= this.#config.segmentBytes) bytes += keptBytes[j++]
      if (j === i + 1 && !changed(i)) {
        cleaned.push(this.#segments[i])
        i = j
        continue
      }
      // Copies, not views of read buffers: the survivors outlive the reads, and the files go.
      const records: StoredInput[] = []
      for (let k = i; k < j; k++) {
        forEachRecord(this.#segments[k], (r) => {
          if (!survives(r)) return
          const headers = r.headers.length === 0 ? r.headers : r.headers.map(([n, v]) => [n, Buffer.from(v)] as const)
          records.push({ offset: r.offset, timestamp: r.timestamp, key: r.key && Buffer.from(r.key), value: r.value && Buffer.from(r.value), headers })
        })
      }
      // The merged segment is in place before the others go: a crash in between leaves segments
      // that overlap it, which the next load drops (#dropMergeLeftovers).
      cleaned.push(this.#store.replace(this.#segments[i], records, this.#segments[j].baseOffset))
      for (let k = i + 1; k < j; k++) this.#store.remove(this.#segments[k])
      removedSegments += j - i - 1
      i = j
    }
    if (cleanable > 0) {
      this.#segments = [...cleaned, ...this.#segments.slice(cleanable)]
      this.#bases = this.#segments.map((s) => s.baseOffset)
      this.#cleanedUpTo = Math.max(this.#cleanedUpTo, this.#segments[cleaned.length].baseOffset)
    }
    return { removedSegments, removedRecords }
  }

  /**
   * For a read-only view: takes in what the owning process wrote since the last look — new bytes
   * and segments, compacted or removed ones. Returns the bytes scanned.
   */
  refresh(): number {
    if (!this.#store.refresh) return 0
    const { segments, bytesRead } = this.#store.refresh(this.#segments)
    this.#segments = segments
    this.#dropMergeLeftovers()
    if (this.#segments.length === 0) this.#segments.push(this.#store.create(this.#end))
    this.#bases = this.#segments.map((s) => s.baseOffset)
    const last = this.#segments[this.#segments.length - 1]
    this.#end = Math.max(last.nextOffset, last.baseOffset)
    return bytesRead
  }

  /** Adopts a changed configuration (e.g. after `alterConfigs`). */
  reconfigure(config: TopicConfig): void {
    this.#config = config
  }

  close(): void {
    for (const s of this.#segments) s.close()
  }

  /** Closes and deletes all data of the partition. */
  destroy(): void {
    this.close()
    this.#store.destroy()
  }

  /**
   * Drops segments that start below the end of the segment before them: the rest of a merge that a
   * crash interrupted after the merged segment was written (it holds their surviving records).
   */
  #dropMergeLeftovers(): void {
    for (let i = 1; i < this.#segments.length; ) {
      const previous = this.#segments[i - 1]
      const segment = this.#segments[i]
      if (segment.baseOffset >= previous.nextOffset) {
        i++
        continue
      }
      this.#store.remove(segment)
      this.#segments.splice(i, 1)
    }
  }

  #active(): Segment {
    return this.#segments[this.#segments.length - 1]
  }

  #maybeRoll(now: number): void {
    const active = this.#active()
    if (active.sizeBytes === 0) return
    const bySize = active.sizeBytes >= this.#config.segmentBytes
    const byTime = active.rollTimestamp > 0 && now - active.rollTimestamp >= this.#config.segmentMs
    if (!bySize && !byTime) return
    this.#segments.push(this.#store.create(this.#end))
    this.#bases.push(this.#end)
  }
}
