import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assign, fnv1a32, fnv1aPartition, murmur2, murmur2Partition } from '../../src/log/index.ts'

describe('murmur2 (Java client compatible)', () => {
  // Vectors from Apache Kafka's UtilsTest.testMurmur2.
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [input, hash] of vectors) {
    it(`hashes ${JSON.stringify(input)} to ${hash}`, () => assert.equal(murmur2(Buffer.from(input)), hash))
  }
  it('maps to partitions with toPositive(hash) % n', () => {
    assert.equal(murmur2Partition(Buffer.from('foobar'), 10), (-790332482 & 0x7fffffff) % 10)
  })
})

describe('FNV-1a (sarama/goka compatible)', () => {
  // Reference values of the 32-bit FNV-1a function (Go's hash/fnv New32a).
  const vectors: [string, number][] = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ]
  for (const [input, hash] of vectors) {
    it(`hashes ${JSON.stringify(input)} to 0x${hash.toString(16)}`, () => assert.equal(fnv1a32(Buffer.from(input)), hash))
  }
  it('maps like sarama: abs(int32(hash) % n)', () => {
    // int32(0xbf9cf968) = -1080231576; % 7 = -4 in Go; abs → 4
    assert.equal(fnv1aPartition(Buffer.from('foobar'), 7), 4)
  })
})

describe('assignors', () => {
  const counts = new Map([
    ['t0', 3],
    ['t1', 3],
  ])
  const members = [
    { id: 'c1', topics: ['t0', 't1'] },
    { id: 'c0', topics: ['t0', 't1'] },
  ]
  const show = (a: ReturnType<typeof assign>): Record<string, string[]> =>
    Object.fromEntries([...a].map(([id, tps]) => [id, tps.map((tp) => `${tp.topic}-${tp.partition}`)]))

  it('range gives each member a consecutive range per topic, extras to the first members', () => {
    assert.deepEqual(show(assign('range', members, counts)), { c0: ['t0-0', 't0-1', 't1-0', 't1-1'], c1: ['t0-2', 't1-2'] })
  })

  it('round-robin deals all partitions in turn', () => {
    assert.deepEqual(show(assign('roundrobin', members, counts)), { c0: ['t0-0', 't0-2', 't1-1'], c1: ['t0-1', 't1-0', 't1-2'] })
  })

  it('only assigns topics a member subscribed to', () => {
    const mixed = [
      { id: 'a', topics: ['t0'] },
      { id: 'b', topics: ['t1'] },
    ]
    assert.deepEqual(show(assign('roundrobin', mixed, counts)), { a: ['t0-0', 't0-1', 't0-2'], b: ['t1-0', 't1-1', 't1-2'] })
  })
})
