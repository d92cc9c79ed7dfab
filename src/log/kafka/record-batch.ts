/**
 * Kafka record batches (magic 2, uncompressed), encoded straight into one Buffer.
 *
 * platformatic builds each record from a chain of small Buffers (one per field) and concatenates
 * them, which made batch encoding and the garbage it leaves most of the cost of producing. This
 * encoder sizes the batch first and writes every field in place; the bytes are the same
 * (`test/log/record-batch.test.ts` checks them against platformatic's encoder and decoder).
 *
 * ```
 * batch  := baseOffset:i64 batchLength:i32 partitionLeaderEpoch:i32 magic:i8(=2) crc:u32
 *           attributes:i16 lastOffsetDelta:i32 baseTimestamp:i64 maxTimestamp:i64
 *           producerId:i64 producerEpoch:i16 baseSequence:i32 recordCount:i32 record*
 * record := length:varint attributes:i8 timestampDelta:varlong offsetDelta:varint
 *           keyLength:varint key valueLength:varint value headerCount:varint
 *           (keyLength:varint key valueLength:varint value)*
 * ```
 * The CRC-32C covers everything from `attributes` on; varints are zigzag-encoded.
 *
 * @example
 * ```ts
 * const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }], { firstSequence: 0 })
 * ```
 * @module
 */
import { crc32c } from '@platformatic/kafka'

/** One record to encode: what platformatic's producer hands to the Produce API. */
export interface BatchMessage {
  key?: Buffer | null
  value?: Buffer | null
  headers?: Map<Buffer, Buffer | null> | null
  /** Milliseconds since the epoch; the batch's send time when missing. */
  timestamp?: bigint | number | null
}

/** Producer state written into the batch header. */
export interface BatchOptions {
  /** -1 (the default) without an idempotent producer. */
  producerId?: bigint
  producerEpoch?: number
  /**
   * The sequence number of the first record (idempotent producers), else -1. Numbers at or above
   * 2^31 wrap to 0 as Kafka's do (the producer's counter keeps growing; the batch carries it mod 2^31).
   */
  firstSequence?: number
  transactional?: boolean
}

const HEADER_BYTES = 61
const MAGIC = 2
const TRANSACTIONAL = 1 << 4
const TWO_32 = 0x1_0000_0000

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1
}

/** Bytes of `value` (a non-negative integer below 2^53) as an unsigned varint. */
function varintSize(value: number): number {
  let size = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    size++
  }
  return size
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  buf[pos++] = value
  return pos
}

function bytesSize(bytes: Buffer | null | undefined): number {
  return bytes == null ? 1 : varintSize(zigzag(bytes.length)) + bytes.length
}

function writeBytes(buf: Buffer, pos: number, bytes: Buffer | null | undefined): number {
  if (bytes == null) {
    buf[pos] = 1 // zigzag(-1)
    return pos + 1
  }
  pos = writeVarint(buf, pos, zigzag(bytes.length))
  bytes.copy(buf, pos)
  return pos + bytes.length
}

function writeInt64(buf: Buffer, pos: number, value: number): void {
  const high = Math.floor(value / TWO_32)
  buf.writeInt32BE(high, pos)
  buf.writeUInt32BE(value - high * TWO_32, pos + 4)
}

/** Encodes `messages` (at least one) as one record batch with offset deltas 0..n-1. */
export function encodeRecordBatch(messages: readonly BatchMessage[], options: BatchOptions = {}): Buffer {
  const count = messages.length
  const now = Date.now()
  const timestamps = new Array<number>(count)
  const bodySizes = new Array<number>(count)
  let firstTimestamp = 0
  let maxTimestamp = 0
  let total = HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const m = messages[i]
    const ts = m.timestamp == null ? now : Number(m.timestamp)
    timestamps[i] = ts
    if (i === 0) firstTimestamp = maxTimestamp = ts
    else if (ts > maxTimestamp) maxTimestamp = ts
    let size = 1 + varintSize(zigzag(ts - firstTimestamp)) + varintSize(zigzag(i)) + bytesSize(m.key) + bytesSize(m.value)
    const headers = m.headers
    size += varintSize(zigzag(headers == null ? 0 : headers.size))
    if (headers != null) for (const [name, value] of headers) size += bytesSize(name) + bytesSize(value)
    bodySizes[i] = size
    total += varintSize(zigzag(size)) + size
  }
  const buf = Buffer.allocUnsafe(total)
  buf.fill(0, 0, 8) // baseOffset 0: the broker assigns offsets
  buf.writeInt32BE(total - 12, 8)
  buf.writeInt32BE(-1, 12) // partitionLeaderEpoch: set by the broker
  buf[16] = MAGIC
  buf.writeInt16BE(options.transactional ? TRANSACTIONAL : 0, 21)
  buf.writeInt32BE(count - 1, 23)
  writeInt64(buf, 27, firstTimestamp)
  writeInt64(buf, 35, maxTimestamp)
  buf.writeBigInt64BE(options.producerId ?? -1n, 43)
  buf.writeInt16BE(options.producerEpoch ?? -1, 51)
  buf.writeInt32BE(wrapSequence(options.firstSequence ?? -1), 53)
  buf.writeInt32BE(count, 57)
  let pos = HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const m = messages[i]
    pos = writeVarint(buf, pos, zigzag(bodySizes[i]))
    buf[pos++] = 0 // record attributes: unused
    pos = writeVarint(buf, pos, zigzag(timestamps[i] - firstTimestamp))
    pos = writeVarint(buf, pos, zigzag(i))
    pos = writeBytes(buf, pos, m.key)
    pos = writeBytes(buf, pos, m.value)
    const headers = m.headers
    pos = writeVarint(buf, pos, zigzag(headers == null ? 0 : headers.size))
    if (headers != null) {
      for (const [name, value] of headers) {
        pos = writeBytes(buf, pos, name)
        pos = writeBytes(buf, pos, value)
      }
    }
  }
  buf.writeUInt32BE(crc32c(buf.subarray(21)), 17)
  return buf
}

/** Kafka's sequence numbers are int32s that wrap from 2^31 - 1 to 0; -1 (no sequence) stays -1. */
export function wrapSequence(sequence: number): number {
  return sequence < 0 ? -1 : sequence % 2 ** 31
}
