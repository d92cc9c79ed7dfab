/**
 * Segments: the units a partition's records are stored in, rolled, retained and compacted by.
 *
 * A partition is a list of segments with ascending base offsets; only the last one (the active
 * segment) is appended to. Two stores implement them: {@link MemorySegmentStore} keeps records as
 * objects, `FileSegmentStore` (file-segment.ts) keeps CRC-checked batches in files.
 * @module
 */
import type { Record } from '../../core/record.ts'
import { LogRecord, recordSize, type StoredInput } from './batch-codec.ts'

/** A run of consecutive (possibly compacted) offsets of one partition. */
export interface Segment {
  readonly baseOffset: number
  /** The offset after the last record stored (base offset when empty). */
  readonly nextOffset: number
  readonly sizeBytes: number
  /** The largest record timestamp; 0 when empty. */
  readonly maxTimestamp: number
  /** The timestamp a `segment.ms` roll is measured from (first append). */
  readonly rollTimestamp: number
  /** Appends records whose offsets are assigned and ascending. */
  append(records: readonly StoredInput[]): void
  /** Appends to `out` up to `max` records with `offset >= fromOffset`; returns how many. */
  read(fromOffset: number, max: number, out: Record[]): number
  /** Forces written data to stable storage. */
  sync(): void
  close(): void
}

/** Creates, loads, rewrites and removes the segments of one partition. */
export interface SegmentStore {
  /** Segments that exist already (file mode after a restart), ascending. */
  load(): Segment[]
  create(baseOffset: number): Segment
  /**
   * Writes `records` as the new content of `segment` (for compaction, possibly merging the segments
   * after it up to `end`, exclusive) and returns the replacement, whose `nextOffset` is `end`.
   */
  replace(segment: Segment, records: readonly StoredInput[], end: number): Segment
  remove(segment: Segment): void
  /** Removes everything of the partition. */
  destroy(): void
  /**
   * For a read-only view of files another process owns: the partition's segments as they are now —
   * `segments` followed where their files only grew, opened again where they were replaced, dropped
   * where removed, new files added. Returns the bytes scanned with the new list. Absent for memory.
   */
  refresh?(segments: readonly Segment[]): { segments: Segment[]; bytesRead: number }
}

/** Binary search: index of the last element of `sorted` that is `<= value`, or -1. */
export function floorIndex(sorted: ArrayLike<number>, value: number, length = sorted.length): number {
  let lo = 0
  let hi = length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] <= value) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found
}

/** A segment kept in memory. */
export class MemorySegment implements Segment {
  readonly baseOffset: number
  readonly #records: LogRecord[] = []
  readonly #offsets: number[] = []
  readonly #topic: string
  readonly #partition: number
  #size = 0
  #maxTimestamp = 0
  #rollTimestamp = 0
  #contiguous = true
  #end = 0

  constructor(topic: string, partition: number, baseOffset: number) {
    this.#topic = topic
    this.#partition = partition
    this.baseOffset = baseOffset
  }

  get nextOffset(): number {
    const n = this.#offsets.length
    return Math.max(this.#end, n === 0 ? this.baseOffset : this.#offsets[n - 1] + 1)
  }

  /** Moves the end up to `end` (compaction removed the records before it). */
  endAt(end: number): void {
    this.#end = end
  }
  get sizeBytes(): number {
    return this.#size
  }
  get maxTimestamp(): number {
    return this.#maxTimestamp
  }
  get rollTimestamp(): number {
    return this.#rollTimestamp
  }

  append(records: readonly StoredInput[]): void {
    if (this.#records.length === 0 && records.length > 0) this.#rollTimestamp = Date.now()
    for (const r of records) {
      if (r.offset !== this.nextOffset) this.#contiguous = false
      this.#records.push(new LogRecord(this.#topic, this.#partition, r.offset, r.timestamp, r.key, r.value, r.headers))
      this.#offsets.push(r.offset)
      this.#size += recordSize(r)
      if (r.timestamp > this.#maxTimestamp) this.#maxTimestamp = r.timestamp
    }
  }

  read(fromOffset: number, max: number, out: Record[]): number {
    const n = this.#records.length
    let i: number
    if (this.#contiguous) i = Math.max(0, fromOffset - this.baseOffset)
    else {
      i = floorIndex(this.#offsets, fromOffset)
      if (i < 0 || this.#offsets[i] < fromOffset) i++
    }
    const end = Math.min(n, i + max)
    for (let j = i; j < end; j++) out.push(this.#records[j])
    return Math.max(0, end - i)
  }

  sync(): void {}
  close(): void {}
}

/** Keeps segments in memory: the `memory` mode of the embedded log. */
export class MemorySegmentStore implements SegmentStore {
  readonly #topic: string
  readonly #partition: number

  constructor(topic: string, partition: number) {
    this.#topic = topic
    this.#partition = partition
  }

  load(): Segment[] {
    return []
  }

  create(baseOffset: number): Segment {
    return new MemorySegment(this.#topic, this.#partition, baseOffset)
  }

  replace(segment: Segment, records: readonly StoredInput[], end: number): Segment {
    const fresh = new MemorySegment(this.#topic, this.#partition, segment.baseOffset)
    fresh.append(records)
    fresh.endAt(end)
    return fresh
  }

  remove(): void {}
  destroy(): void {}
}
