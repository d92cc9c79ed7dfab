/**
 * `bench log --backend kafka`: our Kafka backend beside the raw `@platformatic/kafka` producer and
 * consumer with the same settings (idempotent, acks=all, same batch size, same partitions), on the
 * same broker in the same run. Starts the project's broker when `KAFKA_BROKERS` is not set.
 * @module
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { Consumer, Producer } from '@platformatic/kafka'
import { openKafkaLog } from '../log/kafka/index.ts'
import { benchData, measureLog, type LogBenchOptions } from './log-bench.ts'
import { rate, report } from './report.ts'

const root = path.resolve(import.meta.dirname, '../..')

function startBroker(): boolean {
  if (process.env.KAFKA_BROKERS) return false
  const start = spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'start'], { stdio: ['ignore', 'pipe', 'inherit'] })
  if (start.status !== 0) throw new Error('bench: could not start the Kafka broker (scripts/kafka.sh start); set KAFKA_BROKERS to use a running one')
  return true
}

async function rawProduce(brokers: string[], topic: string, records: number, batch: number): Promise<number> {
  const { keys, value } = benchData()
  const producer = new Producer({ clientId: 'bench-raw-producer', bootstrapBrokers: brokers, idempotent: true, acks: -1, autocreateTopics: false })
  try {
    const start = process.hrtime.bigint()
    for (let sent = 0; sent < records; ) {
      const n = Math.min(batch, records - sent)
      const messages = new Array(n)
      for (let i = 0; i < n; i++) messages[i] = { topic, key: keys[(sent + i) % keys.length], value }
      await producer.send({ messages })
      sent += n
    }
    return rate(records, start, process.hrtime.bigint())
  } finally {
    await producer.close()
  }
}

async function rawConsume(brokers: string[], topic: string, records: number): Promise<number> {
  const consumer = new Consumer({
    clientId: 'bench-raw-consumer',
    groupId: `bench-raw-${process.pid}-${Date.now()}`,
    bootstrapBrokers: brokers,
  })
  try {
    const start = process.hrtime.bigint()
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
    let received = 0
    let bytes = 0
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (message: { value: Buffer }) => {
        bytes += message.value.length
        if (++received === records) resolve()
      })
      stream.on('error', reject)
    })
    const perSec = rate(records, start, process.hrtime.bigint())
    await stream.close()
    if (bytes !== records * benchData().value.length) throw new Error('bench: raw consumer read a different number of bytes')
    return perSec
  } finally {
    await consumer.close(true)
  }
}

/** Runs the Kafka half of `bench log`. */
export async function runKafkaLogBench(options: LogBenchOptions & { batch: number; partitions: number; rounds: number }): Promise<void> {
  const started = startBroker()
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
  const log = await openKafkaLog({ brokers, clientId: 'bench' })
  try {
    const suffix = `${process.pid}-${Date.now()}`
    const topics = { ours: `bench-ours-${suffix}`, raw: `bench-raw-${suffix}`, warm: `bench-warm-${suffix}` }
    await log.admin.createTopic({ name: topics.warm, partitions: options.partitions })
    // Warm both paths (JIT, connections, metadata) before measuring.
    const warm = Math.min(50_000, options.records)
    await measureLog(log, topics.warm, warm, options.batch)
    await rawProduce(brokers, topics.warm, warm, options.batch)

    // Alternate ceiling and ours over rounds and keep the best of each: the machine is noisy.
    let ceiling = { produce: 0, consume: 0 }
    let ours = { produce: 0, consume: 0 }
    for (let round = 0; round < options.rounds; round++) {
      const raw = `${topics.raw}-${round}`
      const own = `${topics.ours}-${round}`
      await log.admin.createTopic({ name: raw, partitions: options.partitions })
      await log.admin.createTopic({ name: own, partitions: options.partitions })
      const rawProduced = await rawProduce(brokers, raw, options.records, options.batch)
      const rawConsumed = await rawConsume(brokers, raw, options.records)
      const measured = await measureLog(log, own, options.records, options.batch)
      ceiling = { produce: Math.max(ceiling.produce, rawProduced), consume: Math.max(ceiling.consume, rawConsumed) }
      ours = { produce: Math.max(ours.produce, measured.produce), consume: Math.max(ours.consume, measured.consume) }
      await log.admin.deleteTopic(raw).catch(() => {})
      await log.admin.deleteTopic(own).catch(() => {})
    }
    report({ bench: 'log', backend: 'kafka', phase: 'produce', records: options.records, perSec: ours.produce, ceilingPerSec: ceiling.produce }, options.json)
    report({ bench: 'log', backend: 'kafka', phase: 'consume', records: options.records, perSec: ours.consume, ceilingPerSec: ceiling.consume }, options.json)
    await log.admin.deleteTopic(topics.warm).catch(() => {})
  } finally {
    await log.close()
    if (started) spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'stop'], { stdio: 'inherit' })
  }
}
