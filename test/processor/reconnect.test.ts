/**
 * Self-healing without user code: a processor restarts its session and a view reconnects after
 * transient consumer errors, and neither loses anything. (Broker outages on a real Kafka broker:
 * kafka-outage.test.ts.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TributaryError, codecs, createLogger } from '../../src/core/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { Emitter, Processor, View, type ViewState } from '../../src/processor/index.ts'
import { memoryStore } from '../../src/state/index.ts'
import { CommitTracker, Events, faultyLog, uid } from './helpers.ts'
import { idempotentCounter } from './processor-suite.ts'

const quiet = createLogger({ level: 'silent' })
const transient = (): Error => new TributaryError('TRIB_LOG_BROKER_UNREACHABLE', 'injected: no broker answered', { retriable: true })

describe('reconnecting after transient errors', () => {
  it('a processor whose polls fail restarts itself with backoff and counts everything once', async () => {
    const base = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    const faulty = faultyLog(base)
    try {
      const topic = `in-${uid()}`
      await base.admin.createTopic({ name: topic, partitions: 2 })
      const tracker = new CommitTracker()
      const processor = new Processor(faulty.log, idempotentCounter(`poll-${uid()}`, topic), {
        storage: memoryStore(),
        commitIntervalMs: 20,
        onCommit: tracker.onCommit,
        backoff: { initialMs: 5, maxMs: 20 },
        logger: quiet,
      })
      const states: string[] = []
      processor.observeStateChanges((s) => states.push(s))
      const run = processor.run()
      await processor.waitForReady()
      const emitter = new Emitter(base, topic, codecs.string())
      for (let i = 0; i < 200; i++) emitter.emit(`k${i % 20}`, 'x')
      await emitter.flush()
      faulty.failPolls(3, transient)
      for (let i = 0; i < 200; i++) emitter.emit(`k${i % 20}`, 'x')
      await emitter.close()
      // The failures hit the polls after the one in flight, which may already have returned the second batch.
      const deadline = Date.now() + 10_000
      while (!(states.includes('reconnecting') && states.at(-1) === 'running')) {
        assert.ok(Date.now() < deadline, `no restart after the failed polls: ${states.join(' → ')}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await tracker.caughtUp(base, topic)
      assert.ok((await processor.stats()).restarts >= 1)
      for (let i = 0; i < 20; i++) assert.equal(processor.get<{ n: number }>(`k${i}`)?.n, 20)
      await processor.stop()
      await run
    } finally {
      await base.close()
    }
  })

  it('a view whose polls fail reconnects, serving its last state meanwhile, and catches up', async () => {
    const base = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    const faulty = faultyLog(base)
    try {
      const table = `t-${uid()}-table`
      await base.admin.createTopic({ name: table, partitions: 2, cleanupPolicy: 'compact' })
      const emitter = new Emitter(base, table, codecs.json<number>())
      await emitter.emitSync('a', 1)
      const updates = new Events()
      const states: ViewState[] = []
      const view = new View(faulty.log, table, codecs.json<number>(), { storage: memoryStore(), onUpdate: updates.emit, backoff: { initialMs: 5, maxMs: 20 }, logger: quiet })
      view.observeStateChanges((s) => {
        states.push(s)
        updates.emit()
      })
      const run = view.run()
      await view.waitRunning()
      faulty.failPolls(2, transient)
      await updates.until(() => view.stats().reconnects >= 1, 10_000, 'a reconnect')
      assert.equal(view.get('a'), 1, 'served while reconnecting')
      await emitter.emitSync('a', 2)
      await emitter.emitSync('b', 3)
      await updates.until(() => view.get('a') === 2 && view.get('b') === 3, 10_000, 'catching up')
      assert.deepEqual(states.slice(0, 4), ['initializing', 'connecting', 'catching-up', 'running'])
      assert.ok(states.lastIndexOf('connecting') > states.indexOf('running'), states.join(' → '))
      await emitter.close()
      await view.stop()
      await run
    } finally {
      await base.close()
    }
  })

  it('without autoReconnect a view stops with the error', async () => {
    const base = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    const faulty = faultyLog(base)
    try {
      const table = `t-${uid()}-table`
      await base.admin.createTopic({ name: table, partitions: 1, cleanupPolicy: 'compact' })
      const view = new View(faulty.log, table, codecs.json<number>(), { storage: memoryStore(), autoReconnect: false, logger: quiet })
      faulty.failPolls(1, transient)
      await assert.rejects(view.run(), (err) => err instanceof TributaryError && err.code === 'TRIB_LOG_BROKER_UNREACHABLE')
      assert.equal(view.state, 'failed')
    } finally {
      await base.close()
    }
  })
})
