/**
 * End to end through the pipeline runtime: a topic of JSON rows (embedded file log and real Kafka)
 * → json.decode → postgres lands the exact row set, a row breaking a constraint goes to the DLQ
 * with PostgreSQL's error while the rest lands; and PostgreSQL CDC → tributary-log → postgres
 * mirrors a table.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openLog, type Log } from '../../../src/log/index.ts'
import { registerLog } from '../../../src/pipeline/connectors/tributary-log/plugin.ts'
import { postgresConnector } from '../../../src/pipeline/connectors/postgres/postgres.ts'
import { createRegistry, parsePipelineYaml, PipelineRunner, recordFromJson } from '../../../src/pipeline/index.ts'
import { query } from '../../helpers/postgres.ts'
import { eventually, usePostgres } from './helpers.ts'

const KAFKA = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const registry = createRegistry({ connectors: [postgresConnector] })
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-pg-pipe-'))
const env = usePostgres()
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

function runner(yaml: string): PipelineRunner {
  const [spec] = parsePipelineYaml(yaml, 'pg.yaml', registry).pipelines
  assert.ok(spec)
  return new PipelineRunner(spec, { stateDir: fs.mkdtempSync(path.join(tmp, 'state-')), backoff: { initialMs: 50 }, metrics: false })
}

const id = (): string => randomUUID().replaceAll('-', '').slice(0, 10)

for (const backend of ['file', 'kafka'] as const) {
  describe(`log (${backend}) → postgres through the runtime`, () => {
    let log: Log
    let logUrl: string
    before(async () => {
      logUrl = backend === 'file' ? `file:${fs.mkdtempSync(path.join(tmp, 'log-'))}` : `kafka://${KAFKA}`
      log = await openLog(logUrl)
      unregister = registerLog(logUrl, log)
    })
    let unregister = (): void => undefined
    after(async () => {
      unregister()
      await log.close()
    })

    it('lands the exact row set, and sends the row that breaks a constraint to the DLQ with PostgreSQL’s error', async () => {
      const table = `rows_${backend}_${id()}`
      const topic = `pg-${table}`
      await query(env.url, `CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL, n int CHECK (n >= 0), tags text[], doc jsonb)`)
      await log.admin.createTopic({ name: topic, partitions: 1 })
      const n = 3000
      const bad = 1234
      const producer = log.producer()
      const rows = Array.from({ length: n }, (_, i) => ({ id: i, name: `name-${i}`, n: i === bad ? -1 : i, tags: [`t${i % 3}`], doc: { i } }))
      for (let i = 0; i < n; i += 500) await producer.send(rows.slice(i, i + 500).map((r) => ({ topic, key: String(r.id), value: JSON.stringify(r) })))
      await producer.close?.()
      const dlqFile = path.join(tmp, `${table}-dlq.jsonl`)
      const r = runner(`
version: "2.2"
pipelines:
  - id: ${table}
    status: running
    connectors:
      - { id: in, type: source, plugin: tributary-log, settings: { url: "${logUrl}", topics: ${topic}, groupID: g-${table} } }
      - { id: out, type: destination, plugin: builtin:postgres, settings: { url: "${env.url}", table: ${table} } }
    processors:
      - { id: parse, plugin: json.decode, settings: { field: .Payload.After } }
    dead-letter-queue:
      plugin: builtin:file
      settings: { path: "${dlqFile}" }
      window-size: 10
      window-nack-threshold: 1
`)
      r.start()
      await r.waitFor((x) => x.counters.acked >= n, 60_000)
      await r.stop()
      assert.equal(r.counters.dlq, 1)
      const got = await query<{ id: number; name: string; n: number; tags: string[]; doc: unknown }>(env.url, `SELECT id, name, n, tags, doc FROM ${table} ORDER BY id`)
      assert.deepEqual(got, rows.filter((row) => row.id !== bad))
      const dlq = fs.readFileSync(dlqFile, 'utf8').trim().split('\n').map((line) => recordFromJson(line))
      assert.equal(dlq.length, 1)
      assert.match(dlq[0]?.metadata['conduit.dlq.nack.error'] ?? '', /23514 new row for relation .* violates check constraint/)
    })
  })
}

describe('postgres CDC → log → postgres through the runtime', () => {
  it('mirrors a table, changes included, into another table', async () => {
    const name = id()
    await query(env.url, `CREATE TABLE src_${name} (id int PRIMARY KEY, v text, at timestamptz, amount numeric(12,2))`)
    await query(env.url, `CREATE TABLE dst_${name} (id int PRIMARY KEY, v text, at timestamptz, amount numeric(12,2))`)
    await query(env.url, `INSERT INTO src_${name} SELECT g, 'v' || g, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 second', g / 7.0 FROM generate_series(1, 500) g`)
    const logUrl = `memory:pg-${name}`
    const stateDir = fs.mkdtempSync(path.join(tmp, 'cdc-'))
    const [toLog, fromLog] = parsePipelineYaml(
      `
version: "2.2"
pipelines:
  - id: cdc-${name}
    connectors:
      - { id: pg, type: source, plugin: postgres, settings: { url: "${env.url}", tables: src_${name}, cdcMode: logrepl, logrepl.slotName: s_${name}, logrepl.publicationName: p_${name} } }
      - { id: log, type: destination, plugin: tributary-log, settings: { url: "${logUrl}", topic: changes, sdk.record.format: opencdc/json } }
  - id: apply-${name}
    connectors:
      - { id: log, type: source, plugin: tributary-log, settings: { url: "${logUrl}", topics: changes, groupID: apply, sdk.record.format: opencdc/json } }
      - { id: pg, type: destination, plugin: postgres, settings: { url: "${env.url}", table: dst_${name} } }
    processors:
      - { id: parse, plugin: json.decode, settings: { field: .Payload.After } }
      - { id: unwrap, plugin: unwrap.opencdc }
`,
      'cdc.yaml',
      registry,
    ).pipelines
    assert.ok(toLog && fromLog)
    const a = new PipelineRunner(toLog, { stateDir, backoff: { initialMs: 50 }, metrics: false })
    const b = new PipelineRunner(fromLog, { stateDir, backoff: { initialMs: 50 }, metrics: false })
    a.start()
    b.start()
    await b.waitFor((x) => x.counters.acked >= 500, 30_000)
    await query(env.url, `UPDATE src_${name} SET v = 'changed' WHERE id % 10 = 0; DELETE FROM src_${name} WHERE id % 25 = 0; INSERT INTO src_${name} VALUES (1000, 'late', now(), 1.5)`)
    const same = `SELECT count(*)::int AS n FROM ((TABLE src_${name} EXCEPT TABLE dst_${name}) UNION ALL (TABLE dst_${name} EXCEPT TABLE src_${name})) d`
    await eventually(async () => ((await query<{ n: number }>(env.url, same))[0]?.n === 0 ? true : undefined), 'the mirror to converge', 30_000)
    await a.stop()
    await b.stop()
    assert.deepEqual(await query(env.url, `SELECT count(*)::int AS n FROM dst_${name}`), [{ n: 500 - 20 + 1 }])
    await query(env.url, `SELECT pg_drop_replication_slot('s_${name}')`)
  })
})
