import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { crc32c, createRecordsBatch } from '@platformatic/kafka'
import { encodeRecordBatch, type BatchMessage } from '../../src/log/kafka/record-batch.ts'
import { decodeRecordBatches } from '../../src/log/kafka/record-decoder.ts'

const BASE_TS = 1_790_000_000_000

/** A batch of `messages` at `baseOffset` (the encoder writes 0 there; the broker assigns it). */
function batchAt(baseOffset: number, messages: BatchMessage[], options: Parameters<typeof encodeRecordBatch>[1] = {}): Buffer {
  const batch = encodeRecordBatch(messages, options)
  batch.writeBigInt64BE(BigInt(baseOffset), 0)
  return batch
}

/** Writes the CRC-32C of an edited batch again (it covers everything from the attributes on). */
function reseal(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17)
  return batch
}

/** Sets attribute bits on an encoded batch. */
function withAttributes(batch: Buffer, bits: number): Buffer {
  batch.writeInt16BE(batch.readInt16BE(21) | bits, 21)
  return reseal(batch)
}

function messages(n: number, from = 0): BatchMessage[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k
    return {
      key: i % 7 === 0 ? null : Buffer.from(`key-${i}`),
      value: i % 11 === 0 ? null : Buffer.alloc(i % 300, i),
      headers: i % 5 === 0 ? new Map([[Buffer.from('trace'), Buffer.from(`t${i}`)], [Buffer.from('empty'), null]]) : new Map(),
      // Deltas past 2^31 ms within a batch, and negative ones.
      timestamp: BASE_TS + (i % 3 === 0 ? -i * 1_000 : i * 86_400_000),
    }
  })
}

describe('Kafka record batch decoder', () => {
  it('decodes every field of every record, offsets from the batch base', () => {
    const list = messages(500)
    const { records, next } = decodeRecordBatches(batchAt(1_000, list), 'orders', 3, 1_000, [])
    assert.equal(records.length, 500)
    assert.equal(next, 1_500)
    records.forEach((r, i) => {
      const m = list[i]
      assert.equal(r.topic, 'orders')
      assert.equal(r.partition, 3)
      assert.equal(r.offset, 1_000 + i)
      assert.equal(r.timestamp, m.timestamp)
      assert.deepEqual(r.key, m.key)
      assert.deepEqual(r.value, m.value)
      const expected = [...(m.headers ?? new Map())].map(([k, v]) => [k.toString(), v ?? Buffer.alloc(0)])
      assert.deepEqual(
        r.headers.map(([k, v]) => [k, v]),
        expected,
      )
    })
  })

  it('reads several batches, skips records below the fetch offset and stops before a truncated batch', () => {
    const first = batchAt(0, messages(10))
    const second = batchAt(10, messages(10, 10))
    const third = batchAt(20, messages(10, 20))
    const bytes = Buffer.concat([first, second, third.subarray(0, third.length - 5)])
    const { records, next } = decodeRecordBatches(bytes, 't', 0, 4, [])
    assert.deepEqual(
      records.map((r) => r.offset),
      Array.from({ length: 16 }, (_, i) => 4 + i),
    )
    assert.equal(next, 20, 'the truncated batch is fetched again')
  })

  it('uses the batch max timestamp for every record of a LOG_APPEND_TIME batch', () => {
    const batch = withAttributes(batchAt(0, messages(5)), 0x08)
    const maxTimestamp = Number(batch.readBigInt64BE(35))
    const { records } = decodeRecordBatches(batch, 't', 0, 0, [])
    assert.deepEqual(
      records.map((r) => r.timestamp),
      Array(5).fill(maxTimestamp),
    )
  })

  it('inflates compressed batches (gzip, snappy, lz4, zstd)', () => {
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      const list = Array.from({ length: 50 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`value ${i} `.repeat(20)), headers: new Map(), timestamp: BigInt(BASE_TS + i), topic: 't', partition: 0 }))
      const batch = Buffer.from(createRecordsBatch(list as never, { compression }).buffer)
      batch.writeBigInt64BE(100n, 0)
      const { records, next } = decodeRecordBatches(batch, 't', 0, 100, [])
      assert.equal(records.length, 50, compression)
      assert.equal(next, 150)
      assert.equal(records[49].value?.toString(), `value 49 `.repeat(20), compression)
      assert.equal(records[49].offset, 149)
    }
  })

  it('skips control batches but moves past them, and drops aborted transactions (read-committed)', () => {
    const aborting = 7n
    const committing = 8n
    const tx = (offset: number, producerId: bigint, from: number) => withAttributes(batchAt(offset, messages(3, from), { producerId, producerEpoch: 0, firstSequence: 0 }), 0x10)
    /** A control batch holding one marker record: key = version 0, type (0 abort, 1 commit). */
    const marker = (offset: number, producerId: bigint, type: number) => {
      const key = Buffer.alloc(4)
      key.writeInt16BE(type, 2)
      return withAttributes(batchAt(offset, [{ key, value: Buffer.alloc(6), timestamp: BASE_TS }], { producerId, producerEpoch: 0, firstSequence: -1 }), 0x10 | 0x20)
    }
    const bytes = Buffer.concat([
      tx(0, aborting, 0), // 0..2 aborted
      tx(3, committing, 3), // 3..5 committed
      marker(6, aborting, 0), // abort marker
      tx(7, aborting, 7), // 7..9: a later transaction of the same producer, not aborted
      marker(10, committing, 1),
    ])
    const { records, next } = decodeRecordBatches(bytes, 't', 0, 0, [{ producerId: aborting, firstOffset: 0 }])
    assert.deepEqual(
      records.map((r) => r.offset),
      [3, 4, 5, 7, 8, 9],
    )
    assert.equal(next, 11)
    // Read-uncommitted (no aborted list): everything but the markers.
    assert.deepEqual(
      decodeRecordBatches(bytes, 't', 0, 0, []).records.map((r) => r.offset),
      [0, 1, 2, 3, 4, 5, 7, 8, 9],
    )
  })

  it('names the topic, partition and offset of a batch in an old message format', () => {
    const batch = batchAt(42, messages(2))
    batch[16] = 1
    assert.throws(() => decodeRecordBatches(batch, 'orders', 2, 42, []), /topic orders partition 2: record batch at offset 42 has message format 1/)
  })

  it('names the record whose fields do not match its length', () => {
    const batch = batchAt(5, [
      { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: BASE_TS },
      { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: BASE_TS },
    ])
    batch[61] += 2 // the first record's length (zigzag varint): 1 more than its fields
    reseal(batch)
    assert.throws(() => decodeRecordBatches(batch, 'orders', 0, 5, []), /topic orders partition 0: record at offset 5 is/)
  })

  it('names the record whose length runs past its batch', () => {
    const batch = batchAt(9, [{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: BASE_TS }])
    batch[61] = 0x7e // length 63: past the end
    reseal(batch)
    assert.throws(() => decodeRecordBatches(batch, 'orders', 1, 9, []), /topic orders partition 1: record 0 of the batch at offset 9 is 63 bytes long, past the end of its batch/)
  })

  it('refuses a batch whose bytes do not match its CRC, naming it', () => {
    const good = batchAt(0, messages(3))
    const bad = batchAt(3, messages(3, 3))
    bad[bad.length - 1] ^= 0xff // one flipped bit pattern in the last record
    assert.throws(() => decodeRecordBatches(Buffer.concat([good, bad]), 'orders', 4, 0, []), /topic orders partition 4: record batch at offset 3 is corrupt \(its CRC-32C does not match its bytes\)/)
  })
})
