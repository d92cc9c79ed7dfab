import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '../../src/core/logger.ts'
import { openLog, type Log } from '../../src/log/index.ts'
import { JobController } from '../../src/ingest/controller.ts'
import { JobDriver, type DriverStatus } from '../../src/ingest/driver.ts'
import { ingestRoutes } from '../../src/ingest/http-routes.ts'
import { parseJobConfig } from '../../src/ingest/job-config.ts'
import { registerLog } from '../../src/pipeline/connectors/index.ts'
import { startHttpServer, type HttpServer } from '../../src/server/index.ts'

const quiet = createLogger({ level: 'silent' })
const uid = `${process.pid}-${Date.now().toString(36)}`

describe('ingest HTTP routes and metrics', () => {
  let log: Log
  let unregister: () => void
  let server: HttpServer
  let jobs: JobController
  let dir: string
  const name = `web-${uid}`
  const topic = `web-in-${uid}`
  before(async () => {
    const url = `memory:ingest-http-${uid}`
    log = await openLog('memory:')
    unregister = registerLog(url, log)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-ingest-http-'))
    await log.admin.createTopic({ name: topic, partitions: 2 })
    jobs = new JobController({
      logger: quiet,
      driver: (job) => new JobDriver(job, { logUrl: url, stateDir: dir, logger: quiet, restartIntervalMs: 50, sink: () => ({ description: 'memory', open: async () => {}, save: async () => {}, close: async () => {} }) }),
    })
    const job = parseJobConfig({
      job: name,
      version: 3,
      aresTableConfig: { schema: { name: 'web', columns: [{ name: 'id', type: 'BigEnum' }, { name: 'n', type: 'Int32' }], primaryKeyColumns: [0] } },
      streamConfig: { topic, latestOffset: false, processorCount: 2, batchSize: 10, maxBatchDelayMS: 100 },
    })
    await jobs.apply([job])
    server = await startHttpServer({ port: 0, routes: [ingestRoutes(jobs, { metrics: true, instance: 'inst-a' })] })
  })
  after(async () => {
    await server?.close()
    await jobs?.stop()
    unregister()
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const get = async (p: string): Promise<{ status: number; body: any }> => {
    const r = await fetch(`${server.url}${p}`)
    return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text() }
  }

  it('serves AresDB-shaped status, readable errors, restarts, and per-job metrics', async () => {
    await log.producer().send([
      { topic, key: 'a', value: JSON.stringify({ id: 'a', n: 1 }) },
      { topic, key: 'b', value: JSON.stringify({ n: 2 }) },
      { topic, key: 'c', value: '{oops' },
    ])
    const driver = jobs.driver(name)!
    await driver.waitFor((s) => s.runningProcessors === 2 && Object.values(s.processorContext).reduce((n, p) => n + p.failedMessages, 0) === 2)

    const list = await get('/v1/jobs')
    assert.equal(list.status, 200)
    assert.equal(list.body.instance, 'inst-a')
    assert.deepEqual(list.body.jobs.map((j: DriverStatus) => j.jobName), [name])
    const one = await get(`/v1/jobs/${name}`)
    assert.equal(one.status, 200)
    const s = one.body as DriverStatus
    for (const field of ['totalProcessors', 'runningProcessors', 'stoppedProcessors', 'failedProcessors', 'restartingProcessors', 'topic', 'startTime', 'jobName', 'processorContext']) assert.ok(field in s, field)
    assert.equal(s.totalProcessors, 2)
    assert.equal(s.version, 3)
    const ctx = Object.values(s.processorContext)
    assert.equal(ctx.reduce((n, p) => n + p.totalMessages, 0), 3)
    for (const p of ctx) for (const f of ['startTime', 'totalMessages', 'failedMessages', 'stopped', 'shutdown', 'errors', 'lastUpdated', 'restartCount', 'restarting', 'restartTime']) assert.ok(f in p, f)

    const missing = await get('/v1/jobs/nope')
    assert.equal(missing.status, 404)
    assert.match(missing.body.error, new RegExp(`no job "nope" on this instance; jobs: ${name}`))

    const restart = await fetch(`${server.url}/v1/jobs/${name}/restart?processor=1`, { method: 'POST' })
    assert.equal(restart.status, 202)
    assert.deepEqual(await restart.json(), { job: name, restarted: [1] })
    await driver.waitFor((st) => st.processorContext['1'].restartCount === 1 && st.runningProcessors === 2)
    const bad = await fetch(`${server.url}/v1/jobs/${name}/restart?processor=7`, { method: 'POST' })
    assert.equal(bad.status, 400)
    assert.match(((await bad.json()) as { error: string }).error, /processor "7" is not one of/)

    const metrics = (await get('/metrics')).body as string
    const value = (re: RegExp): number => [...metrics.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0)
    assert.equal(value(new RegExp(`tributary_ingest_rejected_rows_total\\{job="${name}",processor="\\d",reason="null_primary_key"\\} (\\d+)`, 'g')), 1)
    assert.equal(value(new RegExp(`tributary_ingest_rejected_rows_total\\{job="${name}",processor="\\d",reason="not_json"\\} (\\d+)`, 'g')), 1)
    assert.equal(value(new RegExp(`tributary_ingest_saved_rows_total\\{job="${name}",processor="\\d"\\} (\\d+)`, 'g')), 1)
    assert.equal(value(new RegExp(`tributary_ingest_dead_lettered_rows_total\\{job="${name}",processor="\\d",cause="rejected"\\} (\\d+)`, 'g')), 2)
    assert.equal(value(new RegExp(`tributary_ingest_restarts_total\\{job="${name}",processor="1"\\} (\\d+)`, 'g')), 1)
    assert.equal(value(new RegExp(`tributary_ingest_processors\\{job="${name}",state="running"\\} (\\d+)`, 'g')), 2)
    assert.equal(value(new RegExp(`tributary_ingest_processor_messages\\{job="${name}",processor="\\d"\\} (\\d+)`, 'g')), 3)
  })
})
