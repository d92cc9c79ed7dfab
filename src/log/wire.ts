/**
 * Kafka's wire primitives, big-endian, for the records of `__consumer_offsets` and the Fetch
 * responses the Kafka consumer parses itself (`kafka/raw-fetch.ts`): fixed-width
 * integers, `int16`-length strings and `int32`-length bytes (-1 = null), and the "compact" forms of
 * flexible versions, whose lengths are **unsigned varints** holding `length + 1` (0 = null), followed
 * by tagged fields.
 *
 * Every read checks bounds and throws `TRIB_CODEC` naming what it was reading and where, so a
 * truncated or garbled record is reported, never misread.
 *
 * @example
 * ```ts
 * const reader = new WireReader(Buffer.from([0x00, 0x02, 0x68, 0x69]))
 * reader.string('group') // 'hi'
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'

const TWO_32 = 0x1_0000_0000

/** Reads Kafka wire types from a buffer, front to back. */
export class WireReader {
  readonly buffer: Buffer
  #pos: number

  constructor(buffer: Buffer, offset = 0) {
    this.buffer = buffer
    this.#pos = offset
  }

  /** The next byte to read. */
  get position(): number {
    return this.#pos
  }

  /** Bytes left. */
  get remaining(): number {
    return this.buffer.length - this.#pos
  }

  int8(what: string): number {
    this.#need(1, what)
    return this.buffer.readInt8(this.#pos++)
  }

  int16(what: string): number {
    this.#need(2, what)
    const v = this.buffer.readInt16BE(this.#pos)
    this.#pos += 2
    return v
  }

  int32(what: string): number {
    this.#need(4, what)
    const v = this.buffer.readInt32BE(this.#pos)
    this.#pos += 4
    return v
  }

  /** A signed 64-bit integer as a number (exact up to 2^53, which covers offsets and timestamps). */
  int64(what: string): number {
    this.#need(8, what)
    const hi = this.buffer.readInt32BE(this.#pos)
    const lo = this.buffer.readUInt32BE(this.#pos + 4)
    this.#pos += 8
    return hi * TWO_32 + lo
  }

  /** An unsigned varint (LEB128, at most 5 bytes for a 32-bit value). */
  uvarint(what: string): number {
    let value = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      this.#need(1, what)
      const byte = this.buffer[this.#pos++]
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
      shift += 7
    }
    throw this.#error(`${what}: unsigned varint longer than 5 bytes`)
  }

  /** An `int16`-length string; null (-1) reads as `""`, as Burrow does. */
  string(what: string): string {
    return this.nullableString(what) ?? ''
  }

  /** An `int16`-length string, or null for length -1. */
  nullableString(what: string): string | null {
    const length = this.int16(`${what} length`)
    if (length === -1) return null
    if (length < -1) throw this.#error(`${what}: negative length ${length}`)
    return this.#utf8(length, what)
  }

  /** A compact string (uvarint `length + 1`); null reads as `""`. */
  compactString(what: string): string {
    return this.compactNullableString(what) ?? ''
  }

  /** A compact string, or null for the encoded length 0. */
  compactNullableString(what: string): string | null {
    const n = this.uvarint(`${what} length`)
    if (n === 0) return null
    return this.#utf8(n - 1, what)
  }

  /** `int32`-length bytes, or null for -1. The result is a view, not a copy. */
  bytes(what: string): Buffer | null {
    const length = this.int32(`${what} length`)
    if (length === -1) return null
    if (length < -1) throw this.#error(`${what}: negative length ${length}`)
    return this.#slice(length, what)
  }

  /** Compact bytes (uvarint `length + 1`), or null for 0. */
  compactBytes(what: string): Buffer | null {
    const n = this.uvarint(`${what} length`)
    if (n === 0) return null
    return this.#slice(n - 1, what)
  }

  /** An `int32` array count (-1 = null → 0), checked against the bytes left (each element ≥ `minSize` bytes). */
  arrayLength(what: string, minSize = 1): number {
    const n = this.int32(`${what} count`)
    if (n === -1) return 0
    return this.#checkCount(n, minSize, what)
  }

  /** A compact array count (uvarint `count + 1`, 0 = null → 0). */
  compactArrayLength(what: string, minSize = 1): number {
    const n = this.uvarint(`${what} count`)
    if (n === 0) return 0
    return this.#checkCount(n - 1, minSize, what)
  }

  /** A UUID (16 bytes) in its usual text form. */
  uuid(what: string): string {
    this.#need(16, what)
    const hex = this.buffer.toString('hex', this.#pos, this.#pos + 16)
    this.#pos += 16
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }

  /** Skips a tagged-field section (flexible versions): a uvarint count, then `tag, size, bytes` each. */
  skipTaggedFields(what: string): void {
    this.taggedFields(what, {})
  }

  /**
   * Reads a tagged-field section: each field whose tag is in `known` is read by its function (which
   * must stay within the field's size), the others are skipped.
   */
  taggedFields(what: string, known: { readonly [tag: number]: (reader: WireReader) => void }): void {
    const count = this.uvarint(`${what} tagged fields`)
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint(`${what} tag`)
      const size = this.uvarint(`${what} tagged field size`)
      this.#need(size, `${what} tagged field ${tag}`)
      const end = this.#pos + size
      known[tag]?.(this)
      this.#pos = end
    }
  }

  #checkCount(n: number, minSize: number, what: string): number {
    if (n < 0) throw this.#error(`${what}: negative count ${n}`)
    if (n * minSize > this.remaining) throw this.#error(`${what}: count ${n} exceeds the ${this.remaining} bytes left`)
    return n
  }

  #utf8(length: number, what: string): string {
    this.#need(length, what)
    const s = this.buffer.toString('utf8', this.#pos, this.#pos + length)
    this.#pos += length
    return s
  }

  #slice(length: number, what: string): Buffer {
    this.#need(length, what)
    const b = this.buffer.subarray(this.#pos, this.#pos + length)
    this.#pos += length
    return b
  }

  #need(n: number, what: string): void {
    if (this.#pos + n > this.buffer.length) {
      throw this.#error(`${what}: needs ${n} byte(s) at position ${this.#pos}, only ${this.buffer.length - this.#pos} left`)
    }
  }

  #error(message: string): TributaryError {
    return new TributaryError('TRIB_CODEC', message, { details: { position: this.#pos } })
  }
}

/** Builds Kafka wire types into a buffer (used to write real-format records for tests and benchmarks). */
export class WireWriter {
  #buf: Buffer
  #pos = 0

  constructor(initialSize = 64) {
    this.#buf = Buffer.allocUnsafe(initialSize)
  }

  int8(v: number): this {
    this.#ensure(1)
    this.#buf.writeInt8(v, this.#pos++)
    return this
  }

  int16(v: number): this {
    this.#ensure(2)
    this.#buf.writeInt16BE(v, this.#pos)
    this.#pos += 2
    return this
  }

  int32(v: number): this {
    this.#ensure(4)
    this.#buf.writeInt32BE(v, this.#pos)
    this.#pos += 4
    return this
  }

  int64(v: number): this {
    this.#ensure(8)
    this.#buf.writeBigInt64BE(BigInt(v), this.#pos)
    this.#pos += 8
    return this
  }

  uvarint(v: number): this {
    let value = v
    do {
      this.#ensure(1)
      let byte = value % 128
      value = Math.floor(value / 128)
      if (value > 0) byte |= 0x80
      this.#buf[this.#pos++] = byte
    } while (value > 0)
    return this
  }

  /** An `int16`-length string; null writes -1. */
  string(s: string | null): this {
    if (s === null) return this.int16(-1)
    const bytes = Buffer.from(s, 'utf8')
    return this.int16(bytes.length).raw(bytes)
  }

  /** A compact string; null writes 0. */
  compactString(s: string | null): this {
    if (s === null) return this.uvarint(0)
    const bytes = Buffer.from(s, 'utf8')
    return this.uvarint(bytes.length + 1).raw(bytes)
  }

  /** `int32`-length bytes; null writes -1. */
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1)
    return this.int32(b.length).raw(b)
  }

  /** Compact bytes; null writes 0. */
  compactBytes(b: Buffer | null): this {
    if (b === null) return this.uvarint(0)
    return this.uvarint(b.length + 1).raw(b)
  }

  /** An empty tagged-field section. */
  noTaggedFields(): this {
    return this.uvarint(0)
  }

  raw(b: Buffer): this {
    this.#ensure(b.length)
    b.copy(this.#buf, this.#pos)
    this.#pos += b.length
    return this
  }

  /** The bytes written so far (a copy). */
  toBuffer(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos))
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n))
    this.#buf.copy(next, 0, 0, this.#pos)
    this.#buf = next
  }
}
