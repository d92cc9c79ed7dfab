import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createLogger } from '../../src/core/logger.ts'
import { JobController } from '../../src/ingest/controller.ts'
import { DirectoryJobSource } from '../../src/ingest/directory-source.ts'
import { JobDriver } from '../../src/ingest/driver.ts'
import { HttpJobSource } from '../../src/ingest/http-source.ts'
import type { JobConfig } from '../../src/ingest/job-config.ts'
import type { IngestSink } from '../../src/ingest/sinks/sink.ts'
import type { Row } from '../../src/ingest/row-mapper.ts'
import { uid, useMemoryLog, waiter } from './helpers.ts'


/** Captures log lines (pino JSON) for assertions. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = []
  const logger = createLogger({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s).msg) })
  return { logger, lines }
}

function jobJson(name: string, topic: string, version: number, extra: object = {}): object {
  return {
    job: name,
    version,
    aresTableConfig: { schema: { name: 't', columns: [{ name: 'id', type: 'BigEnum' }, { name: 'n', type: 'Int64' }], primaryKeyColumns: [0] } },
    streamConfig: { topic, latestOffset: false, processorCount: 1, batchSize: 10, maxBatchDelayMS: 100, ...extra },
  }
}

const until = waiter(20_000, 25)

describe('ingestion controller', () => {
  const env = useMemoryLog('ingest-ctl')
  /** Rows saved per job name and version. */
  const saved = new Map<string, Row[]>()
  const controller = (logger = createLogger({ level: 'silent' })): JobController => {
    const stateDir = env.tempDir()
    return new JobController({
      logger,
      driver: (job: JobConfig) =>
        new JobDriver(job, {
          logUrl: env.url,
          stateDir: path.join(stateDir, job.job, String(job.version)),
          logger: createLogger({ level: 'silent' }),
          sink: (): IngestSink => ({
            description: 'memory',
            open: async () => {},
            save: async (rows) => void saved.set(`${job.job}@${job.version}`, [...(saved.get(`${job.job}@${job.version}`) ?? []), ...rows]),
            close: async () => {},
          }),
        }),
    })
  }

  it('syncs a directory: adds jobs, replaces a driver when its version changes (the old one stopped), stops a removed job, and keeps the running version when a file turns bad', async () => {
    const dir = env.tempDir()
    const topic = `ctl-dir-${uid()}`
    await env.log.admin.createTopic({ name: topic, partitions: 1 })
    const a = `a-${uid()}`
    const b = `b-${uid()}`
    fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(jobJson(a, topic, 1)))
    fs.writeFileSync(path.join(dir, 'b.yaml'), `job: ${b}\nversion: 1\naresTableConfig:\n  schema:\n    name: t\n    columns: [{ name: id, type: BigEnum }]\n    primaryKeyColumns: [0]\nstreamConfig:\n  topic: ${topic}\n  latestOffset: false\n`)
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a job')
    const { logger, lines } = capture()
    const jobs = controller(logger)
    const source = new DirectoryJobSource(dir, jobs, { refreshIntervalMs: 60_000, debounceMs: 20, logger })
    try {
      const first = await source.start()
      assert.deepEqual(first.errors, [])
      assert.deepEqual([...jobs.drivers.keys()].sort(), [a, b].sort())
      const oldA = jobs.driver(a)!
      await oldA.waitFor((s) => s.runningProcessors === 1)
      await env.log.producer().send([{ topic, key: 'k', value: JSON.stringify({ id: 'x', n: 1 }) }])
      await until('version 1 saving', () => saved.get(`${a}@1`)?.length === 1)

      // A new version: the watcher picks it up; the old driver is stopped, the new one runs.
      fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(jobJson(a, topic, 2)))
      const newA = await until('the new driver', () => jobs.driver(a)?.job.version === 2 && jobs.driver(a))
      assert.notEqual(newA, oldA)
      const oldStatus = oldA.status()
      assert.equal(oldStatus.runningProcessors, 0)
      assert.equal(oldStatus.processorContext['0'].shutdown, true)
      assert.equal(oldStatus.processorContext['0'].state, 'stopped')
      await newA.waitFor((s) => s.runningProcessors === 1)
      await env.log.producer().send([{ topic, key: 'k', value: JSON.stringify({ id: 'y', n: 2 }) }])
      await until('version 2 saving', () => saved.get(`${a}@2`)?.length === 1)
      assert.equal(saved.get(`${a}@1`)?.length, 1, 'the old version saved nothing more')

      // A bad file: a clear error naming the file and field; version 2 keeps running.
      fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(jobJson(a, topic, 3, { batchSize: 'lots' })))
      await until('the error', () => lines.some((l) => l.includes('a.json') && l.includes('streamConfig.batchSize')))
      assert.match(lines.find((l) => l.includes('a.json'))!, /version 2 of job .* keeps running/)
      assert.equal(jobs.driver(a), newA)
      assert.equal(newA.status().runningProcessors, 1)
      fs.writeFileSync(path.join(dir, 'c.yml'), 'job: [unclosed')
      await until('the YAML error', () => lines.some((l) => l.includes('c.yml') && /line 1/.test(l)))

      // A removed file stops its job.
      const driverB = jobs.driver(b)!
      fs.rmSync(path.join(dir, 'b.yaml'))
      await until('b removed', () => !jobs.driver(b))
      assert.equal(driverB.status().runningProcessors, 0)
      assert.equal(driverB.status().processorContext['0'].shutdown, true)
    } finally {
      await source.stop()
      await jobs.stop()
    }
  })

  it('a missing directory is an error naming it', async () => {
    const jobs = controller()
    const source = new DirectoryJobSource('/nonexistent/jobs', jobs, { logger: createLogger({ level: 'silent' }) })
    await assert.rejects(source.start(), (err: Error & { code?: string }) => err.code === 'TRIB_INGEST_CONFIG' && /\/nonexistent\/jobs: cannot read the job directory: ENOENT/.test(err.message))
    await jobs.stop()
  })

  describe('HTTP controller (AresDB protocol)', () => {
    let server: http.Server
    let base: string
    const requests: string[] = []
    let hash = 'h1'
    let assignment: unknown = {}
    let failing = false
    before(async () => {
      server = http.createServer((req, res) => {
        requests.push(req.url ?? '')
        if (failing) {
          res.writeHead(503).end('overloaded')
          return
        }
        if (req.url === '/assignment/dev/hash/inst-1') res.writeHead(200, { 'content-type': 'application/json' }).end(hash)
        else if (req.url === '/assignment/dev/assignments/inst-1') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(assignment))
        else res.writeHead(404).end('no such subscriber')
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    })
    after(async () => new Promise<void>((r) => server.close(() => r())))

    it('fetches the assignment when the hash changes, applies jobs, versions and removals, and reports bad jobs and a failing controller', async () => {
      const topic = `ctl-http-${uid()}`
      await env.log.admin.createTopic({ name: topic, partitions: 1 })
      const x = `x-${uid()}`
      const y = `y-${uid()}`
      assignment = { subscriber: 'inst-1', jobs: [jobJson(x, topic, 1), jobJson(y, topic, 1)], instances: { 'inst-1': { name: 'inst-1', host: '127.0.0.1' } } }
      const { logger, lines } = capture()
      const jobs = controller(logger)
      const source = new HttpJobSource({ url: base, namespace: 'dev', instance: 'inst-1', refreshIntervalMs: 60_000, logger }, jobs)
      try {
        const first = await source.start()
        assert.equal(first.changed, true)
        assert.deepEqual(requests, ['/assignment/dev/hash/inst-1', '/assignment/dev/assignments/inst-1'])
        assert.deepEqual([...jobs.drivers.keys()].sort(), [x, y].sort())
        // Same hash: the assignment is not fetched again.
        requests.length = 0
        assert.equal((await source.sync()).changed, false)
        assert.deepEqual(requests, ['/assignment/dev/hash/inst-1'])
        // New hash: x gets version 2, y is gone, and a bad job is reported (and retried next time).
        const oldX = jobs.driver(x)!
        const oldY = jobs.driver(y)!
        hash = 'h2'
        assignment = { subscriber: 'inst-1', jobs: [jobJson(x, topic, 2), { job: 'broken', streamConfig: { topic: 5 } }], instances: {} }
        const second = await source.sync()
        assert.equal(second.errors.length, 1)
        assert.match(second.errors[0], /jobs\[1\] \(broken\).*streamConfig\.topic/s)
        assert.ok(lines.some((l) => l.includes('(broken)')))
        assert.equal(jobs.driver(x)?.job.version, 2)
        assert.equal(oldX.status().processorContext['0'].shutdown, true)
        assert.equal(jobs.driver(y), undefined)
        assert.equal(oldY.status().runningProcessors, 0)
        requests.length = 0
        await source.sync()
        assert.deepEqual(requests, ['/assignment/dev/hash/inst-1', '/assignment/dev/assignments/inst-1'], 'a bad assignment is fetched again')
        // The controller fails: an error naming the URL; the jobs keep running.
        failing = true
        await assert.rejects(source.sync(), (err: Error & { code?: string }) => err.code === 'TRIB_INGEST_CONTROLLER' && err.message.includes(`${base}/assignment/dev/hash/inst-1: HTTP 503: overloaded`))
        assert.equal(jobs.driver(x)?.job.version, 2)
        failing = false
      } finally {
        await source.stop()
        await jobs.stop()
      }
    })

    it('an unreachable controller is an error naming its URL', async () => {
      const jobs = controller()
      const source = new HttpJobSource({ url: 'http://127.0.0.1:9', namespace: 'dev', instance: 'inst-1', logger: createLogger({ level: 'silent' }) }, jobs)
      await assert.rejects(source.start(), (err: Error & { code?: string }) => err.code === 'TRIB_INGEST_CONTROLLER' && err.message.includes('http://127.0.0.1:9/assignment/dev/hash/inst-1'))
      await jobs.stop()
    })
  })
})
