import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '../../src/core/logger.ts'
import { openLog, type Log } from '../../src/log/index.ts'
import { JobDriver } from '../../src/ingest/driver.ts'
import { parseJobConfig, type JobConfig } from '../../src/ingest/job-config.ts'
import { RetryFailureHandler } from '../../src/ingest/retry-handler.ts'
import { PostgresSink } from '../../src/ingest/sinks/postgres-sink.ts'
import type { IngestSink } from '../../src/ingest/sinks/sink.ts'
import { registerLog } from '../../src/pipeline/connectors/index.ts'
import { recordFromJson } from '../../src/pipeline/record.ts'
import { query, startPostgres, type PostgresServer } from '../helpers/postgres.ts'
import { uid, useMemoryLog, waiter } from './helpers.ts'

const quiet = createLogger({ level: 'silent' })

function job(topic: string, stream: object = {}): JobConfig {
  return parseJobConfig({
    job: `fail-${uid()}`,
    aresTableConfig: {
      schema: { name: 'counts', columns: [{ name: 'id', type: 'BigEnum' }, { name: 'n', type: 'Int64' }], primaryKeyColumns: [0] },
      updateMode: { n: 'addition' },
    },
    streamConfig: { topic, latestOffset: false, processorCount: 1, batchSize: 100, maxBatchDelayMS: 100, ...stream },
  })
}

const until = waiter(30_000, 25)

async function dlqCount(log: Log, topic: string): Promise<number> {
  if (!(await log.admin.listTopics()).includes(topic)) return 0
  return (await log.offsets.endOffsets(topic)).reduce((a, b) => a + b, 0)
}

async function dlqErrors(log: Log, topic: string): Promise<string[]> {
  const total = await dlqCount(log, topic)
  const reader = log.reader({ topic, from: 'earliest' })
  const out: string[] = []
  try {
    while (out.length < total) for (const r of await reader.poll({ timeoutMs: 500 })) out.push(recordFromJson(r.value as Buffer).metadata['conduit.dlq.nack.error'])
  } finally {
    await reader.close()
  }
  return out
}

const committed = async (log: Log, group: string, topic: string): Promise<number> => (await log.offsets.committed(group, topic)).reduce((n, o) => n + o.offset, 0)

/** A sink that fails every save while `down` is set. */
function switchableSink(): IngestSink & { down: boolean; saves: number } {
  return {
    description: 'a switchable sink',
    down: true,
    saves: 0,
    open: async () => {},
    async save() {
      this.saves++
      if (this.down) throw new Error('connection refused')
    },
    close: async () => {},
  }
}

describe('ingestion job failures', () => {
  const env = useMemoryLog('ingest-fail')

  describe('PostgreSQL down for longer than the retry window', () => {
    let server: PostgresServer
    let db: string
    before(async () => {
      server = await startPostgres({ private: true })
      db = await server.database()
    })
    after(async () => server?.stop())

    it('puts the batch in the DLQ with the error, commits it only then, and carries on once the server is back', async () => {
      const topic = `pg-down-${uid()}`
      await env.log.admin.createTopic({ name: topic, partitions: 1 })
      const j = job(topic)
      const table = `counts_down`
      let saves = 0
      const retry = (): RetryFailureHandler => {
        const handler = new RetryFailureHandler({ initRetryIntervalInSeconds: 0.2, multiplier: 1.5, maxRetryMinutes: 1.5 / 60 })
        const handle = handler.handle.bind(handler)
        handler.handle = (first, save, signal) => handle(first, () => (saves++, save()), signal)
        return handler
      }
      const driver = new JobDriver(j, { logUrl: env.url, sink: (jc) => new PostgresSink(jc, { url: db, table }), stateDir: env.tempDir(), logger: quiet, retryHandler: retry })
      try {
        driver.start()
        await env.log.producer().send([{ topic, key: 'k', value: JSON.stringify({ id: 'before', n: 1 }) }])
        await until('the row before the outage', async () => (await committed(env.log, driver.groupId, topic)) === 1)
        server.halt()
        await env.log.producer().send([1, 2, 3].map((i) => ({ topic, key: 'k', value: JSON.stringify({ id: `a${i}`, n: i }) })))
        // While it retries, nothing is committed and nothing is in the DLQ yet.
        await until('a retry', () => saves >= 2)
        assert.equal(await committed(env.log, driver.groupId, topic), 1)
        assert.equal(await dlqCount(env.log, `${j.job}-dlq`), 0)
        // Once the window is used up: the batch is in the DLQ, and only then committed.
        await until('the commit', async () => (await committed(env.log, driver.groupId, topic)) === 4)
        const errors = await dlqErrors(env.log, `${j.job}-dlq`)
        assert.equal(errors.length, 3)
        assert.match(errors[0], new RegExp(`job ${j.job}: postgresql`))
        const status = driver.status().processorContext['0']
        assert.equal(status.failedMessages, 3)
        assert.ok(status.errors.length >= 1 && typeof status.errors[0].message === 'string')
        // The server comes back: later messages land.
        server.resume()
        await env.log.producer().send([{ topic, key: 'k', value: JSON.stringify({ id: 'b', n: 7 }) }])
        await until('the row after the outage', async () => {
          const rows = await query(db, `SELECT id, n::int FROM ${table}`).catch(() => [])
          return rows.length === 2 && rows
        })
        assert.deepEqual(await query(db, `SELECT id, n::int FROM ${table} ORDER BY id`), [{ id: 'b', n: 7 }, { id: 'before', n: 1 }])
        await until('the last commit', async () => (await committed(env.log, driver.groupId, topic)) === 5)
      } finally {
        await driver.stop()
      }
    })
  })

  it('a failing DLQ write commits nothing and stops the processor as failed', async () => {
    const topic = `dlq-down-${uid()}`
    await env.log.admin.createTopic({ name: topic, partitions: 1 })
    const j = job(topic, { restartOnFailure: false })
    const dlqUrl = `memory:ingest-dlq-${uid()}`
    const dlqLog = await openLog('memory:')
    const unregisterDlq = registerLog(dlqUrl, dlqLog)
    const sink = switchableSink()
    sink.down = false
    const driver = new JobDriver(j, { logUrl: env.url, dlqUrl, sink: () => sink, stateDir: env.tempDir(), logger: quiet })
    try {
      driver.start()
      await env.log.producer().send([{ topic, key: 'k', value: JSON.stringify({ id: 'x', n: 1 }) }])
      await until('the first commit', async () => (await committed(env.log, driver.groupId, topic)) === 1)
      // The DLQ's log goes away under the running processor: the next dead letter cannot be written.
      await dlqLog.close()
      await env.log.producer().send([{ topic, key: 'k', value: '{not json' }, { topic, key: 'k', value: JSON.stringify({ id: 'y', n: 1 }) }])
      const status = await driver.waitFor((s) => s.failedProcessors === 1, 20_000)
      assert.equal(status.runningProcessors, 0)
      assert.ok(['degraded', 'stopped'].includes(status.processorContext['0'].state))
      assert.ok(status.processorContext['0'].errors.some((e) => /closed/i.test(e.message)), JSON.stringify(status.processorContext['0'].errors))
      // Neither the bad message nor the good one after it is committed.
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(await committed(env.log, driver.groupId, topic), 1)
      assert.equal(driver.status().failedProcessors, 1)
    } finally {
      await driver.stop()
      unregisterDlq()
    }
  })

  it('errorThreshold errors restart the processor after restartInterval when restartOnFailure is on', async () => {
    const topic = `restart-${uid()}`
    await env.log.admin.createTopic({ name: topic, partitions: 1 })
    const j = job(topic, { errorThreshold: 2, batchSize: 1 })
    const sink = switchableSink()
    const driver = new JobDriver(j, {
      logUrl: env.url,
      sink: () => sink,
      stateDir: env.tempDir(),
      logger: quiet,
      restartIntervalMs: 300,
      retryHandler: () => new RetryFailureHandler({ initRetryIntervalInSeconds: 0.01, multiplier: 1, maxRetryMinutes: 0.0005 }),
    })
    try {
      driver.start()
      await env.log.producer().send([1, 2].map((i) => ({ topic, key: 'k', value: JSON.stringify({ id: `r${i}`, n: i }) })))
      const restarting = await driver.waitFor((s) => s.processorContext['0']?.restartCount === 1)
      assert.equal(restarting.processorContext['0'].restarting, true)
      const t0 = Date.now()
      sink.down = false
      const back = await driver.waitFor((s) => s.runningProcessors === 1 && !s.processorContext['0'].restarting)
      assert.ok(Date.now() - t0 >= 150, 'waited for restartInterval')
      assert.equal(back.processorContext['0'].restartCount, 1)
      assert.equal(back.processorContext['0'].failedMessages, 2)
      await env.log.producer().send([{ topic, key: 'k', value: JSON.stringify({ id: 'r3', n: 3 }) }])
      await until('the commit after the restart', async () => (await committed(env.log, driver.groupId, topic)) === 3)
    } finally {
      await driver.stop()
    }
  })

  it('errorThreshold errors stop the processor for good when restartOnFailure is off', async () => {
    const topic = `norestart-${uid()}`
    await env.log.admin.createTopic({ name: topic, partitions: 1 })
    const j = job(topic, { errorThreshold: 2, batchSize: 1, restartOnFailure: false })
    const sink = switchableSink()
    const driver = new JobDriver(j, {
      logUrl: env.url,
      sink: () => sink,
      stateDir: env.tempDir(),
      logger: quiet,
      restartIntervalMs: 100,
      statusCheckIntervalMs: 50,
      retryHandler: () => new RetryFailureHandler({ initRetryIntervalInSeconds: 0.01, multiplier: 1, maxRetryMinutes: 0.0005 }),
    })
    try {
      driver.start()
      await env.log.producer().send([1, 2, 3, 4].map((i) => ({ topic, key: 'k', value: JSON.stringify({ id: `s${i}`, n: i }) })))
      await driver.waitFor((s) => s.processorContext['0']?.state === 'stopped')
      // Several status checks later it is still stopped and was never restarted.
      await new Promise((r) => setTimeout(r, 400))
      const s = driver.status()
      assert.equal(s.processorContext['0'].state, 'stopped')
      assert.equal(s.processorContext['0'].restartCount, 0)
      assert.equal(s.runningProcessors, 0)
      assert.ok(s.processorContext['0'].errors.length >= 2)
    } finally {
      await driver.stop()
    }
  })
})
