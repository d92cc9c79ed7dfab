import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createLogger } from '../../src/core/logger.ts'
import { openLog, type Log } from '../../src/log/index.ts'
import { JobDriver } from '../../src/ingest/driver.ts'
import { parseJobConfig, type JobConfig } from '../../src/ingest/job-config.ts'
import { RowMapper, type Row } from '../../src/ingest/row-mapper.ts'
import { RetryFailureHandler } from '../../src/ingest/retry-handler.ts'
import { PostgresSink } from '../../src/ingest/sinks/postgres-sink.ts'
import type { IngestSink } from '../../src/ingest/sinks/sink.ts'
import { registerLog } from '../../src/pipeline/connectors/index.ts'
import { recordFromJson } from '../../src/pipeline/record.ts'
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts'
import { uid } from './helpers.ts'

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const quiet = createLogger({ level: 'silent' })

function scoresJob(topic: string, processorCount: number): JobConfig {
  return parseJobConfig({
    job: `scores-${uid()}`,
    aresTableConfig: {
      schema: {
        name: 'scores',
        columns: [
          { name: 'player', type: 'BigEnum' },
          { name: 'points', type: 'Int64' },
          { name: 'best', type: 'Uint32' },
          { name: 'team', type: 'SmallEnum', defaultValue: 'none' },
        ],
        primaryKeyColumns: [0],
      },
      updateMode: { points: 'addition', best: 'max' },
    },
    streamConfig: { topic, latestOffset: false, processorCount, batchSize: 500, maxBatchDelayMS: 100, failureHandler: { config: { initRetryIntervalInSeconds: 1, maxRetryMinutes: 1 } } },
  })
}

/** The DLQ topic's records, decoded from OpenCDC JSON. */
async function dlqRecords(log: Log, topic: string): Promise<ReturnType<typeof recordFromJson>[]> {
  const total = (await log.offsets.endOffsets(topic)).reduce((a, b) => a + b, 0)
  const reader = log.reader({ topic, from: 'earliest' })
  const out: ReturnType<typeof recordFromJson>[] = []
  try {
    while (out.length < total) for (const r of await reader.poll({ timeoutMs: 500 })) out.push(recordFromJson(r.value as Buffer))
  } finally {
    await reader.close()
  }
  return out
}

describe('ingestion job driver', () => {
  let server: PostgresServer
  let db: string
  let client: pg.Client
  const stateDirs: string[] = []
  const stateDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-ingest-'))
    stateDirs.push(d)
    return d
  }
  before(async () => {
    server = await startPostgres()
    db = await server.database()
    client = new pg.Client({ connectionString: db })
    await client.connect()
  })
  after(async () => {
    await client?.end()
    await server?.stop()
    for (const d of stateDirs) fs.rmSync(d, { recursive: true, force: true })
  })

  for (const backend of ['memory', 'kafka'] as const) {
    it(`lands the exact rows with every update mode from the ${backend} log, and sends bad messages to the DLQ with their reason`, async () => {
      const url = backend === 'memory' ? `memory:ingest-${uid()}` : `kafka://${brokers}`
      const log = await openLog(backend === 'memory' ? 'memory:' : url)
      const unregister = backend === 'memory' ? registerLog(url, log) : () => {}
      const topic = `scores-in-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 4 })
      const job = scoresJob(topic, 2)
      const table = `scores_${backend}_${process.pid}`
      const messages: (string | object)[] = []
      const expected = new Map<string, { points: number; best: number }>()
      for (let i = 0; i < 2000; i++) {
        const player = `p${i % 50}`
        const m = { player, points: i % 7, best: i % 101 }
        messages.push(m)
        const e = expected.get(player) ?? { points: 0, best: 0 }
        expected.set(player, { points: e.points + m.points, best: Math.max(e.best, m.best) })
      }
      messages.push('{not json', { points: 3 }, { player: 'x', best: -1 })
      await log.producer().send(messages.map((m, i) => ({ topic, key: `k${i % 50}`, value: typeof m === 'string' ? m : JSON.stringify(m) })))
      const rejects: string[] = []
      const driver = new JobDriver(job, { logUrl: url, sink: (j) => new PostgresSink(j, { url: db, table }), stateDir: stateDir(), logger: quiet, onReject: (r) => rejects.push(r) })
      try {
        driver.start()
        // Done when the group has committed every message (rows landed or dead-lettered) and both processors run.
        const deadline = Date.now() + 60_000
        while ((await log.offsets.lag(driver.groupId, topic)).reduce((n, p) => n + p.lag, 0) > 0) {
          assert.ok(Date.now() < deadline, `lag still ${JSON.stringify(await log.offsets.lag(driver.groupId, topic))}`)
          await new Promise((r) => setTimeout(r, 50))
        }
        const status = await driver.waitFor((s) => s.runningProcessors === 2, 30_000)
        assert.equal(status.totalProcessors, 2)
        assert.equal(status.runningProcessors, 2, JSON.stringify(status))
        const rows = await client.query(`SELECT player, points::int, best::int, team FROM ${table} ORDER BY player`)
        assert.equal(rows.rowCount, 50)
        for (const r of rows.rows) assert.deepEqual({ points: r.points, best: r.best, team: r.team }, { ...expected.get(r.player), team: 'none' }, r.player)
        assert.deepEqual([...new Set(rejects)].sort(), ['bad_value', 'not_json', 'null_primary_key'])
        // A rebalance may re-deliver a bad message (at-least-once): count distinct messages.
        const dlq = [...new Map((await dlqRecords(log, `${job.job}-dlq`)).map((r) => [JSON.stringify((r.payload.after as { position?: unknown }).position), r])).values()]
        assert.equal(dlq.length, 3)
        const errors = dlq.map((r) => r.metadata['conduit.dlq.nack.error']).sort()
        assert.match(errors.join('\n'), /column best: Uint32 value -1 is outside/)
        assert.match(errors.join('\n'), /primary key column player is null/)
        assert.match(errors.join('\n'), new RegExp(`message ${topic}/\\d@\\d+: not JSON`))
        await driver.stop()
        // Offsets: everything committed (rows landed or dead-lettered), so a new driver reads nothing again.
        const committed = (await log.offsets.committed(driver.groupId, topic)).reduce((n, o) => n + o.offset, 0)
        assert.equal(committed, messages.length)
      } finally {
        await driver.stop()
        unregister()
        await log.close()
      }
      await client.query(`DROP TABLE ${table}`)
    })
  }

  it('the PostgreSQL sink applies each source offset once: a replayed batch does not add twice', async () => {
    const job = scoresJob('replayed', 1)
    const table = `scores_replay_${process.pid}`
    const sink = new PostgresSink(job, { url: db, table })
    await sink.open()
    const mapper = new RowMapper(job.rules)
    const row = (m: object): Row => {
      const r = mapper.map(m)
      assert.ok(r.ok)
      return r.row
    }
    const rows = [row({ player: 'ann', points: 5, best: 1 }), row({ player: 'ann', points: 2, best: 3 }), row({ player: 'bob', points: 1 })]
    const origins = rows.map((_, i) => ({ topic: 'replayed', partition: 0, offset: 10 + i }))
    await sink.save(rows, undefined, origins)
    await sink.save(rows, undefined, origins) // a crash before the commit: the whole batch again
    await sink.save([row({ player: 'ann', points: 100 }), row({ player: 'bob', points: 1 })], undefined, [{ topic: 'replayed', partition: 0, offset: 12 }, { topic: 'replayed', partition: 0, offset: 13 }])
    const res = await client.query(`SELECT player, points::int FROM ${table} ORDER BY player`)
    assert.deepEqual(res.rows, [{ player: 'ann', points: 7 }, { player: 'bob', points: 2 }])
    await sink.close()
    await client.query(`DROP TABLE ${table}`)
  })

  it('a batch that still fails after the retry window goes to the DLQ, and only then is committed; a failing DLQ commits nothing', async () => {
    const url = `memory:ingest-${uid()}`
    const log = await openLog('memory:')
    const unregister = registerLog(url, log)
    const topic = `fail-in-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    const job = scoresJob(topic, 1)
    await log.producer().send([1, 2, 3].map((i) => ({ topic, key: 'k', value: JSON.stringify({ player: `p${i}`, points: i }) })))
    let saves = 0
    const failing: IngestSink = {
      description: 'a sink that is down',
      open: async () => {},
      save: async () => {
        saves++
        throw new Error('connection refused')
      },
      close: async () => {},
    }
    const driver = new JobDriver(job, {
      logUrl: url,
      sink: () => failing,
      stateDir: stateDir(),
      logger: quiet,
      retryHandler: () => new RetryFailureHandler({ initRetryIntervalInSeconds: 0.01, multiplier: 2, maxRetryMinutes: 0.001 }),
    })
    try {
      driver.start()
      await driver.waitFor((s) => s.processorContext['0']?.failedMessages === 3, 20_000)
      assert.ok(saves >= 3, `retried (${saves} saves)`)
      const dlq = await dlqRecords(log, `${job.job}-dlq`)
      assert.equal(dlq.length, 3)
      assert.match(dlq[0].metadata['conduit.dlq.nack.error'], /a sink that is down: connection refused/)
      await driver.waitFor(() => true)
      const offsets = await log.offsets.committed(driver.groupId, topic)
      assert.equal(offsets[0]?.offset, 3)
      assert.ok(driver.status().processorContext['0'].errors.some((e) => /connection refused/.test(e.message)))
    } finally {
      await driver.stop()
      unregister()
      await log.close()
    }
  })
})
