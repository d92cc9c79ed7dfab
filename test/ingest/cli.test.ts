import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { openLog } from '../../src/log/index.ts'
import { query } from '../helpers/postgres.ts'
import { main, root, usePostgresAndDir, waiter } from './helpers.ts'

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const uid = `${process.pid}-${Date.now().toString(36)}`

const until = waiter(40_000, 50)

describe('tributary ingest (child process)', () => {
  const env = usePostgresAndDir('trib-ingest-cli-')

  it('runs the jobs of a directory from Kafka into PostgreSQL, prints progress, answers `ingest status`, and stops on SIGTERM', async () => {
    const topic = `cli-trips-${uid}`
    const log = await openLog(`kafka://${brokers}`)
    await log.admin.createTopic({ name: topic, partitions: 2 })
    const jobs = path.join(env.dir, 'jobs')
    fs.mkdirSync(jobs)
    fs.writeFileSync(
      path.join(jobs, 'trips.yaml'),
      `job: trips-${uid}\nversion: 1\naresTableConfig:\n  schema:\n    name: trips_${process.pid}\n    columns:\n      - { name: id, type: BigEnum }\n      - { name: fare, type: Int64 }\n    primaryKeyColumns: [0]\n  updateMode: { fare: addition }\nstreamConfig:\n  topic: ${topic}\n  kafkaBroker: ${brokers}\n  latestOffset: false\n  processorCount: 2\n  maxBatchDelayMS: 100\n`,
    )
    fs.writeFileSync(path.join(jobs, 'broken.json'), '{"job": "broken", "streamConfig": {"topic": "x", "batchSize": -1}}')
    const child = spawn(process.execPath, [main, 'ingest', '--jobs', jobs, '--sink', env.db, '--address', '127.0.0.1:0', '--state-dir', path.join(env.dir, 'state'), '--instance', 'cli-1'], {
      cwd: root,
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn', TRIBUTARY_PROGRESS_MS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      const url = await until(`the server line (stderr: ${err})`, () => /HTTP (http:\/\/127\.0\.0\.1:(\d+))\/v1\/jobs/.exec(out) ?? undefined)
      assert.match(out, /error: .*broken\.json: [\s\S]*line 1: streamConfig\.batchSize: Too small/)
      assert.match(out, new RegExp(`job trips-${uid} started \\(version 1, topic ${topic}, 2 processor\\(s\\)\\)`))
      await log.producer().send(Array.from({ length: 100 }, (_, i) => ({ topic, key: `k${i}`, value: JSON.stringify({ id: `t${i % 10}`, fare: 1 }) })))
      await until('the rows', async () => {
        const rows = await query<{ n: string }>(env.db, `SELECT sum(fare)::text AS n FROM trips_${process.pid}`).catch(() => [])
        return rows[0]?.n === '100'
      })
      assert.equal((await query(env.db, `SELECT id FROM trips_${process.pid}`)).length, 10)
      await until('a progress line', () => new RegExp(`trips-${uid} v1 \\[2/2 running\\] messages 100 `).test(out))
      const status = await promisify(execFile)(process.execPath, [main, 'ingest', 'status', '--address', url[1].replace('http://', '')], { cwd: root })
      assert.match(status.stdout, /instance cli-1 at 127\.0\.0\.1:\d+: 1 job\(s\)/)
      assert.match(status.stdout, /^JOB\s+VERSION\s+TOPIC\s+PROCESSORS\s+RUNNING/m)
      assert.match(status.stdout, new RegExp(`^trips-${uid}\\s+1\\s+${topic}\\s+2\\s+2\\s+0\\s+0\\s+0\\s+100\\s+0\\s+0\\s+-$`, 'm'))
      child.kill('SIGTERM')
      assert.equal(await exit, 0, err)
      assert.match(out, /tributary ingest: stopped/)
    } finally {
      child.kill('SIGKILL')
      await log.close()
    }
  })

  it('`ingest status` with nobody listening, and `ingest` without jobs, are clear errors', async () => {
    const run = (args: string[]): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => execFile(process.execPath, [main, ...args], { cwd: root }, (e, _o, stderr) => resolve({ code: e ? (e.code as number) : 0, stderr })))
    const status = await run(['ingest', 'status', '--address', '127.0.0.1:9'])
    assert.equal(status.code, 1)
    assert.match(status.stderr, /cannot read http:\/\/127\.0\.0\.1:9\/v1\/jobs: .*is `tributary ingest` running there/)
    const none = await run(['ingest'])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /give --jobs <dir> and\/or --controller <url>/)
    const badSink = await run(['ingest', '--jobs', '.', '--sink', 'mysql://x'])
    assert.notEqual(badSink.code, 0)
    assert.match(badSink.stderr, /expected postgres:\/\/… or log/)
  })
})
