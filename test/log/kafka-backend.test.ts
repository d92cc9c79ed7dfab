/**
 * Kafka-specific tests of the Kafka backend (the shared behaviour is in `conformance.ts`).
 * The broker comes from `KAFKA_BROKERS` (default `127.0.0.1:9092`); start one with `scripts/kafka.sh start`.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Consumer as RawConsumer } from '@platformatic/kafka'
import { isTributaryError } from '../../src/core/index.ts'
import type { Record } from '../../src/core/record.ts'
import { openKafkaLog } from '../../src/log/kafka/index.ts'
import type { GroupConsumer, Log } from '../../src/log/types.ts'
import { pollUntil } from './conformance.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const uid = (): string => randomUUID().slice(0, 8)

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  assert.fail('expected a rejection')
}

/** Polls all members together until `done()`; returns every record they returned. */
async function pollAll(members: GroupConsumer[], done: () => boolean, timeoutMs = 60_000, label = 'condition'): Promise<Record[][]> {
  const seen: Record[][] = members.map(() => [])
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${label}`)
    const batches = await Promise.all(members.map((m) => m.poll({ timeoutMs: 200 })))
    batches.forEach((batch, i) => seen[i].push(...batch))
  }
  return seen
}

describe('Kafka backend: connecting', () => {
  it('fails within connectTimeoutMs with TRIB_LOG_BROKER_UNREACHABLE naming the addresses tried', async () => {
    const started = Date.now()
    const err = await caught(openKafkaLog({ brokers: ['127.0.0.1:1', '127.0.0.1:2'], connectTimeoutMs: 1_500 }))
    const elapsed = Date.now() - started
    assert.ok(isTributaryError(err, 'TRIB_LOG_BROKER_UNREACHABLE'), `got ${(err as Error).message}`)
    assert.match(err.message, /127\.0\.0\.1:1/)
    assert.match(err.message, /127\.0\.0\.1:2/)
    assert.equal(err.retriable, true)
    assert.ok(elapsed >= 1_000 && elapsed < 4_000, `took ${elapsed} ms`)
  })

  it('rejects bad options', async () => {
    for (const options of [{ brokers: [] }, { brokers: ['no-port'] }, { brokers: ['127.0.0.1:9092'], connectTimeoutMs: -1 }]) {
      const err = await caught(openKafkaLog(options))
      assert.ok(isTributaryError(err, 'TRIB_INVALID_ARGUMENT'), `got ${(err as Error).message}`)
    }
  })
})

describe('Kafka backend', { timeout: 240_000 }, () => {
  let log: Log

  before(async () => {
    log = await openKafkaLog({ brokers, connectTimeoutMs: 15_000 })
  })
  after(async () => {
    await log?.close()
  })

  it('rejects bad buffer and liveness settings, naming them', () => {
    for (const [make, field] of [
      [() => log.producer({ bufferMemoryBytes: 0 }), 'bufferMemoryBytes'],
      [() => log.producer({ maxBlockMs: -1 }), 'maxBlockMs'],
      [() => log.consumer({ groupId: 'g', topics: ['t'], maxPollIntervalMs: 0 }), 'maxPollIntervalMs'],
      [() => log.consumer({ groupId: 'g', topics: ['t'], sessionTimeoutMs: 1.5 }), 'sessionTimeoutMs'],
    ] as const) {
      assert.throws(make, (err: unknown) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT') && err.message.includes(field), field)
    }
  })

  it('produces idempotently: records carry a producer id and gap-free sequence numbers', async () => {
    const topic = `idem-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const producer = log.producer()
    await producer.send(Array.from({ length: 5 }, (_, i) => ({ topic, value: `a${i}` })))
    await producer.send(Array.from({ length: 3 }, (_, i) => ({ topic, value: `b${i}` })))
    await producer.close()

    const raw = new RawConsumer({ clientId: 'idem-check', groupId: `idem-${uid()}`, bootstrapBrokers: brokers })
    try {
      const metadata = await raw.metadata({ topics: [topic] })
      const meta = metadata.topics.get(topic)!
      const response = await raw.fetch({
        node: meta.partitions[0].leader,
        topics: [{ topicId: meta.id, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1_000_000, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
        maxWaitTime: 100,
      })
      const batches = response.responses[0].partitions[0].records ?? []
      assert.equal(batches.length, 2)
      assert.ok(batches[0].producerId >= 0n, 'an idempotent producer has a producer id')
      assert.equal(batches[1].producerId, batches[0].producerId)
      assert.equal(batches[0].firstSequence, 0)
      assert.equal(batches[1].firstSequence, 5, 'sequence numbers continue without gaps')
    } finally {
      await raw.close()
    }
  })

  it('splits a large send into requests Kafka accepts and keeps offsets in input order', async () => {
    const topic = `big-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const value = Buffer.alloc(100, 'x')
    const count = 30_000 // ~3.7 MB: more than one 1 MiB record batch
    const meta = await log.producer().send(Array.from({ length: count }, (_, i) => ({ topic, key: `k${i}`, value })))
    assert.equal(meta.length, count)
    meta.forEach((m, i) => assert.equal(m.offset, i))
    assert.deepEqual(await log.offsets.endOffsets(topic), [count])
  })

  it('coalesces single sends within lingerMs and resolves each with its own offset', async () => {
    const topic = `linger-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const producer = log.producer({ lingerMs: 20 })
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.send({ topic, value: `v${i}` })))
    assert.deepEqual(
      results.map((r) => r[0].offset),
      Array.from({ length: 50 }, (_, i) => i),
    )
    await producer.close()
  })

  it('never auto-creates topics', async () => {
    const missing = `auto-${uid()}`
    const err = await caught(log.producer().send({ topic: missing, value: 'x' }))
    assert.ok(isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC'))
    assert.ok(!(await log.admin.listTopics()).includes(missing))
  })

  it('describes retention and extra configs', async () => {
    const topic = `conf-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2, retentionMs: 3_600_000, retentionBytes: 1_048_576, configs: { 'segment.ms': '600000' } })
    assert.deepEqual(await log.admin.describeTopic(topic), {
      name: topic,
      partitions: 2,
      cleanupPolicy: 'delete',
      retentionMs: 3_600_000,
      retentionBytes: 1_048_576,
    })
  })

  it('runs onAssign before returning records, so a seek there takes effect', async () => {
    const topic = `assign-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}` })))
    const consumer: GroupConsumer = log.consumer({
      groupId: `assign-${uid()}`,
      topics: [topic],
      onAssign: (partitions) => {
        assert.equal(consumer.position(partitions[0]), 0, 'positions are known in onAssign')
        consumer.seek(partitions[0], 5)
      },
    })
    const records = await pollUntil(consumer, (r) => r.length >= 5)
    assert.deepEqual(
      records.map((r) => r.offset),
      [5, 6, 7, 8, 9],
    )
    await consumer.close()
  })

  it('hands partitions over without duplicates when the old owner commits in onRevoke', async () => {
    const topic = `handover-${uid()}`
    const groupId = `handover-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2 })
    await log.producer().send(Array.from({ length: 200 }, (_, i) => ({ topic, value: `v${i}`, partition: i % 2 })))
    const revoked: number[] = []
    const a: GroupConsumer = log.consumer({
      groupId,
      topics: [topic],
      maxPollRecords: 10,
      onRevoke: async (partitions) => {
        revoked.push(partitions.length)
        await a.commit()
      },
    })
    const first = await pollUntil(a, (r) => r.length >= 30)
    const b = log.consumer({ groupId, topics: [topic], maxPollRecords: 10 })
    const [ofA, ofB] = await pollAll([a, b], () => a.assignment().length === 1 && b.assignment().length === 1, 60_000, '1+1 split')
    assert.deepEqual(revoked, [2], 'a revoked both partitions once (eager rebalance)')
    const all = [...first, ...ofA, ...ofB]
    const deadline = Date.now() + 60_000
    while (all.length < 200) {
      assert.ok(Date.now() < deadline, `only ${all.length} of 200 records`)
      const batches = await Promise.all([a.poll({ timeoutMs: 200 }), b.poll({ timeoutMs: 200 })])
      all.push(...batches.flat())
    }
    const keys = all.map((r) => `${r.partition}/${r.offset}`)
    assert.equal(new Set(keys).size, keys.length, 'no record was delivered twice')
    assert.equal(keys.length, 200)
    await Promise.all([a.close(), b.close()])
  })

  it('a closing dynamic member leaves the group at once (well before the session timeout)', async () => {
    const topic = `leave-${uid()}`
    const groupId = `leave-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 4 })
    const a = log.consumer({ groupId, topics: [topic], sessionTimeoutMs: 45_000 })
    const b = log.consumer({ groupId, topics: [topic], sessionTimeoutMs: 45_000 })
    await pollAll([a, b], () => a.assignment().length === 2 && b.assignment().length === 2, 60_000, '2+2 split')
    const started = Date.now()
    await b.close()
    await pollAll([a], () => a.assignment().length === 4, 20_000, 'a owning all partitions')
    assert.ok(Date.now() - started < 20_000)
    await a.close()
  })

  it('keeps a static member\'s partitions across a restart within the session timeout, without a rebalance', async () => {
    const topic = `static-${uid()}`
    const groupId = `static-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 4 })
    let bRevokes = 0
    const options = { groupId, topics: [topic], sessionTimeoutMs: 30_000 }
    const a = log.consumer({ ...options, groupInstanceId: 'instance-a' })
    const b = log.consumer({ ...options, groupInstanceId: 'instance-b', onRevoke: () => void bRevokes++ })
    await pollAll([a, b], () => a.assignment().length === 2 && b.assignment().length === 2, 60_000, '2+2 split')
    const ofA = a.assignment()
    const ofB = b.assignment()
    const revokesBefore = bRevokes
    await a.close()
    const restarted = log.consumer({ ...options, groupInstanceId: 'instance-a' })
    await pollAll([restarted, b], () => restarted.assignment().length === 2, 20_000, 'the restarted member rejoining')
    assert.deepEqual(restarted.assignment(), ofA, 'the restarted member got its old partitions back')
    assert.deepEqual(b.assignment(), ofB)
    assert.equal(bRevokes, revokesBefore, 'the other member saw no rebalance')
    await Promise.all([restarted.close(), b.close()])
  })

  it('fences the older of two consumers with the same group.instance.id', async () => {
    const topic = `fence-${uid()}`
    const groupId = `fence-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const first = log.consumer({ groupId, topics: [topic], groupInstanceId: 'same', sessionTimeoutMs: 6_000 })
    await pollUntil(first, () => first.assignment().length === 1, 30_000, 'assignment')
    const second = log.consumer({ groupId, topics: [topic], groupInstanceId: 'same', sessionTimeoutMs: 6_000 })
    await pollUntil(second, () => second.assignment().length === 1, 30_000, 'assignment of the second')
    let fenced: unknown
    const deadline = Date.now() + 20_000
    while (!fenced && Date.now() < deadline) {
      try {
        await first.poll({ timeoutMs: 200 })
        await first.commit()
      } catch (err) {
        fenced = err
      }
    }
    assert.ok(isTributaryError(fenced), `the older member learns it was fenced: ${String(fenced)}`)
    await Promise.all([first.close(), second.close()])
  })

  it('a send split into several requests that fails part-way says which of its records were written', async () => {
    const topic = `split-fail-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    // About 1 MB of small records (more than one request), then one record above the broker's
    // max.message.bytes (1 MiB), which goes in a request of its own and is refused.
    const small = Array.from({ length: 1_200 }, (_, i) => ({ topic, partition: 0, value: Buffer.alloc(1_000, i % 256) }))
    const huge = { topic, partition: 0, value: Buffer.alloc(1_100_000, 7) }
    const caughtError = await caught(log.producer().send([...small, huge]))
    assert.ok(isTributaryError(caughtError), String(caughtError))
    const err = caughtError as unknown as { message: string; details: { written?: { offset: number }[]; notWritten?: number } }
    const written = err.details.written ?? []
    assert.ok(written.length > 0 && written.length < small.length + 1, `some records were written: ${written.length}`)
    assert.equal(err.details.notWritten, small.length + 1 - written.length)
    assert.match(err.message, new RegExp(`the first ${written.length} of the call's ${small.length + 1} records were written`))
    const end = await log.offsets.endOffsets(topic)
    assert.deepEqual(written.map((m) => m.offset), Array.from({ length: written.length }, (_, i) => i), 'their offsets as written')
    assert.ok(end[0] >= written.length, 'the reported records are in the log')
  })
})
