/**
 * Read-committed on a real broker: records of an aborted transaction never reach a consumer of the
 * Kafka log, committed ones do, in order, and the position moves past the transaction markers.
 * The broker comes from `KAFKA_BROKERS` (default `127.0.0.1:9092`).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Producer } from '@platformatic/kafka'
import { openKafkaLog } from '../../src/log/kafka/index.ts'
import type { Log } from '../../src/log/types.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')

describe('Kafka log: transactions (read-committed)', () => {
  let log: Log
  before(async () => {
    log = await openKafkaLog({ brokers, clientId: 'tx-test' })
  })
  after(async () => {
    await log.close()
  })

  it('returns committed and plain records, never aborted ones, and moves past the markers', async () => {
    const topic = `tx-${randomUUID()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const producer = new Producer({ clientId: 'tx-test-producer', bootstrapBrokers: brokers, idempotent: true, transactionalId: `tx-${randomUUID()}`, acks: -1 })
    try {
      const send = (tx: { send: Producer['send'] }, values: string[]) => tx.send({ messages: values.map((value) => ({ topic, partition: 0, value: Buffer.from(value) })) })
      const aborted = await producer.beginTransaction()
      await send(aborted, ['a1', 'a2', 'a3'])
      await aborted.abort()
      const committed = await producer.beginTransaction()
      await send(committed, ['c1', 'c2'])
      await committed.commit()
    } finally {
      await producer.close()
    }
    const plain = log.producer()
    await plain.send([{ topic, partition: 0, value: 'p1' }])
    await plain.close()

    const consumer = log.consumer({ groupId: `tx-${randomUUID()}`, topics: [topic] })
    try {
      const seen: string[] = []
      const deadline = Date.now() + 30_000
      while (!seen.includes('p1') && Date.now() < deadline) for (const r of await consumer.poll({ timeoutMs: 500 })) seen.push(r.value?.toString() ?? '')
      assert.deepEqual(seen, ['c1', 'c2', 'p1'])
      // 3 aborted + marker, 2 committed + marker, 1 plain: the next offset is past all of them.
      assert.equal(consumer.position({ topic, partition: 0 }), 8)
    } finally {
      await consumer.close()
      await log.admin.deleteTopic(topic).catch(() => {})
    }
  })
})
