/**
 * `bench log --backend kafka`: our Kafka backend beside the Java client (`kafka-clients`, see
 * kafka-java-ceiling.ts) doing the same work on the same broker in the same run — the ceiling and
 * the ratio — with the raw `@platformatic/kafka` producer and consumer (same settings: idempotent,
 * acks=all, same batch size, same partitions) as context.
 *
 * Phases, each on a fresh topic: `produce-pipelined` (every send issued without waiting, then
 * flush), `produce` (each send of `batch` records awaited before the next) and `consume` (a fresh
 * group from the earliest offset, timed from before the join). Rounds alternate ours and the Java
 * client (who goes first alternates too); the median of each side is reported with its per-round
 * spread. Starts the project's broker when `KAFKA_BROKERS` is not set.
 * @module
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Consumer, Producer } from '@platformatic/kafka'
import type { ProduceRecord } from '../core/record.ts'
import { openKafkaLog } from '../log/kafka/index.ts'
import type { Log } from '../log/types.ts'
import { compileJavaCeiling, JAVA_PHASES, JavaCeiling, kafkaLibsDir, type JavaPhase } from './kafka-java-ceiling.ts'
import { benchData, measureLog, type LogBenchOptions } from './log-bench.ts'
import { rate, report } from './report.ts'

const root = path.resolve(import.meta.dirname, '../..')

function startBroker(): boolean {
  if (process.env.KAFKA_BROKERS) return false
  const start = spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'start'], { stdio: ['ignore', 'pipe', 'inherit'] })
  if (start.status !== 0) throw new Error('bench: could not start the Kafka broker (scripts/kafka.sh start); set KAFKA_BROKERS to use a running one')
  return true
}

/** Ours with sends pipelined: every `send` issued without waiting, then flush; timed until all are acknowledged. */
async function producePipelined(log: Log, topic: string, records: number, batch: number): Promise<number> {
  const { keys, value } = benchData()
  const producer = log.producer()
  try {
    const start = process.hrtime.bigint()
    const pending: Promise<unknown>[] = []
    for (let sent = 0; sent < records; ) {
      const n = Math.min(batch, records - sent)
      const chunk: ProduceRecord[] = new Array(n)
      for (let i = 0; i < n; i++) chunk[i] = { topic, key: keys[(sent + i) % keys.length], value }
      pending.push(producer.send(chunk))
      sent += n
    }
    await Promise.all(pending)
    await producer.flush()
    return rate(records, start, process.hrtime.bigint())
  } finally {
    await producer.close()
  }
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2)
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000
const fmt = (x: number): string => x.toLocaleString('en')

/** `kafka-clients <version>` from the jar in the libs directory. */
function clientLabel(libsDir: string): string {
  const jar = fs.readdirSync(libsDir).find((name) => /kafka-clients-[\d.]+\.jar$/.test(name))
  return `Java kafka-clients ${jar?.match(/kafka-clients-([\d.]+)\.jar$/)?.[1] ?? '?'} (src/bench/java/KafkaClientCeiling.java)`
}

/** Runs the Kafka half of `bench log`. */
export async function runKafkaLogBench(options: LogBenchOptions & { batch: number; partitions: number; rounds: number }): Promise<void> {
  const libsDir = kafkaLibsDir()
  const classDir = compileJavaCeiling({ libsDir })
  const started = startBroker()
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
  const log = await openKafkaLog({ brokers, clientId: 'bench' })
  let javaCeiling: JavaCeiling | undefined
  try {
    const suffix = `${process.pid}-${Date.now()}`
    const warmTopics = [`bench-warm-${suffix}`, `bench-warm-pipelined-${suffix}`]
    for (const name of warmTopics) await log.admin.createTopic({ name, partitions: options.partitions })
    // Warm ours and the raw client (JIT, connections, metadata) before measuring; the Java client
    // warms up the same way, with as many records per phase, in its JVM, which then stays up for
    // every round as our process does.
    const warm = Math.min(50_000, options.records)
    await producePipelined(log, warmTopics[1], warm, options.batch)
    await measureLog(log, warmTopics[0], warm, options.batch)
    await rawProduce(brokers, warmTopics[0], warm, options.batch)
    javaCeiling = await JavaCeiling.start({ libsDir, classDir, brokers: brokers.join(','), topicPrefix: `bench-java-${suffix}`, records: options.records, warm, batch: options.batch, partitions: options.partitions })
    const ceilingProgram = javaCeiling

    const ours: Record<JavaPhase, number[]> = { 'produce-pipelined': [], produce: [], consume: [] }
    const java: Record<JavaPhase, number[]> = { 'produce-pipelined': [], produce: [], consume: [] }
    const raw: { produce: number[]; consume: number[] } = { produce: [], consume: [] }
    for (let round = 0; round < options.rounds; round++) {
      const runOurs = async (): Promise<void> => {
        const names = [`bench-ours-pipelined-${suffix}-${round}`, `bench-ours-${suffix}-${round}`]
        for (const name of names) await log.admin.createTopic({ name, partitions: options.partitions })
        ours['produce-pipelined'].push(await producePipelined(log, names[0], options.records, options.batch))
        const measured = await measureLog(log, names[1], options.records, options.batch)
        ours.produce.push(measured.produce)
        ours.consume.push(measured.consume)
        for (const name of names) await log.admin.deleteTopic(name).catch(() => {})
      }
      const runJava = async (): Promise<void> => {
        const measured = await ceilingProgram.round()
        for (const phase of JAVA_PHASES) java[phase].push(measured[phase].perSec)
      }
      // Alternate who goes first: neither always gets the fresher broker.
      if (round % 2 === 0) {
        await runOurs()
        await runJava()
      } else {
        await runJava()
        await runOurs()
      }
      const rawTopic = `bench-raw-${suffix}-${round}`
      await log.admin.createTopic({ name: rawTopic, partitions: options.partitions })
      raw.produce.push(await rawProduce(brokers, rawTopic, options.records, options.batch))
      raw.consume.push(await rawConsume(brokers, rawTopic, options.records))
      await log.admin.deleteTopic(rawTopic).catch(() => {})
    }
    const ceiling = clientLabel(libsDir)
    for (const phase of JAVA_PHASES) {
      const ratios = ours[phase].map((perSec, i) => perSec / java[phase][i])
      const rawPhase = phase === 'produce-pipelined' ? undefined : raw[phase]
      report(
        {
          bench: 'log',
          backend: 'kafka',
          phase,
          records: options.records,
          perSec: median(ours[phase]),
          ceilingPerSec: median(java[phase]),
          ceiling,
          rounds: options.rounds,
          oursPerSecRounds: ours[phase],
          ceilingPerSecRounds: java[phase],
          ratioMin: round3(Math.min(...ratios)),
          ratioMax: round3(Math.max(...ratios)),
          ...(rawPhase ? { platformaticPerSec: median(rawPhase) } : {}),
        },
        options.json,
      )
      if (!options.json) {
        const spread = (values: number[]): string => `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`
        console.log(`${''.padEnd(22)} medians of ${options.rounds} rounds; spread: ours ${spread(ours[phase])}, Java ${spread(java[phase])}, ratio ${round3(Math.min(...ratios))}–${round3(Math.max(...ratios))}`)
        if (rawPhase) console.log(`${''.padEnd(22)} context: raw @platformatic/kafka ${fmt(median(rawPhase))} rec/s (ours / raw ${round3(median(ours[phase]) / median(rawPhase))})`)
      }
    }
    for (const name of warmTopics) await log.admin.deleteTopic(name).catch(() => {})
    await javaCeiling.close()
  } finally {
    await javaCeiling?.close().catch(() => {})
    await log.close()
    if (started) spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'stop'], { stdio: 'inherit' })
  }
}
