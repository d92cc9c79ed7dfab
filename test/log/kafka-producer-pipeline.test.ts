/**
 * The Kafka producer's pipelining: several requests in flight per broker, idempotent retries that
 * keep order, refused batches, and flushing on close. Against a real broker (`KAFKA_BROKERS`,
 * default `127.0.0.1:9092`); every test uses topics of its own.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { metricsRegistry } from '../../src/core/metrics.ts'
import type { RecordMetadata } from '../../src/core/record.ts'
import { openKafkaLog } from '../../src/log/kafka/index.ts'
import type { KafkaProducer } from '../../src/log/kafka/producer.ts'
import type { Log } from '../../src/log/types.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const uid = (): string => randomUUID().slice(0, 8)

/** Every record of the topic's partitions as `value` strings with offsets, read with a reader. */
async function readAll(log: Log, topic: string, expected: number): Promise<Map<number, { offset: number; value: string }[]>> {
  const reader = log.reader({ topic })
  const out = new Map<number, { offset: number; value: string }[]>()
  let count = 0
  const deadline = Date.now() + 60_000
  try {
    while (count < expected) {
      assert.ok(Date.now() < deadline, `read ${count} of ${expected} records`)
      for (const r of await reader.poll({ timeoutMs: 500 })) {
        let list = out.get(r.partition)
        if (list === undefined) out.set(r.partition, (list = []))
        list.push({ offset: r.offset, value: (r.value as Buffer).toString() })
        count++
      }
    }
    // Nothing beyond what was expected (no duplicates).
    assert.equal((await reader.poll({ timeoutMs: 500 })).length, 0, 'no records beyond those sent')
  } finally {
    await reader.close()
  }
  return out
}

/**
 * Per partition and sender, the numbers must rise (a sender's records spread over partitions), and
 * every record `sender:n` for n below `perSender` appears exactly once.
 */
function assertInOrder(read: Map<number, { offset: number; value: string }[]>, senders: number, perSender: number): void {
  const seen = new Set<string>()
  for (const [partition, records] of read) {
    const last = new Map<string, number>()
    for (const { value } of records) {
      const [sender, seq] = value.split(':')
      const before = last.get(sender) ?? -1
      assert.ok(Number(seq) > before, `partition ${partition}, sender ${sender}: ${seq} after ${before}`)
      last.set(sender, Number(seq))
      assert.ok(!seen.has(value), `${value} written twice`)
      seen.add(value)
    }
  }
  assert.equal(seen.size, senders * perSender, 'every record once')
}

describe('Kafka producer pipelining', { timeout: 180_000 }, () => {
  let log: Log

  before(async () => {
    log = await openKafkaLog({ brokers, clientId: 'pipeline-test' })
  })

  after(async () => {
    await log?.close()
  })

  it('keeps each partition in order with 5 requests in flight and many concurrent senders; offsets match the log', async () => {
    const topic = `pipe-order-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 3 })
    // Small batches: many requests, so several are in flight on the connection at once.
    const producer = log.producer({ batchSize: 1_024, maxInFlightRequests: 5 }) as KafkaProducer
    const senders = 12
    const calls = 25
    const perCall = 20
    const reported = new Map<string, RecordMetadata>()
    let maxBuffered = 0
    let maxInFlight = 0
    await Promise.all(
      Array.from({ length: senders }, async (_, s) => {
        const call = (c: number): { records: { topic: string; key: string; value: string }[]; sent: Promise<RecordMetadata[]> } => {
          const records = Array.from({ length: perCall }, (_, i) => ({ topic, key: `k${(s + i) % 7}`, value: `${s}:${c * perCall + i}` }))
          const sent = producer.send(records)
          maxBuffered = Math.max(maxBuffered, producer.bufferedBytes)
          maxInFlight = Math.max(maxInFlight, producer.inFlightRequests)
          return { records, sent }
        }
        // Even senders await each call; odd ones make two calls before awaiting both.
        const step = s % 2 === 0 ? 1 : 2
        for (let c = 0; c < calls; c += step) {
          const made = Array.from({ length: Math.min(step, calls - c) }, (_, k) => call(c + k))
          for (const { records, sent } of made) (await sent).forEach((m, i) => reported.set(records[i].value, m))
        }
      }),
    )
    await producer.close()
    assert.ok(maxBuffered > 0)
    assert.ok(maxInFlight > 1 && maxInFlight <= 5, `several requests were in flight at once (at most ${maxInFlight})`)
    // Keys route each sender's records to several partitions; its sequence per partition must rise.
    const read = await readAll(log, topic, senders * calls * perCall)
    for (const [partition, records] of read) {
      for (const r of records) {
        const meta = reported.get(r.value)
        assert.deepEqual(meta, { topic, partition, offset: r.offset }, `the offset send reported for ${r.value}`)
      }
    }
    assertInOrder(read, senders, calls * perCall)
  })

  it('has no duplicates and no gaps when its connections drop with requests in flight (retried with the same sequences)', async () => {
    const topic = `pipe-retry-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2 })
    const producer = log.producer({ batchSize: 2_048, maxInFlightRequests: 5 }) as KafkaProducer
    const senders = 6
    const perSender = 1_500
    const retried = async (): Promise<number> => (await metricsRegistry.getSingleMetric('tributary_kafka_producer_retried_batches_total')?.get())?.values[0]?.value ?? 0
    const retriedBefore = await retried()
    let drops = 0
    let stop = false
    // Reset the connection a few times while requests are in flight.
    const dropper = (async () => {
      while (!stop && drops < 10) {
        await new Promise((resolve) => setTimeout(resolve, 30))
        if (producer.inFlightRequests > 0) drops += producer.dropConnections()
      }
    })()
    await Promise.all(
      Array.from({ length: senders }, async (_, s) => {
        for (let i = 0; i < perSender; i += 50) {
          await producer.send(Array.from({ length: 50 }, (_, j) => ({ topic, partition: (s + i / 50) % 2, value: `${s}:${i + j}` })))
        }
      }),
    )
    stop = true
    await dropper
    await producer.close()
    assert.ok(drops >= 3, `connections were dropped mid-flight (${drops} times)`)
    assert.ok((await retried()) > retriedBefore, 'batches in flight were sent again')
    const read = await readAll(log, topic, senders * perSender)
    // Each sender alternates partitions per call; per partition its numbers must still rise.
    assertInOrder(read, senders, perSender)
  })

  it('loses and reorders nothing when it sends right after the topic is created (the leader may not be ready yet)', async () => {
    // Right after CreateTopics a partition's first Produce can get NOT_LEADER_OR_FOLLOWER while the
    // next request, a moment later, is accepted: a broker without state for the producer takes any
    // first sequence. The sender keeps one batch in flight until a partition's first is acknowledged.
    const topics = Array.from({ length: 6 }, () => `pipe-fresh-${uid()}`)
    const producer = log.producer({ batchSize: 1_024 })
    // Each call fills several batches per partition: five requests leave at once.
    const perCall = 150
    await Promise.all(
      topics.map(async (topic) => {
        await log.admin.createTopic({ name: topic, partitions: 3 })
        await Promise.all(
          Array.from({ length: 3 }, async (_, s) => {
            for (let c = 0; c < 3; c++) {
              await producer.send(Array.from({ length: perCall }, (_, i) => ({ topic, partition: (s + c + i) % 3, value: `${s}:${c * perCall + i}` })))
            }
          }),
        )
      }),
    )
    await producer.close()
    for (const topic of topics) assertInOrder(await readAll(log, topic, 3 * 3 * perCall), 3, 3 * perCall)
  })

  it('rejects a refused batch naming topic and partition; the batches behind it are written, in order, without gaps', async () => {
    const topic = `pipe-refused-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const producer = log.producer({ batchSize: 4_096 })
    const before = Array.from({ length: 200 }, (_, i) => ({ topic, value: `before-${i}` }))
    const after = Array.from({ length: 200 }, (_, i) => ({ topic, value: `after-${i}` }))
    // Sent together: the refused record's batch sits between batches in flight before and after it.
    const results = await Promise.allSettled([producer.send(before), producer.send({ topic, value: Buffer.alloc(1_100_000, 1) }), producer.send(after)])
    assert.equal(results[0].status, 'fulfilled')
    assert.equal(results[2].status, 'fulfilled')
    assert.equal(results[1].status, 'rejected')
    const err = (results[1] as PromiseRejectedResult).reason
    assert.ok(isTributaryError(err), String(err))
    assert.match(err.message, new RegExp(`${topic} partition 0`))
    assert.match(err.message, /MESSAGE_TOO_LARGE/)
    assert.deepEqual(err.details.partition, 0)
    const offsets = [...(results[0] as PromiseFulfilledResult<RecordMetadata[]>).value, ...(results[2] as PromiseFulfilledResult<RecordMetadata[]>).value].map((m) => m.offset)
    assert.deepEqual(offsets, Array.from({ length: 400 }, (_, i) => i), 'contiguous offsets, no gap where the refused record was')
    // The partition keeps working: its sequence numbers were moved down past the refused batch.
    const [later] = await producer.send({ topic, value: 'later' })
    assert.equal(later.offset, 400)
    await producer.close()
    const read = await readAll(log, topic, 401)
    assert.deepEqual(
      read.get(0)!.map((r) => r.value),
      [...before, ...after].map((r) => r.value).concat('later'),
    )
  })

  it('close() sends what is still lingering and resolves its sends', async () => {
    const topic = `pipe-close-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 2 })
    const producer = log.producer({ lingerMs: 60_000 })
    const sends = Array.from({ length: 10 }, (_, i) => producer.send({ topic, key: `k${i}`, value: `v${i}` }))
    // Let the sends be appended; with a minute of linger nothing would leave on its own.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = Date.now()
    await producer.close()
    assert.ok(Date.now() - started < 10_000, 'close did not wait for the linger')
    const metas = (await Promise.all(sends)).flat()
    assert.equal(metas.length, 10)
    const end = await log.offsets.endOffsets(topic)
    assert.equal(end.reduce((a, b) => a + b, 0), 10)
    await assert.rejects(producer.send({ topic, value: 'x' }), (e: unknown) => isTributaryError(e, 'TRIB_CLOSED'))
  })

  it('rejects bad pipelining options', () => {
    for (const options of [{ batchSize: 0 }, { batchSize: 2 * 1024 * 1024 }, { maxInFlightRequests: 0 }, { maxInFlightRequests: 6 }, { deliveryTimeoutMs: 0 }]) {
      assert.throws(() => log.producer(options), (e: unknown) => isTributaryError(e, 'TRIB_INVALID_ARGUMENT'), JSON.stringify(options))
    }
  })
})
