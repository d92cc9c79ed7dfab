/**
 * The ceiling of `bench log --backend kafka`: the Java client program
 * (src/bench/java/KafkaClientCeiling.java) compiles, does every phase of our bench against the real
 * broker with exactly the records asked for, and fails naming what is wrong on bad input; the bench
 * reports ours against it per phase. The broker comes from `KAFKA_BROKERS` (default `127.0.0.1:9092`).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { compileJavaCeiling, JAVA_PHASES, JavaCeiling, kafkaLibsDir } from '../../src/bench/kafka-java-ceiling.ts'
import { openKafkaLog } from '../../src/log/kafka/index.ts'

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const main = path.join(import.meta.dirname, '../../src/cli/main.ts')

describe('Kafka client ceiling (Java)', () => {
  let libsDir = ''
  let cacheDir = ''
  before(() => {
    libsDir = kafkaLibsDir()
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-ceiling-'))
  })
  after(() => fs.rmSync(cacheDir, { recursive: true, force: true }))

  it('compiles once per source, then in one JVM warms up once and runs rounds that produce and consume exactly the records asked for, leaving no topic behind', async () => {
    const classDir = compileJavaCeiling({ libsDir, cacheDir })
    const compiled = path.join(classDir, 'KafkaClientCeiling.class')
    assert.ok(fs.existsSync(compiled), 'the class is in the cache')
    const mtime = fs.statSync(compiled).mtimeMs
    assert.equal(compileJavaCeiling({ libsDir, cacheDir, javac: '/nonexistent/javac' }), classDir, 'the same source is not compiled again')
    assert.equal(fs.statSync(compiled).mtimeMs, mtime)

    const topicPrefix = `test-ceiling-${randomUUID().slice(0, 8)}`
    const ceiling = await JavaCeiling.start({ libsDir, classDir, brokers, topicPrefix, records: 3_000, warm: 500, batch: 1_000, partitions: 4 })
    try {
      for (let round = 0; round < 2; round++) {
        const result = await ceiling.round()
        assert.deepEqual(Object.keys(result), [...JAVA_PHASES])
        for (const phase of JAVA_PHASES) {
          const { records, seconds, perSec } = result[phase]
          // `records` is what the program counted: acknowledgements, or records received (and the topic's end offsets agreed).
          assert.equal(records, 3_000, `round ${round} ${phase}: every record counted once`)
          assert.ok(seconds > 0 && Math.abs(perSec - records / seconds) <= 1, `${phase}: perSec = records / seconds`)
        }
      }
    } finally {
      await ceiling.close()
    }
    const log = await openKafkaLog({ brokers: brokers.split(','), clientId: 'test-ceiling' })
    try {
      const left = (await log.admin.listTopics()).filter((name) => name.startsWith(topicPrefix))
      assert.deepEqual(left, [], 'the program deletes the topics it created')
    } finally {
      await log.close()
    }
  })

  it('names the broker it cannot reach', async () => {
    const classDir = compileJavaCeiling({ libsDir, cacheDir })
    await assert.rejects(
      JavaCeiling.start({ libsDir, classDir, brokers: '127.0.0.1:1', topicPrefix: 'test-ceiling-unreachable', records: 10, warm: 0, batch: 10, partitions: 1 }),
      /the Kafka client ceiling failed \(exit 3\): KafkaClientCeiling: cannot reach a Kafka broker at 127\.0\.0\.1:1/,
    )
  })

  it('names a client setting the Java client rejects', async () => {
    const classDir = compileJavaCeiling({ libsDir, cacheDir })
    await assert.rejects(
      JavaCeiling.start({ libsDir, classDir, brokers, topicPrefix: `test-ceiling-${randomUUID().slice(0, 8)}`, records: 10, warm: 10, batch: 10, partitions: 1, settings: ['producer.batch.size=lots'] }),
      /the Kafka client ceiling failed .*batch\.size/s,
    )
  })

  it('names javac when it is missing', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-ceiling-'))
    try {
      assert.throws(() => compileJavaCeiling({ libsDir, cacheDir: empty, javac: '/nonexistent/javac' }), /javac not found \(\/nonexistent\/javac\).*install a JDK/)
      assert.deepEqual(fs.readdirSync(empty), [], 'no half-compiled directory is left')
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })

  it('bench log --backend kafka reports ours against the Java client per phase, with the rounds and their spread', () => {
    const run = spawnSync(process.execPath, [main, 'bench', 'log', '--backend', 'kafka', '--records', '20000', '--rounds', '2', '--json'], {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, KAFKA_BROKERS: brokers },
    })
    assert.equal(run.status, 0, run.stderr)
    const results = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { [field: string]: unknown })
    assert.deepEqual(results.map((r) => r.phase), [...JAVA_PHASES])
    for (const r of results) {
      const ours = r.oursPerSecRounds as number[]
      const java = r.ceilingPerSecRounds as number[]
      assert.equal(ours.length, 2)
      assert.equal(java.length, 2)
      assert.match(r.ceiling as string, /^Java kafka-clients \d/)
      const median = (xs: number[]): number => Math.round((xs[0] + xs[1]) / 2)
      assert.equal(r.perSec, median(ours), 'perSec is the median of our rounds')
      assert.equal(r.ceilingPerSec, median(java), 'ceilingPerSec is the median of the Java rounds')
      assert.ok(Math.abs((r.ratio as number) - (r.perSec as number) / (r.ceilingPerSec as number)) < 0.001, 'ratio = ours / Java')
      const ratios = ours.map((x, i) => x / java[i])
      assert.ok(Math.abs((r.ratioMin as number) - Math.min(...ratios)) < 0.001 && Math.abs((r.ratioMax as number) - Math.max(...ratios)) < 0.001, 'per-round ratio spread')
    }
    assert.equal(typeof results[1].platformaticPerSec, 'number', 'the raw Node client as context')
  })
})
