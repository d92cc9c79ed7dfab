/**
 * File segments: `<base>.log` holds CRC-checked batches (batch-codec.ts), `<base>.index` a sparse
 * index of 16-byte entries `relativeOffset:u32 position:u32 maxTimestampSoFar:f64`.
 *
 * Recovery on open: the index is cut to whole entries that point inside the log; then the log is
 * scanned from the last index entry (or, after an unclean shutdown, the active segment from its
 * start), every batch's length and CRC checked, and a torn or corrupt tail is truncated to the last
 * valid batch and reported with file and position.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from '../../core/logger.ts'
import type { Record } from '../../core/record.ts'
import { TributaryError } from '../../core/errors.ts'
import { fsyncs, mkdirDurably } from './durable-fs.ts'
import { checkBatch, decodeBatch, encodeBatch, encodeEndMarker, recordSize, type StoredInput } from './batch-codec.ts'
import { floorIndex, MemorySegment, type Segment, type SegmentStore } from './segment.ts'

const INDEX_ENTRY = 16
/** Write an index entry after at least this many log bytes. */
const INDEX_INTERVAL = 4096
/** Bytes read per `read` call (grown for larger batches). */
const READ_CHUNK = 1 << 20

/** Options for {@link FileSegmentStore}. */
export interface FileSegmentOptions {
  dir: string
  topic: string
  partition: number
  logger: Logger
  /** `always`: fsync after every append. `never` (default): leave flushing to the OS. */
  fsync: 'always' | 'never'
  /** True when the previous process did not close the log cleanly: verify active segments fully. */
  unclean: boolean
  /**
   * Look without touching: files opened for reading, nothing truncated or removed, an invalid tail
   * (the owner may be mid-append) just ends the segment. For a second process beside the owner.
   */
  readOnly?: boolean
}

function readOnlyError(options: FileSegmentOptions, op: string): TributaryError {
  return new TributaryError('TRIB_LOG_READ_ONLY', `${op} ${options.topic}/${options.partition}: the embedded log is open read-only`, {
    details: { dir: options.dir, topic: options.topic, partition: options.partition },
  })
}

function baseName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0')
}

class FileSegment implements Segment {
  readonly baseOffset: number
  readonly logPath: string
  readonly indexPath: string
  readonly #options: FileSegmentOptions
  #fd: number
  #indexFd: number
  #size = 0
  #next: number
  #maxTimestamp = 0
  #rollTimestamp = 0
  #indexOffsets: number[] = []
  #indexPositions: number[] = []
  #sinceIndex = 0
  /** Set when recovery found a corrupt batch in this closed segment. */
  #corruptAt: number | undefined

  constructor(options: FileSegmentOptions, baseOffset: number, create: boolean) {
    this.#options = options
    this.baseOffset = baseOffset
    this.#next = baseOffset
    this.logPath = path.join(options.dir, `${baseName(baseOffset)}.log`)
    this.indexPath = path.join(options.dir, `${baseName(baseOffset)}.index`)
    if (options.readOnly) {
      this.#fd = fs.openSync(this.logPath, 'r')
      this.#indexFd = -1
      return
    }
    const flags = create ? 'w+' : 'r+'
    this.#fd = fs.openSync(this.logPath, flags)
    this.#indexFd = fs.openSync(this.indexPath, create ? 'w+' : fs.existsSync(this.indexPath) ? 'r+' : 'w+')
    // With `fsync: always` an acknowledged record must survive power loss, so must its file's name.
    if (create && options.fsync === 'always') fsyncs.directory(options.dir)
  }

  get nextOffset(): number {
    return this.#next
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

  /**
   * Rebuilds in-memory state from the files; `verifyAll` checks every batch instead of only the tail.
   * An invalid tail of the active segment is truncated; a closed segment is never cut (records after
   * it exist), so its reads fail with `TRIB_LOG_CORRUPT` instead.
   */
  recover(verifyAll: boolean, active: boolean): void {
    const logSize = fs.fstatSync(this.#fd).size
    const readOnly = this.#options.readOnly === true
    const indexBytes = readOnly && !fs.existsSync(this.indexPath) ? Buffer.alloc(0) : fs.readFileSync(this.indexPath)
    let entries = Math.floor(indexBytes.length / INDEX_ENTRY)
    let scanFrom = 0
    let maxTimestamp = 0
    for (let i = 0; i < entries; i++) {
      const pos = indexBytes.readUInt32BE(i * INDEX_ENTRY + 4)
      if (pos >= logSize || (i > 0 && pos <= this.#indexPositions[i - 1])) {
        entries = i
        break
      }
      this.#indexOffsets.push(this.baseOffset + indexBytes.readUInt32BE(i * INDEX_ENTRY))
      this.#indexPositions.push(pos)
      maxTimestamp = Math.max(maxTimestamp, indexBytes.readDoubleBE(i * INDEX_ENTRY + 8))
    }
    if (verifyAll) {
      entries = 0
      this.#indexOffsets = []
      this.#indexPositions = []
      maxTimestamp = 0
    } else if (entries > 0) {
      scanFrom = this.#indexPositions[entries - 1]
      // The entry's batch is rescanned below; its own index entry is re-added by the scan.
      this.#indexOffsets.pop()
      this.#indexPositions.pop()
      entries--
    }
    if (!readOnly) fs.ftruncateSync(this.#indexFd, entries * INDEX_ENTRY)
    this.#maxTimestamp = maxTimestamp
    this.#size = scanFrom
    this.#sinceIndex = INDEX_INTERVAL
    this.#scan(scanFrom, logSize, active)
  }

  /**
   * For a read-only view: takes in what the owner appended since the last look (scanning only the
   * new bytes). Returns the bytes scanned, or `undefined` when the file was replaced (compaction
   * renamed a new one into place) or removed: then the segment must be opened again.
   */
  follow(): number | undefined {
    let onDisk: fs.Stats
    try {
      onDisk = fs.statSync(this.logPath)
    } catch {
      return undefined
    }
    const open = fs.fstatSync(this.#fd)
    if (onDisk.ino !== open.ino || onDisk.dev !== open.dev) return undefined
    return open.size > this.#size ? this.#scan(this.#size, open.size, true) : 0
  }

  /** Checks and notes the batches from `from` to `logSize`; returns the bytes taken in. */
  #scan(from: number, logSize: number, active: boolean): number {
    let pos = from
    const readOnly = this.#options.readOnly === true
    scan: while (pos < logSize) {
      let buf = this.#readAt(pos, Math.min(READ_CHUNK, logSize - pos))
      let p = 0
      while (p < buf.length) {
        let check = checkBatch(buf, p)
        if (!check.ok && check.needBytes !== undefined && pos + p + check.needBytes <= logSize) {
          if (p > 0) break // read again, starting at this batch
          buf = this.#readAt(pos, check.needBytes)
          check = checkBatch(buf, 0)
        }
        if (!check.ok && !active) {
          const at = pos + p
          this.#options.logger.error(
            { file: this.logPath, position: at, reason: check.reason },
            `embedded log: corrupt batch in closed segment ${this.logPath} at position ${at} (${check.reason}); reads of it will fail`,
          )
          this.#corruptAt = at
          pos = logSize
          break scan
        }
        if (!check.ok && readOnly) {
          // The owner may be writing this batch right now: the segment ends here for this reader.
          pos += p
          break scan
        }
        if (!check.ok) {
          const at = pos + p
          this.#options.logger.warn(
            { file: this.logPath, position: at, reason: check.reason, bytesCut: logSize - at },
            `embedded log: truncated ${this.logPath} at position ${at} (${check.reason}); cut ${logSize - at} bytes after the last valid batch`,
          )
          fs.ftruncateSync(this.#fd, at)
          pos = at
          break scan
        }
        this.#noteBatch(pos + p, check.size, check.baseOffset, check.lastOffset, check.maxTimestamp)
        p += check.size
      }
      pos += p
    }
    this.#size = pos
    return pos - from
  }

  #readAt(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length)
    let read = 0
    while (read < length) {
      const n = fs.readSync(this.#fd, buf, read, length - read, position + read)
      if (n === 0) break
      read += n
    }
    return read === length ? buf : buf.subarray(0, read)
  }

  #noteBatch(pos: number, size: number, base: number, last: number, maxTs: number): void {
    if (this.#rollTimestamp === 0) this.#rollTimestamp = maxTs || Date.now()
    if (maxTs > this.#maxTimestamp) this.#maxTimestamp = maxTs
    this.#next = last + 1
    if (this.#sinceIndex >= INDEX_INTERVAL) {
      if (this.#indexFd >= 0) {
        const entry = Buffer.allocUnsafe(INDEX_ENTRY)
        entry.writeUInt32BE(base - this.baseOffset, 0)
        entry.writeUInt32BE(pos, 4)
        entry.writeDoubleBE(this.#maxTimestamp, 8)
        fs.writeSync(this.#indexFd, entry, 0, INDEX_ENTRY, this.#indexOffsets.length * INDEX_ENTRY)
      }
      this.#indexOffsets.push(base)
      this.#indexPositions.push(pos)
      this.#sinceIndex = 0
    }
    this.#sinceIndex += size
  }

  append(records: readonly StoredInput[]): void {
    if (this.#options.readOnly) throw readOnlyError(this.#options, 'append to')
    if (records.length === 0) return
    this.appendEncoded(encodeBatch(records), records[0].offset, records[records.length - 1].offset, records)
  }

  /** Appends an already encoded batch. */
  appendEncoded(batch: Buffer, base: number, last: number, records: readonly StoredInput[]): void {
    let maxTs = 0
    for (let i = 0; i < records.length; i++) if (records[i].timestamp > maxTs) maxTs = records[i].timestamp
    let written = 0
    while (written < batch.length) {
      written += fs.writeSync(this.#fd, batch, written, batch.length - written, this.#size + written)
    }
    if (this.#options.fsync === 'always') fsyncs.file(this.#fd)
    const pos = this.#size
    this.#size += batch.length
    this.#noteBatch(pos, batch.length, base, last, maxTs)
  }

  read(fromOffset: number, max: number, out: Record[]): number {
    if ((fromOffset >= this.#next && this.#corruptAt === undefined) || max <= 0) return 0
    const i = floorIndex(this.#indexOffsets, fromOffset)
    let pos = i < 0 ? 0 : this.#indexPositions[i]
    let added = 0
    while (pos < this.#size && added < max) {
      let buf = this.#readAt(pos, Math.min(READ_CHUNK, this.#size - pos))
      let p = 0
      while (p < buf.length && added < max) {
        let check = checkBatch(buf, p)
        if (!check.ok && check.needBytes !== undefined) {
          if (p > 0) break // re-read from this batch
          buf = this.#readAt(pos, Math.min(check.needBytes, this.#size - pos))
          check = checkBatch(buf, 0)
        }
        if (!check.ok) {
          throw new TributaryError(
            'TRIB_LOG_CORRUPT',
            `corrupt batch in ${this.logPath} at position ${pos + p}: ${check.reason}`,
            { details: { file: this.logPath, position: pos + p, topic: this.#options.topic, partition: this.#options.partition } },
          )
        }
        if (check.lastOffset >= fromOffset) {
          added += decodeBatch(buf, p, this.#options.topic, this.#options.partition, fromOffset, max - added, out)
        }
        p += check.size
      }
      pos += p
    }
    return added
  }

  sync(): void {
    if (this.#indexFd < 0) return
    fsyncs.file(this.#fd)
    fsyncs.file(this.#indexFd)
  }

  close(): void {
    fs.closeSync(this.#fd)
    if (this.#indexFd >= 0) fs.closeSync(this.#indexFd)
  }
}

/** Keeps a partition's segments as files in one directory: the `file` mode of the embedded log. */
export class FileSegmentStore implements SegmentStore {
  readonly #options: FileSegmentOptions

  constructor(options: FileSegmentOptions) {
    this.#options = options
    if (!options.readOnly) mkdirDurably(options.dir)
  }

  load(): Segment[] {
    if (this.#options.readOnly && !fs.existsSync(this.#options.dir)) return []
    const bases = fs
      .readdirSync(this.#options.dir)
      .filter((name) => /^\d{20}\.log$/.test(name))
      .map((name) => Number(name.slice(0, 20)))
      .sort((a, b) => a - b)
    // Leftovers of an interrupted compaction are discarded; the originals are still complete.
    for (const name of this.#options.readOnly ? [] : fs.readdirSync(this.#options.dir)) {
      if (name.endsWith('.cleaned')) fs.rmSync(path.join(this.#options.dir, name), { force: true })
    }
    return bases.map((base, i) => {
      const segment = new FileSegment(this.#options, base, false)
      const active = i === bases.length - 1
      segment.recover(active && this.#options.unclean, active)
      return segment
    })
  }

  refresh(segments: readonly Segment[]): { segments: Segment[]; bytesRead: number } {
    const dir = this.#options.dir
    const bases = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((name) => /^\d{20}\.log$/.test(name))
          .map((name) => Number(name.slice(0, 20)))
          .sort((a, b) => a - b)
      : []
    const known = new Map<number, Segment>(segments.map((s) => [s.baseOffset, s]))
    const out: Segment[] = []
    let bytesRead = 0
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]
      const existing = known.get(base)
      known.delete(base)
      if (existing instanceof FileSegment) {
        const grown = existing.follow()
        if (grown !== undefined) {
          bytesRead += grown
          out.push(existing)
          continue
        }
        existing.close()
      } else {
        existing?.close()
      }
      let segment: FileSegment
      try {
        segment = new FileSegment(this.#options, base, false)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // removed meanwhile
        throw err
      }
      segment.recover(false, i === bases.length - 1)
      bytesRead += segment.sizeBytes
      out.push(segment)
    }
    for (const gone of known.values()) gone.close()
    return { segments: out, bytesRead }
  }

  create(baseOffset: number): Segment {
    // Read-only, a partition without files yet is simply empty.
    if (this.#options.readOnly) return new MemorySegment(this.#options.topic, this.#options.partition, baseOffset)
    return new FileSegment(this.#options, baseOffset, true)
  }

  replace(segment: Segment, records: readonly StoredInput[], nextOffset: number): Segment {
    if (this.#options.readOnly) throw readOnlyError(this.#options, 'compact')
    const old = segment as FileSegment
    const tmpOptions = { ...this.#options }
    const cleaned = `${old.logPath}.cleaned`
    const cleanedIndex = `${old.indexPath}.cleaned`
    // Write the compacted copy beside the original, then swap it in with renames.
    const fd = fs.openSync(cleaned, 'w')
    // Batches of about half a read chunk, so that reading from any offset decodes little.
    for (let start = 0; start < records.length; ) {
      let end = start
      for (let bytes = 0; end < records.length; end++) {
        const size = recordSize(records[end])
        if (end > start && bytes + size > READ_CHUNK / 2) break
        bytes += size
      }
      fs.writeSync(fd, encodeBatch(records.slice(start, end)))
      start = end
    }
    // The segment keeps its end: a merge is then recognisable after a crash (see PartitionLog).
    const last = records.length > 0 ? records[records.length - 1].offset : segment.baseOffset - 1
    if (last + 1 < nextOffset) fs.writeSync(fd, encodeEndMarker(nextOffset))
    fsyncs.file(fd)
    fs.closeSync(fd)
    fs.writeFileSync(cleanedIndex, Buffer.alloc(0))
    old.close()
    fs.renameSync(cleanedIndex, old.indexPath)
    fs.renameSync(cleaned, old.logPath)
    // The merged segment's name must be durable before its neighbours are unlinked (remove below),
    // or power loss could bring back the original while the neighbours are gone.
    fsyncs.directory(this.#options.dir)
    const fresh = new FileSegment(tmpOptions, old.baseOffset, false)
    fresh.recover(false, false)
    return fresh
  }

  remove(segment: Segment): void {
    const file = segment as FileSegment
    file.close()
    if (this.#options.readOnly) return // out of this view only
    fs.rmSync(file.logPath, { force: true })
    fs.rmSync(file.indexPath, { force: true })
    fsyncs.directory(this.#options.dir)
  }

  destroy(): void {
    if (this.#options.readOnly) throw readOnlyError(this.#options, 'delete')
    fs.rmSync(this.#options.dir, { recursive: true, force: true })
  }
}
