/**
 * KPL de-aggregation. The Kinesis Producer Library packs many user records into one Kinesis record:
 *
 *   magic F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf (16 bytes)
 *
 *   message AggregatedRecord { repeated string partition_key_table = 1;
 *                              repeated string explicit_hash_key_table = 2;
 *                              repeated Record records = 3; }
 *   message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
 *                    required bytes data = 3; repeated Tag tags = 4; }
 *
 * No npm package for this is kept up for the AWS SDK v3 (the awslabs `aws-kinesis-agg` module targets
 * SDK v2 and pulls in protobufjs), and the format is three fields deep, so it is read here by hand.
 * {@link aggregate} writes the same format (for tests and producers).
 *
 * @example
 * ```ts
 * for (const user of deaggregate(kinesisRecord.Data)) console.log(user.partitionKey, user.data)
 * ```
 * @module
 */
import { createHash } from 'node:crypto'
import { TributaryError } from '../core/errors.ts'

/** The 4 bytes that open a KPL aggregated record. */
export const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2])
const MD5_LENGTH = 16

/** One user record out of an aggregated record. */
export interface UserRecord {
  readonly partitionKey: string
  readonly explicitHashKey: string | undefined
  readonly data: Buffer
  /** Position inside the aggregated record (KCL's sub-sequence number). */
  readonly subSequenceNumber: number
}

/** Whether `data` carries the KPL magic and is long enough to be an aggregated record. */
export function isAggregated(data: Uint8Array): boolean {
  return data.length >= KPL_MAGIC.length + MD5_LENGTH && Buffer.from(data.buffer, data.byteOffset, 4).equals(KPL_MAGIC)
}

class Reader {
  readonly buf: Buffer
  pos: number
  readonly end: number
  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf
    this.pos = pos
    this.end = end
  }
  get done(): boolean {
    return this.pos >= this.end
  }
  varint(what: string): number {
    let result = 0
    let shift = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw bad(`truncated varint in ${what} at byte ${this.pos}`)
      const byte = this.buf[this.pos++]
      result += (byte & 0x7f) * shift
      if ((byte & 0x80) === 0) return result
      shift *= 128
    }
    throw bad(`varint longer than 10 bytes in ${what} at byte ${this.pos}`)
  }
  bytes(what: string): Buffer {
    const length = this.varint(what)
    if (this.pos + length > this.end) throw bad(`${what} of ${length} bytes runs past the end at byte ${this.pos}`)
    const out = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }
  skip(wireType: number, what: string): void {
    if (wireType === 0) this.varint(what)
    else if (wireType === 1) this.pos += 8
    else if (wireType === 2) this.bytes(what)
    else if (wireType === 5) this.pos += 4
    else throw bad(`unsupported protobuf wire type ${wireType} in ${what} at byte ${this.pos}`)
    if (this.pos > this.end) throw bad(`${what} runs past the end`)
  }
}

function bad(message: string): TributaryError {
  return new TributaryError('TRIB_KINESIS_AGGREGATE', `malformed KPL aggregated record: ${message}`)
}

/**
 * Splits a KPL aggregated record into its user records. Data without the KPL magic is returned as
 * one record (not aggregated). Throws `TRIB_KINESIS_AGGREGATE` naming the fault for a record that has
 * the magic but a wrong MD5, a broken protobuf or a key index out of range.
 */
export function deaggregate(data: Uint8Array, partitionKey = '', explicitHashKey?: string): UserRecord[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (!isAggregated(buf)) return [{ partitionKey, explicitHashKey, data: buf, subSequenceNumber: 0 }]
  const body = buf.subarray(KPL_MAGIC.length, buf.length - MD5_LENGTH)
  const md5 = createHash('md5').update(body).digest()
  if (!md5.equals(buf.subarray(buf.length - MD5_LENGTH))) throw bad(`MD5 checksum mismatch (${buf.length} bytes)`)
  const keys: string[] = []
  const hashKeys: string[] = []
  const entries: { pk: number; ehk: number | undefined; data: Buffer }[] = []
  const r = new Reader(body, 0, body.length)
  while (!r.done) {
    const tag = r.varint('field tag')
    const field = Math.floor(tag / 8)
    const wire = tag & 7
    if (field === 1 && wire === 2) keys.push(r.bytes('partition_key_table').toString('utf8'))
    else if (field === 2 && wire === 2) hashKeys.push(r.bytes('explicit_hash_key_table').toString('utf8'))
    else if (field === 3 && wire === 2) {
      const inner = r.bytes('records')
      const rr = new Reader(inner, 0, inner.length)
      let pk: number | undefined
      let ehk: number | undefined
      let payload: Buffer | undefined
      while (!rr.done) {
        const t = rr.varint('record field tag')
        const f = Math.floor(t / 8)
        const w = t & 7
        if (f === 1 && w === 0) pk = rr.varint('partition_key_index')
        else if (f === 2 && w === 0) ehk = rr.varint('explicit_hash_key_index')
        else if (f === 3 && w === 2) payload = rr.bytes('data')
        else rr.skip(w, `record field ${f}`)
      }
      if (pk === undefined) throw bad(`record ${entries.length} has no partition_key_index`)
      if (payload === undefined) throw bad(`record ${entries.length} has no data`)
      entries.push({ pk, ehk, data: payload })
    } else r.skip(wire, `field ${field}`)
  }
  return entries.map((e, i) => {
    if (e.pk >= keys.length) throw bad(`record ${i} names partition key ${e.pk} of a table of ${keys.length}`)
    if (e.ehk !== undefined && e.ehk >= hashKeys.length) throw bad(`record ${i} names explicit hash key ${e.ehk} of a table of ${hashKeys.length}`)
    return { partitionKey: keys[e.pk], explicitHashKey: e.ehk === undefined ? undefined : hashKeys[e.ehk], data: Buffer.from(e.data), subSequenceNumber: i }
  })
}

function varint(n: number): Buffer {
  const out: number[] = []
  while (n >= 128) {
    out.push((n % 128) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}

const field = (num: number, payload: Buffer): Buffer => Buffer.concat([varint(num * 8 + 2), varint(payload.length), payload])

/** Packs user records into one KPL aggregated record (the format {@link deaggregate} reads). */
export function aggregate(records: readonly { partitionKey: string; explicitHashKey?: string; data: Uint8Array }[]): Buffer {
  const keys: string[] = []
  const hashKeys: string[] = []
  const index = (table: string[], value: string): number => {
    const at = table.indexOf(value)
    if (at >= 0) return at
    table.push(value)
    return table.length - 1
  }
  const bodies = records.map((r) => {
    const parts = [varint(8), varint(index(keys, r.partitionKey))]
    if (r.explicitHashKey !== undefined) parts.push(varint(16), varint(index(hashKeys, r.explicitHashKey)))
    parts.push(field(3, Buffer.from(r.data)))
    return field(3, Buffer.concat(parts))
  })
  const body = Buffer.concat([...keys.map((k) => field(1, Buffer.from(k))), ...hashKeys.map((k) => field(2, Buffer.from(k))), ...bodies])
  return Buffer.concat([KPL_MAGIC, body, createHash('md5').update(body).digest()])
}
