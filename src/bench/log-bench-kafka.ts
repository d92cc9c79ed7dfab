/**
 * `bench log --backend kafka`: our Kafka backend beside Kafka's own Java performance tools
 * (`ProducerPerformance`, `ConsumerPerformance`; see kafka-java-ceiling.ts) doing the same work on
 * the same broker in the same run — the ceiling and the ratio — with the raw `@platformatic/kafka`
 * producer and consumer (same settings: idempotent, acks=all, same batch size, same partitions) as
 * context. Rounds alternate which goes first; the best of each is kept (the machine is noisy).
 * Starts the project's broker when `KAFKA_BROKERS` is not set.
 * @module
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { Consumer, Producer } from '@platformatic/kafka'
import { openKafkaLog } from '../log/kafka/index.ts'
import { javaConsume, javaProduce, kafkaToolsDir, type JavaCeilingRound } from './kafka-java-ceiling.ts'
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
  const toolsDir = kafkaToolsDir()
  try {
    const suffix = `${process.pid}-${Date.now()}`
    const topics = { ours: `bench-ours-${suffix}`, raw: `bench-raw-${suffix}`, java: `bench-java-${suffix}`, warm: `bench-warm-${suffix}` }
    await log.admin.createTopic({ name: topics.warm, partitions: options.partitions })
    // Warm ours and the raw client (JIT, connections, metadata) before measuring; the Java tools
    // warm up the same way, with as many records, in their own JVM before each measured run.
    const warm = Math.min(50_000, options.records)
    await measureLog(log, topics.warm, warm, options.batch)
    await rawProduce(brokers, topics.warm, warm, options.batch)

    let java = { produce: 0, consume: 0 }
    let raw = { produce: 0, consume: 0 }
    let ours = { produce: 0, consume: 0 }
    for (let round = 0; round < options.rounds; round++) {
      const names = { java: `${topics.java}-${round}`, raw: `${topics.raw}-${round}`, ours: `${topics.ours}-${round}` }
      for (const name of Object.values(names)) await log.admin.createTopic({ name, partitions: options.partitions })
      const ceilingRound: JavaCeilingRound = { toolsDir, brokers: brokers.join(','), warmTopic: topics.warm, warmRecords: warm, topic: names.java, records: options.records, batch: options.batch, partitions: options.partitions }
      const runJava = (): void => {
        java = { produce: Math.max(java.produce, javaProduce(ceilingRound)), consume: java.consume }
        java = { produce: java.produce, consume: Math.max(java.consume, javaConsume(ceilingRound)) }
      }
      const runOurs = async (): Promise<void> => {
        const measured = await measureLog(log, names.ours, options.records, options.batch)
        ours = { produce: Math.max(ours.produce, measured.produce), consume: Math.max(ours.consume, measured.consume) }
      }
      // Alternate who goes first: neither always gets the fresher broker.
      if (round % 2 === 0) {
        runJava()
        await runOurs()
      } else {
        await runOurs()
        runJava()
      }
      const rawProduced = await rawProduce(brokers, names.raw, options.records, options.batch)
      const rawConsumed = await rawConsume(brokers, names.raw, options.records)
      raw = { produce: Math.max(raw.produce, rawProduced), consume: Math.max(raw.consume, rawConsumed) }
      for (const name of Object.values(names)) await log.admin.deleteTopic(name).catch(() => {})
    }
    for (const phase of ['produce', 'consume'] as const) {
      report(
        { bench: 'log', backend: 'kafka', phase, records: options.records, perSec: ours[phase], ceilingPerSec: java[phase], ceiling: phase === 'produce' ? 'kafka-tools ProducerPerformance' : 'kafka-tools ConsumerPerformance', platformaticPerSec: raw[phase] },
        options.json,
      )
      if (!options.json) console.log(`${''.padEnd(22)} context: raw @platformatic/kafka ${phase} ${raw[phase].toLocaleString('en')} rec/s (ours / raw ${Math.round((ours[phase] / raw[phase]) * 100) / 100})`)
    }
    await log.admin.deleteTopic(topics.warm).catch(() => {})
  } finally {
    await log.close()
    if (started) spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'stop'], { stdio: 'inherit' })
  }
}
