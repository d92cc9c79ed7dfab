import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Evaluator, MonitorStorage, type StorageOptions } from '../../src/monitor/index.ts'

const T0 = 1_700_000_000_000
const DAY = 86_400_000

function storage(options: Partial<StorageOptions> = {}): MonitorStorage {
  const s = new MonitorStorage({ intervals: 3, expireGroupMs: DAY, ...options })
  s.addCluster('c')
  s.setBrokerOffsets('c', 't', [100, 100], T0)
  return s
}

const commit = (offset: number, order: number, timestamp = T0 + order * 1000, partition = 0, group = 'g', topic = 't') => ({ group, topic, partition, offset, order, timestamp })

const offsetsOf = (s: MonitorStorage, group = 'g', partition = 0, now = T0) =>
  s.group('c', group, now)?.topics.get('t')?.[partition]?.ring.entries().map((e) => [e.offset, e.order, e.lag])

describe('MonitorStorage', () => {
  it('appends commits in order, computes lag from the latest high watermark, and keeps the last `intervals`', () => {
    const s = storage()
    for (let i = 1; i <= 4; i++) assert.equal(s.addCommit('c', commit(i * 10, i), T0), 'appended')
    assert.deepEqual(offsetsOf(s), [
      [20, 2, 80],
      [30, 3, 70],
      [40, 4, 60],
    ])
    assert.equal(s.group('c', 'g', T0)?.lastCommit, T0 + 4000)
  })

  it('inserts an older commit in order (with a lag from the broker offset at its time) and drops duplicates and too-old ones', () => {
    const s = storage()
    s.setBrokerOffsets('c', 't', [150, 100], T0 + 2500)
    assert.equal(s.addCommit('c', commit(10, 1), T0), 'appended')
    assert.equal(s.addCommit('c', commit(40, 4), T0), 'appended')
    assert.equal(s.addCommit('c', commit(30, 3, T0 + 3000), T0), 'inserted')
    assert.deepEqual(offsetsOf(s), [
      [10, 1, 140],
      [30, 3, 120],
      [40, 4, 110],
    ])
    assert.equal(s.addCommit('c', commit(30, 3), T0), 'duplicate')
    assert.equal(s.addCommit('c', commit(5, 0), T0), 'too-old', 'older than the oldest slot of a full ring')
    assert.equal(s.addCommit('c', commit(20, 2, T0 + 2000), T0), 'inserted', 'the oldest slot falls off')
    assert.deepEqual(offsetsOf(s), [
      [20, 2, 80],
      [30, 3, 120],
      [40, 4, 110],
    ])
  })

  it('drops commits that are expired, denied, or for partitions the brokers have not reported', () => {
    const s = storage({ groupDenylist: /^console-/ })
    assert.equal(s.addCommit('c', commit(1, 1, T0 - 2 * DAY), T0), 'expired')
    assert.equal(s.addCommit('c', commit(1, 1, T0, 0, 'console-123'), T0), 'denied')
    assert.equal(s.addCommit('c', commit(1, 1, T0, 5), T0), 'no-broker-offsets')
    assert.equal(s.addCommit('c', { ...commit(1, 1), topic: 'unknown' }, T0), 'no-broker-offsets')
    assert.equal(s.addCommit('nope', commit(1, 1), T0), 'unknown-cluster')
    assert.deepEqual(s.groups('c', T0), [])
  })

  it('applies per-cluster allow lists on top of the storage-wide lists', () => {
    const s = storage()
    s.addCluster('c', { groupAllowlist: /^app-/ })
    assert.equal(s.addCommit('c', commit(1, 1, T0, 0, 'other'), T0), 'denied')
    assert.equal(s.addCommit('c', commit(1, 1, T0, 0, 'app-1'), T0), 'appended')
  })

  it('with min-distance, a commit too close to the previous one overwrites it and keeps its timestamp', () => {
    const s = storage({ minDistanceMs: 5_000 })
    assert.equal(s.addCommit('c', commit(10, 1, T0), T0), 'appended')
    assert.equal(s.addCommit('c', commit(20, 2, T0 + 1000), T0 + 1000), 'overwritten')
    assert.equal(s.addCommit('c', commit(30, 3, T0 + 6000), T0 + 6000), 'appended')
    const entries = s.group('c', 'g', T0 + 6000)?.topics.get('t')?.[0]?.ring.entries()
    assert.deepEqual(entries?.map((e) => [e.offset, e.timestamp, e.observedAt]), [
      [20, T0, T0 + 1000],
      [30, T0 + 6000, T0 + 6000],
    ])
  })

  it('purges a group whose last commit is older than expire-group when it is read', () => {
    const s = storage()
    s.addCommit('c', commit(10, 1, T0), T0)
    assert.deepEqual(s.groups('c', T0 + DAY - 1), ['g'])
    assert.equal(s.group('c', 'g', T0 + DAY + 1), undefined)
    assert.deepEqual(s.groups('c', T0), [], 'gone for good')
  })

  it('deletes offsets on tombstones, and the group once nothing is left', () => {
    const s = storage()
    s.addCommit('c', commit(10, 1, T0, 0), T0)
    s.addCommit('c', commit(10, 2, T0, 1), T0)
    assert.equal(s.deleteCommit('c', 'g', 't', 0), true)
    assert.deepEqual(s.groups('c', T0), ['g'])
    assert.equal(s.deleteCommit('c', 'g', 't', 1), true)
    assert.deepEqual(s.groups('c', T0), [])
    assert.equal(s.deleteCommit('c', 'g', 't', 1), false)
  })

  it('deletes groups, a group’s topic, and topics that vanished from the cluster', () => {
    const s = storage()
    s.setBrokerOffsets('c', 'u', [10], T0)
    s.addCommit('c', commit(10, 1), T0)
    s.addCommit('c', { ...commit(5, 2), topic: 'u' }, T0)
    s.addCommit('c', commit(10, 1, T0, 0, 'h'), T0)
    assert.deepEqual(s.topicConsumers('c', 't'), ['g', 'h'])
    assert.equal(s.deleteGroupTopic('c', 'g', 'u'), true)
    assert.deepEqual(s.topicConsumers('c', 'u'), [])
    assert.equal(s.deleteGroup('c', 'h'), true)
    assert.equal(s.deleteGroup('c', 'h'), false)
    assert.equal(s.partitionCount(), 1, 'only g on t/0 is left: the rings of u and of h were freed')
    s.deleteTopic('c', 't')
    assert.equal(s.partitionCount(), 0, 'every ring went back to the slab')
    assert.deepEqual(s.topics('c'), ['u'])
    assert.deepEqual(s.groups('c', T0), [], 'g had only t left')
    assert.deepEqual(s.topicConsumers('c', 't'), [], 'a vanished topic has no consumers (Burrow answers 200)')
    assert.equal(s.topicConsumers('nope', 't'), undefined)
  })

  it('sets owners from group metadata, clearing the previous assignment first', () => {
    const s = storage()
    s.addCommit('c', commit(10, 1, T0, 0), T0)
    s.addCommit('c', commit(10, 1, T0, 1), T0)
    s.setOwners('c', 'g', [{ clientId: 'a', clientHost: '/1.1.1.1', assignment: [{ topic: 't', partitions: [0, 1] }] }])
    s.setOwners('c', 'g', [{ clientId: 'b', clientHost: '/2.2.2.2', assignment: [{ topic: 't', partitions: [1] }] }])
    const parts = s.group('c', 'g', T0)?.topics.get('t')
    assert.deepEqual(parts?.map((p) => [p?.owner, p?.clientId]), [
      ['', ''],
      ['/2.2.2.2', 'b'],
    ])
    s.setOwners('c', 'g', [])
    assert.equal(s.group('c', 'g', T0)?.topics.get('t')?.[1]?.owner, '', 'no members: no owners')
  })

  it('keeps a ring of broker offsets per partition', () => {
    const s = storage()
    for (let i = 1; i <= 5; i++) s.setBrokerOffsets('c', 't', [100 + i, 0], T0 + i)
    assert.deepEqual(s.brokerPartition('c', 't', 0)?.offsets, [103, 104, 105])
    assert.deepEqual(s.topicOffsets('c', 't'), [105, 0])
    assert.equal(s.topicOffsets('c', 'x'), undefined)
    assert.equal(s.topics('x'), undefined)
  })
})

describe('Evaluator', () => {
  const ev = (s: MonitorStorage, expireCacheMs = 0) => new Evaluator(s, { expireCacheMs, allowedLag: 0, minimumComplete: 0 })

  it('reports group status, complete, partition_count, totallag and a deterministic maxlag', () => {
    const s = new MonitorStorage({ intervals: 2, expireGroupMs: DAY })
    s.addCluster('c')
    s.setBrokerOffsets('c', 'b', [50, 50], T0)
    s.setBrokerOffsets('c', 'a', [50, 50, 50], T0)
    for (const [topic, partition, offsets] of [
      ['b', 0, [10, 20]],
      ['b', 1, [40, 50]],
      ['a', 0, [10, 20]],
      ['a', 1, [10, 20]],
    ] as const) {
      offsets.forEach((offset, i) => s.addCommit('c', { group: 'g', topic, partition, offset, order: i, timestamp: T0 + i * 1000 }, T0))
    }
    const status = ev(s).evaluate('c', 'g', T0 + 1500)
    assert.equal(status.status, 'OK', 'every lag decreases or is 0')
    assert.equal(status.partition_count, 5, 'a has 3 partitions on the brokers, one never committed')
    assert.equal(status.complete, 4 / 5)
    assert.equal(status.totallag, 30 + 30 + 30 + 0 + 0)
    assert.deepEqual([status.maxlag?.topic, status.maxlag?.partition], ['a', 0], 'ties: highest lag, then topic, then partition')
    assert.deepEqual(status.partitions.map((p) => `${p.topic}/${p.partition}`), ['a/0', 'a/1', 'a/2', 'b/0', 'b/1'])
    const a2 = status.partitions[2]
    assert.deepEqual([a2.status, a2.start, a2.end, a2.current_lag, a2.complete], ['OK', null, null, 0, 0])
  })

  it('reports a lagging group as WARN and a stopped one as ERR at group level', () => {
    const s = new MonitorStorage({ intervals: 3, expireGroupMs: DAY })
    s.addCluster('c')
    for (let i = 0; i < 3; i++) {
      s.setBrokerOffsets('c', 't', [100 + 20 * i], T0 + i * 1000)
      s.addCommit('c', { group: 'g', topic: 't', partition: 0, offset: 50 + 10 * i, order: i, timestamp: T0 + i * 1000 }, T0 + i * 1000)
    }
    const evaluator = ev(s)
    const warn = evaluator.evaluate('c', 'g', T0 + 2500)
    assert.equal(warn.status, 'WARN')
    assert.equal(warn.partitions[0].status, 'WARN')
    const stop = evaluator.evaluate('c', 'g', T0 + 60_000)
    assert.equal(stop.status, 'ERR')
    assert.equal(stop.partitions[0].status, 'STOP')
  })

  it('treats partitions below minimum-complete as OK', () => {
    const s = new MonitorStorage({ intervals: 4, expireGroupMs: DAY })
    s.addCluster('c')
    s.setBrokerOffsets('c', 't', [100], T0)
    s.addCommit('c', { group: 'g', topic: 't', partition: 0, offset: 10, order: 1, timestamp: T0 }, T0)
    assert.equal(new Evaluator(s, { expireCacheMs: 0, allowedLag: 0, minimumComplete: 0 }).evaluate('c', 'g', T0 + 10_000).partitions[0].status, 'STOP')
    assert.equal(new Evaluator(s, { expireCacheMs: 0, allowedLag: 0, minimumComplete: 0.5 }).evaluate('c', 'g', T0 + 10_000).partitions[0].status, 'OK')
  })

  it('answers NOTFOUND for unknown clusters and groups, and caches results for expire-cache', () => {
    const s = storage()
    const evaluator = ev(s, 10_000)
    assert.equal(evaluator.evaluate('nope', 'g').status, 'NOTFOUND')
    assert.equal(evaluator.evaluate('c', 'g').status, 'NOTFOUND')
    s.addCommit('c', commit(100, 1), T0)
    const first = evaluator.evaluate('c', 'g', T0 + 1000)
    s.addCommit('c', commit(50, 2), T0)
    assert.equal(evaluator.evaluate('c', 'g', T0 + 5000), first, 'cached')
    assert.notEqual(evaluator.evaluate('c', 'g', T0 + 11_001), first, 'expired')
    evaluator.invalidate('c', 'g')
    s.deleteGroup('c', 'g')
    assert.equal(evaluator.evaluate('c', 'g', T0 + 11_002).status, 'NOTFOUND')
  })
})
