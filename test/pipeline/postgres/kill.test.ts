/**
 * kill -9 of a process running a pipeline between reads and acks, then a restart: log → postgres
 * converges on the exact row set (replayed creates are recognised, not nacked), and postgres CDC →
 * Kafka topic delivers every change at least once.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { openLog } from '../../../src/log/index.ts'
import { query } from '../../helpers/postgres.ts'
import { eventually, usePostgres } from './helpers.ts'

const KAFKA = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const fixture = path.join(import.meta.dirname, 'fixtures', 'run-pipeline.ts')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-pg-kill-'))
const env = usePostgres()
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

interface Child {
  proc: ChildProcess
  acked(): number
  state(): string
  exited: Promise<unknown>
}

function run(yamlFile: string, stateDir: string): Child {
  const proc = spawn(process.execPath, [fixture, yamlFile, stateDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let acked = 0
  let state = ''
  let buf = ''
  proc.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString()
    const lines = buf.split('\n')
    buf = lines.pop() ?? ''
    const last = lines.at(-1)?.split(' ')
    if (last?.[0] === 'acked') {
      acked = Number(last[1])
      state = last[2] ?? ''
    }
  })
  proc.stderr?.resume()
  return { proc, acked: () => acked, state: () => state, exited: new Promise((r) => proc.on('exit', r)) }
}

const id = (): string => randomUUID().replaceAll('-', '').slice(0, 10)

describe('kill -9 of a pipeline process', () => {
  it('log → postgres: the restarted pipeline replays what was not acknowledged and converges on the exact rows', async () => {
    const name = `kill_${id()}`
    const logDir = path.join(tmp, `log-${name}`)
    const n = 20_000
    const log = await openLog(`file:${logDir}`)
    await log.admin.createTopic({ name: 'rows', partitions: 1 })
    const producer = log.producer()
    for (let i = 0; i < n; i += 1000) {
      await producer.send(Array.from({ length: 1000 }, (_, j) => ({ topic: 'rows', key: String(i + j), value: JSON.stringify({ id: i + j, v: `v${i + j}` }) })))
    }
    await log.close()
    await query(env.url, `CREATE TABLE ${name} (id int PRIMARY KEY, v text NOT NULL)`)
    const yaml = path.join(tmp, `${name}.yaml`)
    fs.writeFileSync(yaml, `
version: "2.2"
pipelines:
  - id: ${name}
    connectors:
      - { id: in, type: source, plugin: tributary-log, settings: { url: "file:${logDir}", topics: rows, groupID: g, sdk.batch.size: 300 } }
      - { id: out, type: destination, plugin: postgres, settings: { url: "${env.url}", table: ${name} } }
    processors:
      - { id: parse, plugin: json.decode, settings: { field: .Payload.After } }
`)
    const stateDir = path.join(tmp, `state-${name}`)
    const count = async (): Promise<number> => ((await query<{ n: number }>(env.url, `SELECT count(*)::int AS n FROM ${name}`))[0]?.n ?? 0)
    const first = run(yaml, stateDir)
    await eventually(async () => ((await count()) >= 3000 ? true : undefined), 'rows to land', 30_000)
    first.proc.kill('SIGKILL')
    await first.exited
    const landed = await count()
    assert.ok(landed < n, 'killed mid-stream')
    const second = run(yaml, stateDir)
    await eventually(async () => ((await count()) === n && second.acked() > 0 ? true : undefined), 'all rows', 30_000)
    await eventually(() => (second.acked() >= n - landed ? true : undefined), 'the rest acknowledged', 30_000)
    assert.equal(second.state(), 'running', 'replayed creates are acknowledged, not nacked into a stopped pipeline')
    second.proc.kill('SIGTERM')
    await second.exited
    const rows = await query<{ n: number; d: number; bad: number }>(env.url, `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, count(*) FILTER (WHERE v <> 'v' || id)::int AS bad FROM ${name}`)
    assert.deepEqual(rows, [{ n, d: n, bad: 0 }])
  })

  it('postgres CDC → Kafka: after a kill between read and ack, every change is in the topic at least once', async () => {
    const name = `cdc_${id()}`
    const topic = `pg-kill-${name}`
    await query(env.url, `CREATE TABLE ${name} (id int PRIMARY KEY)`)
    const yaml = path.join(tmp, `${name}.yaml`)
    fs.writeFileSync(yaml, `
version: "2.2"
pipelines:
  - id: ${name}
    connectors:
      - { id: pg, type: source, plugin: postgres, settings: { url: "${env.url}", tables: ${name}, cdcMode: logrepl, logrepl.slotName: s_${name}, logrepl.publicationName: p_${name}, sdk.batch.size: 200 } }
      - { id: out, type: destination, plugin: tributary-log, settings: { url: "kafka://${KAFKA}", topic: ${topic}, sdk.record.format: opencdc/json } }
`)
    const stateDir = path.join(tmp, `state-${name}`)
    const first = run(yaml, stateDir)
    await eventually(() => (first.state() === 'running' ? true : undefined), 'the pipeline to run', 30_000)
    const total = 6000
    for (let i = 0; i < total; i += 100) await query(env.url, `INSERT INTO ${name} SELECT generate_series(${i}, ${i + 99})`)
    await eventually(() => (first.acked() >= 1500 ? true : undefined), 'changes acknowledged', 30_000)
    first.proc.kill('SIGKILL')
    await first.exited
    const second = run(yaml, stateDir)
    const log = await openLog(`kafka://${KAFKA}`)
    const seen = new Set<number>()
    let records = 0
    const reader = log.reader({ topic, from: new Map([[0, 0]]), partitions: [0] })
    try {
      const deadline = Date.now() + 45_000
      while (seen.size < total && Date.now() < deadline) {
        for (const r of await reader.poll()) {
          records++
          const rec = JSON.parse(String(r.value)) as { payload: { after: { id: number } } }
          seen.add(rec.payload.after.id)
        }
      }
    } finally {
      await reader.close()
    }
    second.proc.kill('SIGTERM')
    await second.exited
    await log.admin.deleteTopic(topic).catch(() => undefined)
    await log.close()
    assert.equal(seen.size, total, 'every inserted row is in the topic')
    assert.ok(records - total <= 2000, `duplicates are limited to what was read but not acknowledged (${records - total})`)
    await query(env.url, `SELECT pg_drop_replication_slot('s_${name}')`).catch(() => undefined)
  })
})
