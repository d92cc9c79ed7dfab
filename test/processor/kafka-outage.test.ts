/**
 * Broker outages under a running processor and view, on a broker of this test's own (it is stopped
 * and restarted, so it cannot be the shared one): the processor recovers by itself and loses
 * nothing; the view keeps serving its last state while the broker is down and catches up after.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { codecs, createLogger } from '../../src/core/index.ts'
import type { Log } from '../../src/log/index.ts'
import { openKafkaLog } from '../../src/log/kafka/index.ts'
import { Processor, View, type ProcessorState } from '../../src/processor/index.ts'
import { freePorts } from '../log/secure-broker.ts'
import { memoryStore } from '../../src/state/index.ts'
import { CommitTracker, Events, uid } from './helpers.ts'
import { idempotentCounter } from './processor-suite.ts'

const root = path.join(import.meta.dirname, '..', '..')
// Free ports rather than fixed ones: other test files start brokers of their own at the same time.
const fixed = process.env.TRIBUTARY_OUTAGE_KAFKA_PORT
const [port, controllerPort] = fixed ? [Number(fixed), Number(fixed) + 1] : await freePorts(2)
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-outage-kafka-'))
const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controllerPort), KAFKA_WORK_DIR: workDir, KAFKA_KEEP_DATA: '1' }
const brokers = [`127.0.0.1:${port}`]

/** Runs scripts/kafka.sh <command> for this test's broker; resolves when it is done. */
function kafka(command: 'start' | 'stop' | 'restart'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(root, 'scripts/kafka.sh'), command], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kafka.sh ${command} exited ${code}: ${stderr.slice(-2000)}`))))
  })
}

describe('Kafka broker outages [slow]', { timeout: 600_000 }, () => {
  let log: Log
  let processor: Processor
  let run: Promise<void>
  let view: View<{ n: number }>
  let viewRun: Promise<void>
  const tracker = new CommitTracker()
  const updates = new Events()
  const states: ProcessorState[] = []
  const topic = `outage-in-${uid()}`
  const group = `outage-${uid()}`
  const expected = new Map<string, number>()

  /** Produces `n` records, retrying sends that fail while the broker is away. */
  async function produce(n: number): Promise<void> {
    const producer = log.producer()
    try {
      for (let i = 0; i < n; i += 100) {
        const batch = Array.from({ length: 100 }, (_, j) => ({ topic, key: `k${(i + j) % 30}`, value: 'x' }))
        for (let attempt = 0; ; attempt++) {
          try {
            await producer.send(batch)
            break
          } catch (err) {
            if (attempt > 120) throw err
            await new Promise((resolve) => setTimeout(resolve, 500))
          }
        }
        for (const r of batch) expected.set(r.key, (expected.get(r.key) ?? 0) + 1)
      }
    } finally {
      await producer.close().catch(() => {})
    }
  }

  const viewMatches = (): boolean => [...expected].every(([k, n]) => view.get(k)?.n === n)

  before(async () => {
    await kafka('start')
    log = await openKafkaLog({ brokers, connectTimeoutMs: 30_000 })
    await log.admin.createTopic({ name: topic, partitions: 3 })
    processor = new Processor(log, idempotentCounter(group, topic), {
      storage: memoryStore(),
      commitIntervalMs: 100,
      onCommit: tracker.onCommit,
      backoff: { initialMs: 200, maxMs: 2_000 },
      logger: createLogger({ level: 'error' }),
    })
    processor.observeStateChanges((s) => states.push(s))
    run = processor.run()
    await processor.waitForReady()
    view = new View(log, `${group}-table`, codecs.json<{ n: number }>(), {
      storage: memoryStore(),
      onUpdate: updates.emit,
      backoff: { initialMs: 200, maxMs: 2_000 },
      logger: createLogger({ level: 'error' }),
    })
    viewRun = view.run()
    await view.waitRunning()
  })

  after(async () => {
    await processor?.stop()
    await run?.catch(() => {})
    await view?.stop()
    await viewRun?.catch(() => {})
    await log?.close()
    spawnSync('bash', [path.join(root, 'scripts/kafka.sh'), 'stop'], { env: { ...env, KAFKA_KEEP_DATA: '0' }, stdio: 'ignore' })
    fs.rmSync(workDir, { recursive: true, force: true })
  })

  it('a processor survives a broker restart by itself and loses nothing', async () => {
    await produce(1_000)
    await tracker.caughtUp(log, topic, 60_000)
    const restarting = kafka('restart')
    await produce(1_000) // sends retry while the broker is away
    await restarting
    await produce(500)
    await tracker.caughtUp(log, topic, 180_000)
    assert.notEqual(processor.state, 'failed')
    for (const [key, n] of expected) assert.equal(processor.get<{ n: number }>(key)?.n, n, `count of ${key}`)
    assert.ok(!states.includes('failed'))
  })

  it('a view keeps serving its last state while the broker is down and catches up afterwards', async () => {
    await updates.until(viewMatches, 60_000, 'the view to match the table')
    const before = new Map([...expected].map(([k]) => [k, view.get(k)?.n]))
    await kafka('stop')
    for (const [key, n] of before) assert.equal(view.get(key)?.n, n, `view serves ${key} while the broker is down`)
    assert.ok(view.has('k1'))
    assert.equal([...view.iterator()].length, expected.size)
    await kafka('start')
    await produce(600)
    await updates.until(viewMatches, 180_000, 'the view to catch up after the outage')
    assert.notEqual(view.state, 'failed')
    await tracker.caughtUp(log, topic, 180_000)
  })
})
