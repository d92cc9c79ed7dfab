/**
 * Decodes the record batches (magic 2) of one partition of a Fetch response straight into our
 * {@link Record} objects, in one pass over one contiguous buffer.
 *
 * platformatic's parser builds a batch object and a record object per record (with a headers array
 * and bigint fields) through a multi-chunk reader, and the fetcher then built a second object per
 * record; profiling the consume bench put two thirds of its time in that and the garbage it left.
 * Here each record costs one object and the two `subarray` views of its key and value.
 *
 * What it does besides decoding:
 * - every batch's CRC-32C is checked (as the Java consumer's `check.crcs` does by default): a batch
 *   damaged on the wire or on the broker's disk is an error naming its topic, partition and offset,
 *   never records with wrong bytes;
 * - compressed batches (gzip, snappy, lz4, zstd) are inflated with platformatic's codecs;
 * - control batches (transaction markers) are skipped but move the next fetch offset past them;
 * - read-committed: records of aborted transactions are dropped, as the Java consumer drops them —
 *   a producer enters the aborted set when a batch of it reaches the `firstOffset` of one of the
 *   response's aborted transactions, and leaves it at its ABORT marker;
 * - records below `fetchOffset` (a batch that starts earlier than the requested offset) are skipped;
 * - a truncated batch at the end (the broker cuts responses at the size limit) is left for the next
 *   fetch.
 *
 * @example
 * ```ts
 * const { records, next } = decodeRecordBatches(bytes, 'orders', 0, 42, [])
 * ```
 * @module
 */
import { compressionsAlgorithmsByBitmask, crc32c } from '@platformatic/kafka'
import { NO_HEADERS, type Headers, type Record } from '../../core/record.ts'
import { TributaryError } from '../../core/errors.ts'

/** An aborted transaction listed in a Fetch response (read-committed). */
export interface AbortedTransaction {
  readonly producerId: bigint
  readonly firstOffset: number
}

/** What {@link decodeRecordBatches} found. */
export interface DecodedRecords {
  readonly records: Record[]
  /** The offset to fetch next: past the last complete batch (control batches included). */
  readonly next: number
}

const BATCH_HEADER = 61 // up to and including the record count
const LENGTH_OFFSET = 8
const MAGIC_OFFSET = 16
const CRC_OFFSET = 17
const ATTRIBUTES_OFFSET = 21
const LAST_OFFSET_DELTA_OFFSET = 23
const FIRST_TIMESTAMP_OFFSET = 27
const MAX_TIMESTAMP_OFFSET = 35
const PRODUCER_ID_OFFSET = 43
const COUNT_OFFSET = 57
const COMPRESSION_MASK = 0x07
const LOG_APPEND_TIME = 0x08
const TRANSACTIONAL = 0x10
const CONTROL = 0x20
const EMPTY = Buffer.alloc(0)
/**
 * Node's own Buffer class: a view made with it directly skips `subarray`'s species lookup and
 * argument checks (about a third cheaper; two views per record).
 */
const View = (Buffer as unknown as { [Symbol.species]: unknown })[Symbol.species] as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer

/** An int64 read as a number (exact below 2^53: offsets and timestamps). */
function int64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4)
}

/**
 * Decodes every complete batch of `bytes` (the COMPACT_RECORDS of one partition).
 * @param aborted the partition's aborted transactions (empty for read-uncommitted)
 */
export function decodeRecordBatches(bytes: Buffer, topic: string, partition: number, fetchOffset: number, aborted: readonly AbortedTransaction[]): DecodedRecords {
  const records: Record[] = []
  let next = fetchOffset
  let pos = 0
  const end = bytes.length
  // Aborted transactions not yet reached, by first offset; producers currently inside one.
  const pendingAborts = aborted.length > 0 ? [...aborted].sort((a, b) => a.firstOffset - b.firstOffset) : aborted
  let abortIndex = 0
  const abortedProducers = new Set<bigint>()
  while (pos + BATCH_HEADER <= end) {
    const size = 12 + bytes.readInt32BE(pos + LENGTH_OFFSET)
    if (pos + size > end) break // truncated by the response size limit: fetched again next time
    const base = int64(bytes, pos)
    const magic = bytes[pos + MAGIC_OFFSET]
    if (magic !== 2) {
      throw new TributaryError('TRIB_LOG_KAFKA', `topic ${topic} partition ${partition}: record batch at offset ${base} has message format ${magic}; only format 2 (Kafka 0.11+) is supported`)
    }
    const crc = bytes.readUInt32BE(pos + CRC_OFFSET)
    if (crc32c(bytes.subarray(pos + ATTRIBUTES_OFFSET, pos + size)) !== crc) {
      throw new TributaryError('TRIB_LOG_KAFKA', `topic ${topic} partition ${partition}: record batch at offset ${base} is corrupt (its CRC-32C does not match its bytes)`)
    }
    const attributes = bytes.readInt16BE(pos + ATTRIBUTES_OFFSET)
    const last = base + bytes.readInt32BE(pos + LAST_OFFSET_DELTA_OFFSET)
    if (last + 1 > next) next = last + 1
    if ((attributes & CONTROL) !== 0) {
      if (abortedProducers.size > 0 && isAbortMarker(bytes, pos, size)) abortedProducers.delete(bytes.readBigInt64BE(pos + PRODUCER_ID_OFFSET))
      pos += size
      continue
    }
    if ((attributes & TRANSACTIONAL) !== 0 && pendingAborts.length > 0) {
      while (abortIndex < pendingAborts.length && pendingAborts[abortIndex].firstOffset <= last) abortedProducers.add(pendingAborts[abortIndex++].producerId)
      if (abortedProducers.has(bytes.readBigInt64BE(pos + PRODUCER_ID_OFFSET))) {
        pos += size
        continue
      }
    }
    if (last >= fetchOffset) {
      const logAppendTime = (attributes & LOG_APPEND_TIME) !== 0
      const firstTimestamp = int64(bytes, pos + (logAppendTime ? MAX_TIMESTAMP_OFFSET : FIRST_TIMESTAMP_OFFSET))
      const count = bytes.readInt32BE(pos + COUNT_OFFSET)
      const codec = attributes & COMPRESSION_MASK
      let body = bytes
      let at = pos + BATCH_HEADER
      let bodyEnd = pos + size
      if (codec !== 0) {
        const algorithm = (compressionsAlgorithmsByBitmask as { [bitmask: number]: { decompressSync(data: Buffer): Buffer | { buffer: Buffer } } | undefined })[codec]
        if (algorithm === undefined) throw new TributaryError('TRIB_LOG_KAFKA', `topic ${topic} partition ${partition}: record batch at offset ${base} uses unknown compression ${codec}`)
        const inflated = algorithm.decompressSync(bytes.subarray(at, bodyEnd))
        body = Buffer.isBuffer(inflated) ? inflated : inflated.buffer
        at = 0
        bodyEnd = body.length
      }
      decodeRecords(body, at, bodyEnd, count, topic, partition, base, fetchOffset, logAppendTime, firstTimestamp, records)
    }
    pos += size
  }
  return { records, next }
}

/** A control batch whose record's key says ABORT (type 0). */
function isAbortMarker(bytes: Buffer, pos: number, size: number): boolean {
  // The control record: length, attributes (one byte), timestamp delta, offset delta, key length,
  // then the key: version int16, type int16.
  const limit = pos + size
  let at = varintAt(bytes, pos + BATCH_HEADER, limit).next + 1
  at = varintAt(bytes, at, limit).next
  at = varintAt(bytes, at, limit).next
  const keyLength = varintAt(bytes, at, limit)
  if (keyLength.value < 4 || keyLength.next + 4 > limit) return false
  return bytes.readInt16BE(keyLength.next + 2) === 0
}

function varintAt(bytes: Buffer, at: number, limit: number): { value: number; next: number } {
  let raw = 0
  let shift = 0
  let b: number
  do {
    if (at >= limit) return { value: -1, next: at }
    b = bytes[at++]
    raw += (b & 0x7f) * 2 ** shift
    shift += 7
  } while ((b & 0x80) !== 0)
  return { value: raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, next: at }
}

/** Decodes `count` records of one batch from `body[at..end)` into `out`. */
function decodeRecords(body: Buffer, at: number, end: number, count: number, topic: string, partition: number, base: number, fetchOffset: number, logAppendTime: boolean, firstTimestamp: number, out: Record[]): void {
  let pos = at
  const memory = body.buffer
  const base0 = body.byteOffset
  // Zig-zag varints, inlined: the loop below runs once per record and dominates the consume path.
  const varint = (): number => {
    let b = body[pos++]
    let raw = b & 0x7f
    if (b > 0x7f) {
      b = body[pos++]
      raw |= (b & 0x7f) << 7
      if (b > 0x7f) {
        b = body[pos++]
        raw |= (b & 0x7f) << 14
        if (b > 0x7f) {
          b = body[pos++]
          raw |= (b & 0x7f) << 21
          if (b > 0x7f) {
            b = body[pos++]
            raw += (b & 0x7f) * 268435456
            let shift = 35
            while (b > 0x7f) {
              b = body[pos++]
              raw += (b & 0x7f) * 2 ** shift
              shift += 7
            }
          }
        }
      }
    }
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2
  }
  for (let i = 0; i < count; i++) {
    if (pos >= end) throw new TributaryError('TRIB_LOG_KAFKA', `topic ${topic} partition ${partition}: record batch at offset ${base} ends after ${i} of ${count} records`)
    const length = varint()
    const recordEnd = pos + length
    if (recordEnd > end) throw new TributaryError('TRIB_LOG_KAFKA', `topic ${topic} partition ${partition}: record ${i} of the batch at offset ${base} is ${length} bytes long, past the end of its batch`)
    pos++ // attributes (unused)
    const timestampDelta = varint()
    const offset = base + varint()
    const keyLength = varint()
    let key: Buffer | null = null
    if (keyLength >= 0) {
      key = new View(memory, base0 + pos, keyLength)
      pos += keyLength
    }
    const valueLength = varint()
    let value: Buffer | null = null
    if (valueLength >= 0) {
      value = new View(memory, base0 + pos, valueLength)
      pos += valueLength
    }
    const headerCount = varint()
    let headers: Headers = NO_HEADERS
    if (headerCount > 0) {
      const list: [string, Buffer][] = new Array(headerCount)
      for (let h = 0; h < headerCount; h++) {
        const nameLength = varint()
        const name = nameLength > 0 ? body.toString('utf8', pos, pos + nameLength) : ''
        pos += Math.max(nameLength, 0)
        const valueLen = varint()
        let headerValue: Buffer = EMPTY
        if (valueLen >= 0) {
          headerValue = body.subarray(pos, pos + valueLen)
          pos += valueLen
        }
        list[h] = [name, headerValue]
      }
      headers = list
    }
    if (pos !== recordEnd) throw new TributaryError('TRIB_LOG_KAFKA', `topic ${topic} partition ${partition}: record at offset ${offset} is ${length} bytes long but its fields end ${pos - recordEnd} bytes away from that`)
    if (offset < fetchOffset) continue
    out.push({ topic, partition, offset, timestamp: logAppendTime ? firstTimestamp : firstTimestamp + timestampDelta, key, value, headers })
  }
}
