/**
 * Group liveness on Kafka like the Java client: a member cut off from the broker (its process
 * stopped, or the broker stopped) loses its partitions — `onLost`, not `onRevoke` — another member
 * takes over, and nothing is committed by the cut-off one; a member that stops polling leaves after
 * `maxPollIntervalMs`. The broker-outage test stops a second broker of its own, never the shared one.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { isTributaryError, metricsRegistry } from '../../src/core/index.ts'
import type { TopicPartition } from '../../src/core/record.ts'
import { openKafkaLog } from '../../src/log/kafka/index.ts'
import type { KafkaProducer } from '../../src/log/kafka/producer.ts'
import type { Log } from '../../src/log/index.ts'
import { codecs } from '../../src/core/index.ts'
import { defineGroup, Emitter, input, persist, Processor, type RebalanceEvent } from '../../src/processor/index.ts'
import { memoryStore } from '../../src/state/index.ts'
import { captureLogger, eventually } from '../monitor/helpers.ts'
import { pollUntil } from './conformance.ts'
import { startSecureBroker, type SecureBroker } from './secure-broker.ts'

const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const uid = (): string => randomUUID().slice(0, 8)
const MEMBER = path.resolve(import.meta.dirname, 'fixtures/kafka-member.ts')

interface ChildEvent {
  event: string
  partitions?: number[]
  offsets?: [number, number][]
  code?: string
}

/** A group member in a child process, with the events it printed. */
function startChild(group: string, topic: string): { child: ChildProcess; events: ChildEvent[] } {
  const child = spawn(process.execPath, [MEMBER, BROKERS, group, topic], { stdio: ['pipe', 'pipe', 'ignore'] })
  const events: ChildEvent[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as ChildEvent)
    } catch {
      // not ours
    }
  })
  return { child, events }
}

async function heartbeatFailures(group: string): Promise<number> {
  const metric = (await metricsRegistry.getSingleMetric('tributary_kafka_heartbeat_failures_total')?.get())?.values ?? []
  return metric.filter((v) => v.labels.group === group).reduce((sum, v) => sum + v.value, 0)
}

describe('Kafka group liveness', { timeout: 120_000 }, () => {
  let log: Log
  const children: ChildProcess[] = []

  before(async () => {
    log = await openKafkaLog({ brokers: BROKERS.split(',') })
  })

  after(async () => {
    for (const child of children) {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
    await log.close()
  })

  it('a member whose process is stopped loses its partitions: another takes over, the stopped one commits nothing and gets onLost', async () => {
    const topic = `live-${uid()}`
    const group = `live-g-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}` })))
    const { child, events } = startChild(group, topic)
    children.push(child)
    await eventually(() => events.find((e) => e.event === 'batch'), 'the child to receive a batch', 30_000)
    child.kill('SIGSTOP')

    // The other member: the child's session (2 s) expires, the group rebalances without it.
    const lost: TopicPartition[][] = []
    const other = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 2_000, onLost: (p) => void lost.push(p) })
    const taken = await pollUntil(other, (r) => r.length >= 10, 30_000, 'the uncommitted batch, re-delivered to the other member')
    assert.deepEqual(taken.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await other.commit()

    child.kill('SIGCONT')
    child.stdin!.write('commit\n')
    const failed = await eventually(() => events.find((e) => e.event === 'committed' || e.event === 'commit-failed'), 'the child commit outcome', 20_000)
    assert.deepEqual(failed, { event: 'commit-failed', code: 'TRIB_LOG_NOT_ASSIGNED' }, 'the cut-off member cannot commit its old batch')
    await eventually(() => events.find((e) => e.event === 'lost'), 'onLost in the child', 20_000)
    assert.deepEqual(events.find((e) => e.event === 'lost')?.partitions, [0])
    assert.ok(!events.some((e) => e.event === 'revoked'), 'onRevoke did not run for lost partitions')
    const committed = await log.offsets.committed(group, topic)
    assert.deepEqual(committed.map((c) => c.offset), [10], 'only the member that took over committed')
    assert.deepEqual(lost, [], 'the member that took over lost nothing')
    child.kill('SIGKILL')
    await other.close()
  })

  it('a member that does not poll within maxPollIntervalMs leaves; its partitions move, and its next poll reports them lost', async () => {
    const topic = `slow-${uid()}`
    const group = `slow-g-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2 })
    await log.producer().send(Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })))
    const { logger, lines } = captureLogger('warn')
    const slowLog = await openKafkaLog({ brokers: BROKERS.split(','), logger })
    const lostBySlow: TopicPartition[][] = []
    const revokedBySlow: TopicPartition[][] = []
    const slow = slowLog.consumer({
      groupId: group,
      topics: [topic],
      maxPollIntervalMs: 1_500,
      onLost: (p) => void lostBySlow.push(p),
      onRevoke: (p) => void revokedBySlow.push(p),
    })
    await pollUntil(slow, () => slow.assignment().length === 2, 30_000, 'the slow member to own both partitions')
    // It stops polling ("a long batch"); the other member joins and must get everything.
    const other = log.consumer({ groupId: group, topics: [topic] })
    const started = Date.now()
    await pollUntil(other, () => other.assignment().length === 2, 30_000, 'the other member to own both partitions')
    assert.ok(Date.now() - started < 15_000, `moved within ${Date.now() - started} ms`)
    assert.ok(lines.some((l) => /leaving the consumer group/.test(String(l.msg)) && /poll timeout/.test(String(l.reason))), 'the leave is logged with its reason')
    await slow.poll({ timeoutMs: 200 })
    assert.equal(lostBySlow.length, 1, 'onLost ran once')
    assert.deepEqual(lostBySlow[0].map((tp) => tp.partition), [0, 1])
    assert.deepEqual(revokedBySlow, [], 'onRevoke did not run')
    await slow.close()
    await other.close()
    await slowLog.close()
  })

  it('the rebalance timeout defaults to maxPollIntervalMs: a member busy with a slow batch during a rebalance is not expelled', async () => {
    const topic = `busy-${uid()}`
    const group = `busy-g-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2 })
    const events: string[] = []
    const busy = log.consumer({
      groupId: group,
      topics: [topic],
      sessionTimeoutMs: 2_000,
      maxPollIntervalMs: 30_000,
      onRevoke: (p) => void events.push(`revoked ${p.length}`),
      onLost: (p) => void events.push(`lost ${p.length}`),
      onAssign: (p) => void events.push(`assigned ${p.length}`),
    })
    await pollUntil(busy, () => busy.assignment().length === 2, 30_000, 'the busy member to own both partitions')
    // Another member joins while the first is "processing" for 3 s, longer than the session timeout:
    // heartbeats keep its session, and the rebalance waits for it (up to maxPollIntervalMs).
    const other = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 2_000 })
    const joining = pollUntil(other, () => other.assignment().length === 1, 30_000, 'the second member to get one partition')
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    await pollUntil(busy, () => busy.assignment().length === 1, 30_000, 'the busy member to rejoin with one partition')
    await joining
    assert.deepEqual(events, ['assigned 2', 'revoked 2', 'assigned 1'], 'revoked in an orderly rebalance, never lost')
    await Promise.all([busy.close(), other.close()])
  })

  describe('with a broker outage (a second broker of its own, stopped with SIGSTOP)', () => {
    let broker: SecureBroker

    before(async () => {
      broker = await startSecureBroker()
    })

    after(async () => {
      await broker?.stop()
    })

    it('bounds the producer buffer while the broker is stopped: sends wait, then fail with TRIB_LOG_BUFFER_FULL; the admitted ones complete after', async () => {
      const outageLog = await openKafkaLog({ brokers: [broker.plaintext], requestTimeoutMs: 3_000 })
      const topic = `buffer-${uid()}`
      await outageLog.admin.createTopic({ name: topic, partitions: 1 })
      const limit = 64 * 1024
      const producer = outageLog.producer({ bufferMemoryBytes: limit, maxBlockMs: 1_000 }) as KafkaProducer
      await producer.send({ topic, value: 'warm-up' })
      broker.pause()
      let highest = 0
      const value = Buffer.alloc(10 * 1024, 1)
      const outcomes: Promise<{ ok: boolean; code?: string }>[] = []
      try {
        const started = Date.now()
        for (let i = 0; i < 20; i++) {
          outcomes.push(producer.send({ topic, value }).then(() => ({ ok: true }), (err: { code?: string }) => ({ ok: false, code: err.code })))
          highest = Math.max(highest, producer.bufferedBytes)
        }
        const watch = setInterval(() => (highest = Math.max(highest, producer.bufferedBytes)), 10)
        const full = await Promise.race(outcomes.map((o) => o.then((r) => (r.ok ? new Promise<never>(() => {}) : r))))
        clearInterval(watch)
        assert.equal(full.code, 'TRIB_LOG_BUFFER_FULL')
        const waited = Date.now() - started
        assert.ok(waited >= 900 && waited < 5_000, `failed after ${waited} ms (maxBlockMs 1 s)`)
        assert.ok(highest <= limit, `at most ${limit} bytes buffered, saw ${highest}`)
      } finally {
        broker.resume()
      }
      const settled = await Promise.all(outcomes)
      const written = settled.filter((o) => o.ok).length
      assert.ok(settled.every((o) => o.ok || o.code === 'TRIB_LOG_BUFFER_FULL'), JSON.stringify(settled))
      // Those admitted while the broker was stopped, plus waiting ones admitted once it answered again.
      assert.ok(written >= 1 && written < 20, `${written} sends were admitted and written`)
      assert.equal(producer.bufferedBytes, 0)
      const fullCount = (await metricsRegistry.getSingleMetric('tributary_kafka_producer_buffer_full_total')?.get())?.values[0]?.value ?? 0
      assert.ok(fullCount >= 20 - written, `tributary_kafka_producer_buffer_full_total counts the refused sends (${fullCount})`)
      const end = await outageLog.offsets.endOffsets(topic)
      assert.equal(end[0], 1 + written, 'exactly the admitted records were written')
      await outageLog.close()
    })

    it('an Emitter applies the same backpressure: emits beyond its buffer wait, then fail with TRIB_LOG_BUFFER_FULL', async () => {
      const outageLog = await openKafkaLog({ brokers: [broker.plaintext], requestTimeoutMs: 3_000 })
      const topic = `emit-full-${uid()}`
      await outageLog.admin.createTopic({ name: topic, partitions: 1 })
      const emitter = new Emitter(outageLog, topic, codecs.string(), { bufferMemoryBytes: 20_000, maxBlockMs: 500 })
      await emitter.emitSync('warm', 'up')
      broker.pause()
      try {
        for (let i = 0; i < 10; i++) void emitter.emit(`k${i}`, 'x'.repeat(5_000)).catch(() => {})
        const started = Date.now()
        await assert.rejects(emitter.emitSync('one-more', 'x'.repeat(5_000)), (err) => isTributaryError(err, 'TRIB_LOG_BUFFER_FULL'))
        assert.ok(Date.now() - started < 5_000)
      } finally {
        broker.resume()
      }
      await assert.rejects(emitter.flush(), (err) => isTributaryError(err, 'TRIB_LOG_BUFFER_FULL'), 'flush reports the emits that did not fit')
      await emitter.close()
      await outageLog.close()
    })

    it('a processor cut off from the broker reports its partitions lost, commits nothing of them, rebuilds them, and loses no record', async () => {
      const topic = `proc-lost-${uid()}`
      const group = `proc-lost-${uid()}`
      // At-least-once: a lost partition's records come again, so the count skips offsets it saw.
      type Row = { n: number; seen: { [p: string]: number } }
      const counter = defineGroup(
        group,
        input(topic, codecs.string(), (ctx) => {
          const row = (ctx.value() as Row | undefined) ?? { n: 0, seen: {} }
          if (ctx.offset <= (row.seen[ctx.partition] ?? -1)) return
          row.seen[ctx.partition] = ctx.offset
          row.n++
          ctx.setValue(row)
        }),
        persist(codecs.json<Row>()),
      )
      const { logger, lines } = captureLogger('warn')
      const outageLog = await openKafkaLog({ brokers: [broker.plaintext], requestTimeoutMs: 3_000, logger })
      await outageLog.admin.createTopic({ name: topic, partitions: 2 })
      const events: (RebalanceEvent & { at: number })[] = []
      const commits: number[] = []
      const processor = new Processor(outageLog, counter, {
        onCommit: () => void commits.push(Date.now()),
        storage: memoryStore(),
        sessionTimeoutMs: 2_000,
        commitIntervalMs: 100,
        onRebalance: (e) => void events.push({ ...e, at: Date.now() }),
        backoff: { initialMs: 200, maxMs: 1_000 },
        logger,
      })
      const run = processor.run()
      const producer = outageLog.producer()
      const expected = new Map<string, number>()
      const produce = async (n: number): Promise<void> => {
        const batch = Array.from({ length: n }, (_, i) => ({ topic, key: `k${i % 10}`, value: 'x' }))
        await producer.send(batch)
        for (const r of batch) expected.set(r.key, (expected.get(r.key) ?? 0) + 1)
      }
      const counted = (): boolean => [...expected].every(([k, n]) => processor.get<Row>(k)?.n === n)
      try {
        await processor.waitForReady()
        await produce(200)
        await eventually(() => (counted() ? true : undefined), 'the first records counted', 30_000)
        await produce(200)
        broker.pause()
        let resumedAt = 0
        try {
          await eventually(() => (lines.some((l) => /no heartbeat succeeded within the session timeout/.test(String(l.msg))) ? true : undefined), 'the member to find its session lost', 20_000)
        } finally {
          broker.resume()
          resumedAt = Date.now()
        }
        // The processor may be blocked in a send or commit while the broker is stopped; its next poll reports the loss.
        await eventually(() => (events.some((e) => e.type === 'lost') ? true : undefined), 'the processor to report its partitions lost', 30_000)
        await produce(100)
        await eventually(() => (counted() ? true : undefined), 'every record counted once after the rebuild', 60_000)
        assert.ok(events.findIndex((e) => e.type === 'assigned') < events.findIndex((e) => e.type === 'lost'))
        assert.ok(events.slice(events.findIndex((e) => e.type === 'lost')).some((e) => e.type === 'assigned'), 'the lost partitions came back')
        assert.ok(!events.some((e) => e.type === 'revoked'), 'lost partitions are not revoked (nothing committed for them)')
        const lostAt = Number(lines.find((l) => /no heartbeat succeeded within the session timeout/.test(String(l.msg)))?.time)
        const backAt = events.find((e) => e.type === 'assigned' && e.at > lostAt)?.at ?? Infinity
        // A commit sent before the broker stopped may be answered once it resumes (the broker's own
        // clock stood still, so the member was still in the group for it): that one covers work done
        // before the loss. No commit may be sent after the loss.
        const afterLoss = commits.filter((t) => t > lostAt && t < backAt)
        assert.ok(afterLoss.length <= 1 && afterLoss.every((t) => t >= resumedAt), `no commit between the loss and the reassignment but the one in flight (${afterLoss.map((t) => t - lostAt)} ms after the loss)`)
        assert.notEqual(processor.state, 'failed')
      } finally {
        await processor.stop()
        await run.catch(() => {})
        await producer.close().catch(() => {})
        await outageLog.close()
      }
    })

    it('warns after the first failed heartbeat, counts failures, declares the partitions lost after the session timeout, and rejoins', async () => {
      const { logger, lines } = captureLogger('warn')
      const outageLog = await openKafkaLog({ brokers: [broker.plaintext], logger, requestTimeoutMs: 5_000 })
      const topic = `outage-${uid()}`
      const group = `outage-g-${uid()}`
      await outageLog.admin.createTopic({ name: topic, partitions: 1 })
      const lost: TopicPartition[][] = []
      const assigned: TopicPartition[][] = []
      const consumer = outageLog.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 2_000, onLost: (p) => void lost.push(p), onAssign: (p) => void assigned.push(p) })
      try {
        await pollUntil(consumer, () => consumer.assignment().length === 1, 30_000, 'the assignment')
        const failuresBefore = await heartbeatFailures(group)
        broker.pause()
        const pausedAt = Date.now()
        await eventually(async () => {
          await consumer.poll({ timeoutMs: 100 }).catch(() => [])
          return lost.length > 0 ? true : undefined
        }, 'onLost while the broker is stopped', 20_000)
        const lostAfter = Date.now() - pausedAt
        // The session counts from the last heartbeat that got through (up to one interval before the outage).
        assert.ok(lostAfter >= 1_000 && lostAfter < 8_000, `lost ${lostAfter} ms after the outage began (session timeout 2 s)`)
        assert.deepEqual(lost[0].map((tp) => tp.partition), [0])
        assert.equal(consumer.assignment().length, 0, 'lost partitions are no longer owned')
        assert.ok(lines.some((l) => /heartbeat failed/.test(String(l.msg))), 'a heartbeat failure was logged as a warning')
        assert.ok(lines.some((l) => /no heartbeat succeeded within the session timeout/.test(String(l.msg))), 'the session loss was logged')
        assert.ok((await heartbeatFailures(group)) > failuresBefore, 'tributary_kafka_heartbeat_failures_total grew')
        await assert.rejects(consumer.commit([{ topic, partition: 0, offset: 0 }]), (err) => isTributaryError(err, 'TRIB_LOG_NOT_ASSIGNED'))
        broker.resume()
        await pollUntil(consumer, () => consumer.assignment().length === 1, 40_000, 'the rejoin after the broker is back')
        assert.ok(assigned.length >= 2, 'onAssign ran again after the rejoin')
        assert.deepEqual(await outageLog.offsets.committed(group, topic), [], 'nothing was committed')
      } finally {
        broker.resume()
        await consumer.close().catch(() => {})
        await outageLog.close()
      }
    })
  })
})
