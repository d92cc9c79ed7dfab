import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { crc32c, createRecordsBatch, readRecordsBatch, Reader } from '@platformatic/kafka'
import { encodeRecordBatch, wrapSequence, type BatchMessage } from '../../src/log/kafka/record-batch.ts'

/**
 * Deterministic messages covering nulls, empty buffers, headers and unordered timestamps, `stepMs`
 * apart (a day by default, so deltas pass 2^31 ms within a batch).
 */
function messages(n: number, stepMs = 86_400_000): (BatchMessage & { topic: string; partition: number })[] {
  const base = 1_790_000_000_000
  return Array.from({ length: n }, (_, i) => ({
    topic: 't',
    partition: 0,
    key: i % 7 === 0 ? null : Buffer.from(`key-${i}`),
    value: i % 11 === 0 ? null : i % 13 === 0 ? Buffer.alloc(0) : Buffer.alloc(i % 300, i),
    headers: i % 5 === 0 ? new Map([[Buffer.from('trace'), Buffer.from(`t${i}`)], [Buffer.from('empty'), Buffer.alloc(0)]]) : new Map(),
    timestamp: BigInt(base + (i % 3 === 0 ? -i * 1_000 : i * stepMs)),
  }))
}

describe('Kafka record batch encoder', () => {
  it('writes the same bytes as platformatic for the same batch', () => {
    // Timestamps within 2^31 ms of the first: platformatic's own encoder writes larger deltas wrongly
    // (its reader decodes them as negative), which the next test shows ours gets right.
    for (const n of [1, 2, 100, 1_000]) {
      const list = messages(n, 60_000)
      const ours = encodeRecordBatch(list, { producerId: 4_242n, producerEpoch: 3, firstSequence: 17 })
      const theirs = createRecordsBatch(structuredClone(list) as never, {
        producerId: 4_242n,
        producerEpoch: 3,
        sequences: { getWithDefault: () => 17 } as never,
        partitionLeaderEpoch: -1,
      }).buffer
      assert.equal(ours.length, theirs.length, `${n} records: same size`)
      assert.ok(ours.equals(theirs), `${n} records: same bytes`)
    }
  })

  it('decodes with platformatic into the records it was given, timestamps days apart included, with a valid CRC-32C', () => {
    const list = messages(500)
    const buf = encodeRecordBatch(list, { producerId: 9n, producerEpoch: 0, firstSequence: 0, transactional: true })
    const batch = readRecordsBatch(Reader.from(buf))
    assert.equal(batch.magic, 2)
    assert.equal(batch.producerId, 9n)
    assert.equal(batch.attributes & 0b1_0000, 0b1_0000, 'transactional bit')
    assert.equal(batch.lastOffsetDelta, 499)
    assert.equal(batch.crc, crc32c(buf.subarray(21)))
    assert.equal(batch.records.length, 500)
    for (const [i, r] of batch.records.entries()) {
      const m = list[i]
      assert.equal(r.offsetDelta, i)
      assert.equal(batch.firstTimestamp + r.timestampDelta, m.timestamp)
      assert.deepEqual(r.key ?? null, m.key ?? null, `key of record ${i}`)
      assert.deepEqual(r.value ?? null, m.value ?? null, `value of record ${i}`)
      assert.deepEqual(r.headers.map(([k, v]) => [String(k), String(v)]), [...(m.headers ?? [])].map(([k, v]) => [k.toString(), v?.toString()]))
    }
  })

  it('stamps records without a timestamp with the time of encoding, and marks a batch without producer as such', () => {
    const before = Date.now()
    const buf = encodeRecordBatch([{ key: null, value: Buffer.from('x') }])
    const batch = readRecordsBatch(Reader.from(buf))
    assert.ok(Number(batch.firstTimestamp) >= before && Number(batch.firstTimestamp) <= Date.now())
    assert.equal(batch.producerId, -1n)
    assert.equal(batch.firstSequence, -1)
  })

  it('wraps idempotent sequence numbers at 2^31 as Kafka does, instead of throwing', () => {
    const first = (sequence: number): number => readRecordsBatch(Reader.from(encodeRecordBatch([{ key: null, value: Buffer.from('x') }], { producerId: 1n, producerEpoch: 0, firstSequence: sequence }))).firstSequence
    assert.equal(first(2 ** 31 - 1), 2 ** 31 - 1)
    assert.equal(first(2 ** 31), 0)
    assert.equal(first(2 ** 31 + 5), 5)
    assert.equal(first(2 ** 32 + 7), 7)
    assert.equal(wrapSequence(-1), -1, 'no sequence stays -1')
  })
})
