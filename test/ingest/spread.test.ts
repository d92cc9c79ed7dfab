import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { openLog } from '../../src/log/index.ts'
import type { DriverStatus } from '../../src/ingest/driver.ts'
import { query } from '../helpers/postgres.ts'
import { main, root, usePostgresAndDir, waiter } from './helpers.ts'

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const uid = `${process.pid}-${Date.now().toString(36)}`

const until = waiter(45_000, 100)

interface Instance {
  name: string
  child: ChildProcess
  out: () => string
  err: () => string
  url?: string
  exit: Promise<number | null>
}

describe('jobs spread over instances with leases (child processes)', () => {
  const env = usePostgresAndDir('trib-ingest-spread-')

  it('divides a job\'s processors over three instances, moves a killed instance\'s share within a lease duration, never runs a processor id twice, and the rows converge', async () => {
    const topic = `spread-${uid}`
    const job = `spread-${uid}`
    const table = `spread_${process.pid}`
    const log = await openLog(`kafka://${brokers}`)
    await log.admin.createTopic({ name: topic, partitions: 6 })
    const jobs = path.join(env.dir, 'jobs')
    fs.mkdirSync(jobs)
    fs.writeFileSync(
      path.join(jobs, 'spread.json'),
      JSON.stringify({
        job,
        version: 1,
        aresTableConfig: { schema: { name: table, columns: [{ name: 'id', type: 'BigEnum' }, { name: 'n', type: 'Int64' }], primaryKeyColumns: [0] }, updateMode: { n: 'addition' } },
        streamConfig: { topic, kafkaBroker: brokers, latestOffset: false, processorCount: 6, maxBatchDelayMS: 100 },
      }),
    )
    const start = (name: string): Instance => {
      const child = spawn(process.execPath, [main, 'ingest', '--jobs', jobs, '--sink', env.db, '--leases', env.db, '--lease-duration', '3', '--instance', name, '--address', '127.0.0.1:0', '--state-dir', path.join(env.dir, name)], {
        cwd: root,
        env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn', TRIBUTARY_PROGRESS_MS: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
      return { name, child, out: () => out, err: () => err, exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) }
    }
    const instances = ['ia', 'ib', 'ic'].map(start)
    const processorsOf = async (i: Instance): Promise<number[]> => {
      const body = (await (await fetch(`${i.url}/v1/jobs/${job}`)).json()) as DriverStatus
      return Object.entries(body.processorContext ?? {})
        .filter(([, p]) => p.state === 'running')
        .map(([id]) => Number(id))
    }
    /** Every sample of the live instances' processor ids: none may appear twice. */
    const samples: number[][][] = []
    const sample = async (live: Instance[]): Promise<number[][]> => {
      const ids = await Promise.all(live.map(processorsOf))
      samples.push(ids)
      const all = ids.flat()
      assert.equal(new Set(all).size, all.length, `a processor id runs twice: ${JSON.stringify(ids)}`)
      return ids
    }
    try {
      for (const i of instances) i.url = await until(`${i.name}'s server (stderr: ${i.err()})`, () => /HTTP (http:\/\/127\.0\.0\.1:\d+)\/v1\/jobs/.exec(i.out())?.[1])
      const spreadOut = await until('two processors on each instance', async () => {
        const ids = await sample(instances)
        return ids.every((x) => x.length === 2) && ids
      })
      assert.deepEqual(spreadOut.flat().sort(), [0, 1, 2, 3, 4, 5])

      const send = (from: number, count: number): Promise<unknown> => log.producer().send(Array.from({ length: count }, (_, k) => ({ topic, key: `m${from + k}`, value: JSON.stringify({ id: `k${(from + k) % 30}`, n: 1 }) })))
      await send(0, 1500)
      await until('some rows', async () => Number((await query<{ s: string }>(env.db, `SELECT coalesce(sum(n), 0)::text AS s FROM ${table}`).catch(() => [{ s: '0' }]))[0].s) > 0)

      const [a, b, c] = instances
      b.child.kill('SIGKILL')
      await b.exit
      const killedAt = Date.now()
      await send(1500, 1500)
      await until('the killed instance\'s processors resumed elsewhere', async () => {
        const ids = await sample([a, c])
        return ids.flat().length === 6 && ids
      })
      const tookOver = Date.now() - killedAt
      assert.ok(tookOver < 3_000 * 3, `taken over in ${tookOver} ms (lease duration 3 s)`)

      await until('the rows converge', async () => {
        await sample([a, c])
        const rows = await query<{ s: string; c: string }>(env.db, `SELECT sum(n)::text AS s, count(*)::text AS c FROM ${table}`)
        return rows[0].s === '3000' && rows[0].c === '30'
      }, 50_000)
      assert.ok(samples.length > 5)
      for (const i of [a, c]) i.child.kill('SIGTERM')
      assert.deepEqual(await Promise.all([a.exit, c.exit]), [0, 0], `${a.err()}\n${c.err()}`)
    } finally {
      for (const i of instances) i.child.kill('SIGKILL')
      await log.close()
    }
  })
})
