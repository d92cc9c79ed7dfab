/**
 * The on-disk record batch of the embedded `file` log.
 *
 * ```
 * batch   := baseOffset:u64 length:u32 crc:u32 body          (length = bytes of crc + body)
 * body    := magic:u8(=1) attributes:u8 count:u32 maxTimestamp:f64 record*
 * record  := offsetDelta:u32 timestamp:f64 keyLength:i32 key valueLength:i32 value
 *            headerCount:u16 (nameLength:u16 name valueLength:u32 value)*
 * ```
 * Integers are big-endian. The CRC-32 covers `body`. Offsets inside a batch need not be
 * consecutive (compaction removes records), so each record carries its delta from `baseOffset`.
 * A key or value length of -1 means null.
 * @module
 */
import { crc32 } from 'node:zlib'
import { NO_HEADERS, type Headers, type Record } from '../../core/record.ts'

/** Bytes before the body: baseOffset, length, crc. */
export const BATCH_PREFIX = 16
/** Bytes of the body's fixed header. */
export const BODY_HEADER = 14
const MAGIC = 1
const TWO_32 = 0x1_0000_0000

/** A record to store, with its offset already assigned. */
export interface StoredInput {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Headers
}

/** A record read from a log. One class, so every record has the same shape (fast property access). */
export class LogRecord implements Record {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly timestamp: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Headers

  constructor(
    topic: string,
    partition: number,
    offset: number,
    timestamp: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
  ) {
    this.topic = topic
    this.partition = partition
    this.offset = offset
    this.timestamp = timestamp
    this.key = key
    this.value = value
    this.headers = headers
  }
}

/** Size in bytes of one encoded record. */
export function recordSize(r: StoredInput): number {
  let size = 4 + 8 + 4 + 4 + 2 + (r.key?.length ?? 0) + (r.value?.length ?? 0)
  for (const [name, value] of r.headers) size += 2 + Buffer.byteLength(name) + 4 + value.length
  return size
}

/** Encodes records (ascending offsets, at least one) into one batch. */
export function encodeBatch(records: readonly StoredInput[]): Buffer {
  let size = BATCH_PREFIX + BODY_HEADER
  for (let i = 0; i < records.length; i++) size += recordSize(records[i])
  const buf = Buffer.allocUnsafe(size)
  const baseOffset = records[0].offset
  writeU64(buf, 0, baseOffset)
  buf.writeUInt32BE(size - 12, 8)
  buf[16] = MAGIC
  buf[17] = 0
  buf.writeUInt32BE(records.length, 18)
  let maxTimestamp = 0
  let pos = BATCH_PREFIX + BODY_HEADER
  for (let i = 0; i < records.length; i++) {
    const r = records[i]
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp
    buf.writeUInt32BE(r.offset - baseOffset, pos)
    buf.writeDoubleBE(r.timestamp, pos + 4)
    pos += 12
    pos = writeBytes(buf, pos, r.key)
    pos = writeBytes(buf, pos, r.value)
    buf.writeUInt16BE(r.headers.length, pos)
    pos += 2
    for (const [name, value] of r.headers) {
      const nameLength = buf.write(name, pos + 2, 'utf8')
      buf.writeUInt16BE(nameLength, pos)
      pos += 2 + nameLength
      buf.writeUInt32BE(value.length, pos)
      value.copy(buf, pos + 4)
      pos += 4 + value.length
    }
  }
  buf.writeDoubleBE(maxTimestamp, 22)
  buf.writeUInt32BE(crc32(buf.subarray(BATCH_PREFIX)), 12)
  return buf
}

/**
 * A batch of no records whose offset is `nextOffset - 1`: it moves a segment's end up to
 * `nextOffset` when compaction removed the records at the end (Kafka's cleaner keeps an empty batch
 * for the same reason). Readers skip it.
 */
export function encodeEndMarker(nextOffset: number): Buffer {
  const buf = Buffer.alloc(BATCH_PREFIX + BODY_HEADER)
  writeU64(buf, 0, nextOffset - 1)
  buf.writeUInt32BE(buf.length - 12, 8)
  buf[16] = MAGIC
  buf.writeUInt32BE(0, 18)
  buf.writeDoubleBE(0, 22)
  buf.writeUInt32BE(crc32(buf.subarray(BATCH_PREFIX)), 12)
  return buf
}

function writeBytes(buf: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) {
    buf.writeInt32BE(-1, pos)
    return pos + 4
  }
  buf.writeInt32BE(bytes.length, pos)
  bytes.copy(buf, pos + 4)
  return pos + 4 + bytes.length
}

/** Writes a non-negative integer below 2^53 as an unsigned 64-bit big-endian number. */
export function writeU64(buf: Buffer, pos: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), pos)
  buf.writeUInt32BE(value % TWO_32, pos + 4)
}

/** Reads an unsigned 64-bit big-endian number (below 2^53). */
export function readU64(buf: Buffer, pos: number): number {
  return buf.readUInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4)
}

/** What {@link checkBatch} found at a position. */
export type BatchCheck =
  | { ok: true; size: number; baseOffset: number; count: number; maxTimestamp: number; lastOffset: number }
  | { ok: false; reason: string; needBytes?: number }

/**
 * Validates the batch at `pos` of `buf` (length and CRC). When the buffer holds only part of the
 * batch, answers `{ ok: false, needBytes }` so the caller can read more.
 */
export function checkBatch(buf: Buffer, pos: number): BatchCheck {
  if (buf.length - pos < BATCH_PREFIX + BODY_HEADER) {
    return { ok: false, reason: 'incomplete batch header', needBytes: BATCH_PREFIX + BODY_HEADER }
  }
  const length = buf.readUInt32BE(pos + 8)
  const size = length + 12
  if (length < 4 + BODY_HEADER || length > 0x7fff_ffff) return { ok: false, reason: `invalid batch length ${length}` }
  if (buf.length - pos < size) return { ok: false, reason: 'incomplete batch', needBytes: size }
  if (buf[pos + 16] !== MAGIC) return { ok: false, reason: `unknown batch magic ${buf[pos + 16]}` }
  const crc = crc32(buf.subarray(pos + BATCH_PREFIX, pos + size))
  if (crc !== buf.readUInt32BE(pos + 12)) return { ok: false, reason: 'CRC mismatch' }
  const baseOffset = readU64(buf, pos)
  const count = buf.readUInt32BE(pos + 18)
  return {
    ok: true,
    size,
    baseOffset,
    count,
    maxTimestamp: buf.readDoubleBE(pos + 22),
    lastOffset: count === 0 ? baseOffset : baseOffset + lastDelta(buf, pos, size, count),
  }
}

function lastDelta(buf: Buffer, pos: number, size: number, count: number): number {
  let p = pos + BATCH_PREFIX + BODY_HEADER
  let delta = 0
  for (let i = 0; i < count; i++) {
    delta = buf.readUInt32BE(p)
    p = skipRecord(buf, p)
    if (p > pos + size) return delta
  }
  return delta
}

function skipRecord(buf: Buffer, p: number): number {
  p += 12
  const keyLength = buf.readInt32BE(p)
  p += 4 + (keyLength > 0 ? keyLength : 0)
  const valueLength = buf.readInt32BE(p)
  p += 4 + (valueLength > 0 ? valueLength : 0)
  const headers = buf.readUInt16BE(p)
  p += 2
  for (let h = 0; h < headers; h++) {
    p += 2 + buf.readUInt16BE(p)
    p += 4 + buf.readUInt32BE(p)
  }
  return p
}

/**
 * Decodes the records of an already validated batch at `pos`, keeping those with
 * `offset >= fromOffset`, appending at most `max` of them to `out`. Keys and values are views into
 * `buf` (no copy). Returns how many were appended.
 */
export function decodeBatch(
  buf: Buffer,
  pos: number,
  topic: string,
  partition: number,
  fromOffset: number,
  max: number,
  out: Record[],
): number {
  const baseOffset = readU64(buf, pos)
  const count = buf.readUInt32BE(pos + 18)
  let p = pos + BATCH_PREFIX + BODY_HEADER
  let added = 0
  for (let i = 0; i < count && added < max; i++) {
    const offset = baseOffset + buf.readUInt32BE(p)
    if (offset < fromOffset) {
      p = skipRecord(buf, p)
      continue
    }
    const timestamp = buf.readDoubleBE(p + 4)
    p += 12
    let key: Buffer | null = null
    const keyLength = buf.readInt32BE(p)
    p += 4
    if (keyLength >= 0) {
      key = buf.subarray(p, p + keyLength)
      p += keyLength
    }
    let value: Buffer | null = null
    const valueLength = buf.readInt32BE(p)
    p += 4
    if (valueLength >= 0) {
      value = buf.subarray(p, p + valueLength)
      p += valueLength
    }
    const headerCount = buf.readUInt16BE(p)
    p += 2
    let headers: Headers = NO_HEADERS
    if (headerCount > 0) {
      const list: [string, Buffer][] = []
      for (let h = 0; h < headerCount; h++) {
        const nameLength = buf.readUInt16BE(p)
        const name = buf.toString('utf8', p + 2, p + 2 + nameLength)
        p += 2 + nameLength
        const length = buf.readUInt32BE(p)
        list.push([name, buf.subarray(p + 4, p + 4 + length)])
        p += 4 + length
      }
      headers = list
    }
    out.push(new LogRecord(topic, partition, offset, timestamp, key, value, headers))
    added++
  }
  return added
}
