/**
 * PostgreSQL pipeline benchmarks, ours and the ceiling side by side in one run:
 *
 * - `kafka-postgres` ({@link kafkaToPostgres}): N JSON rows of 5 columns in a Kafka topic →
 *   `tributary-log` source → `json.decode` → `postgres` destination (batches of inserts go through
 *   COPY), through the pipeline runtime; ceiling: one raw `COPY` of the same rows through
 *   `pg-copy-streams`. Then the same topic again with `field.set .Operation update` in front, so
 *   every record is an upsert of an existing row (`upsertPerSec`, `upsertRatio` against the COPY).
 *   Two more figures say where the time goes: `pipelineOnlyPerSec` (the same pipeline into an
 *   in-memory log) and `destinationOnlyPerSec` (the destination fed pre-built records); and
 *   `sameWorkPerSec` / `sameWorkRatio`: the same work by direct means (consume through the log
 *   layer, parse, COPY and commit per poll, commit offsets), the fair ceiling beside the COPY one.
 * - `postgres-cdc` ({@link postgresCdc}): N inserted rows streamed through logical replication →
 *   `postgres` source → `tributary-log` destination (embedded file log), through the runtime;
 *   ceiling: a raw `pgoutput` read of a second slot over the same WAL with `pg-logical-replication`
 *   (decoding every message, no records, no log).
 *
 * The PostgreSQL server is `pgUrl`, else `PG_URL`, else a private one started (and stopped) with
 * `scripts/postgres.sh`.
 *
 * @example
 * ```ts
 * console.log(await kafkaToPostgres({ records: 1_000_000 }))
 * // { case: 'kafka-postgres', records: 1000000, perSec: ..., ceilingPerSec: ..., ratio: ..., rssMb: ..., upsertPerSec: ..., upsertRatio: ... }
 * ```
 * @module
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication'
import { openLog } from '../log/index.ts'
import { postgresConnector } from '../pipeline/connectors/postgres/postgres.ts'
import { createLogger } from '../core/logger.ts'
import { createRegistry, type PipelineRecord } from '../pipeline/index.ts'
import { timePipeline } from './pipeline-bench.ts'
import { rate } from './report.ts'

/** Options of both cases. */
export interface PostgresBenchOptions {
  records: number
  /** Kafka bootstrap servers (default `KAFKA_BROKERS` or 127.0.0.1:9092). */
  kafkaBrokers?: string
  /** A PostgreSQL server to use (default `PG_URL`, else a private one). */
  pgUrl?: string
}

/** One case's figures. */
export interface PostgresBenchResult {
  case: string
  records: number
  perSec: number
  ceilingPerSec: number
  ratio: number
  rssMb: number
  [extra: string]: unknown
}

const script = path.resolve(import.meta.dirname, '..', '..', 'scripts', 'postgres.sh')
const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000
const rssMb = (): number => Math.round(process.memoryUsage().rss / 1024 / 1024)

/** Runs `fn` with a server URL: the given one, `PG_URL`, or a private server stopped afterwards. */
async function withServer<T>(pgUrl: string | undefined, fn: (url: string) => Promise<T>): Promise<T> {
  const given = pgUrl ?? process.env.PG_URL
  if (given) return fn(given)
  const dir = path.join(os.tmpdir(), `tributary-pg-bench-${process.pid}`)
  const env = { ...process.env, TRIBUTARY_PG_DIR: dir }
  const url = execFileSync('bash', [script, 'start'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
  try {
    return await fn(url)
  } finally {
    execFileSync('bash', [script, 'stop'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  }
}

async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(text)
  } finally {
    await client.end()
  }
}

interface Row {
  id: number
  name: string
  qty: number
  price: number
  active: boolean
}

const row = (i: number): Row => ({ id: i, name: `customer-${i}`, qty: i % 1000, price: (i % 10_000) / 100, active: i % 2 === 0 })
const TABLE_COLUMNS = '(id int PRIMARY KEY, name text, qty int, price float8, active bool)'
/** A row as a line of COPY's text format (the values need no escaping). */
const copyLine = (r: Row): string => `${r.id}\t${r.name}\t${r.qty}\t${r.price}\t${r.active ? 't' : 'f'}\n`

/**
 * The same work as the pipeline by the fastest direct means, for context beside the COPY
 * ceiling (which reads nothing from Kafka and parses nothing): a consumer group reads the topic
 * through the log layer, each poll's JSON values are parsed and COPYed in one transaction, then the
 * offsets are committed — at-least-once, as ours — while the consumer already fetches the next poll.
 */
async function sameWorkLoop(log: Awaited<ReturnType<typeof openLog>>, topic: string, url: string, table: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const consumer = log.consumer({ groupId: `bench-same-work-${table}`, topics: [topic], maxPollRecords: 10_000 })
  try {
    const t0 = process.hrtime.bigint()
    let copied = 0
    while (copied < n) {
      const records = await consumer.poll({ timeoutMs: 5_000 })
      if (records.length === 0) throw new Error(`kafka-postgres same-work loop: stalled at ${copied} of ${n} rows`)
      await client.query('BEGIN')
      const stream = client.query(copyFrom(`COPY ${table} (id, name, qty, price, active) FROM STDIN`))
      const done = finished(stream)
      let chunk = ''
      for (const record of records) {
        chunk += copyLine(JSON.parse((record.value as Buffer).toString()) as Row)
      }
      stream.end(chunk)
      await done
      await client.query('COMMIT')
      await consumer.commit()
      copied += records.length
    }
    const perSec = rate(n, t0, process.hrtime.bigint())
    const count = (await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0] as { n: number }
    if (count.n !== n || copied !== n) throw new Error(`kafka-postgres same-work loop: read ${copied} records and the table holds ${count.n} rows, expected ${n}`)
    return perSec
  } finally {
    await consumer.close()
    await client.end()
  }
}

/** Kafka → PostgreSQL: ours through the runtime vs one raw COPY of the same rows. */
export async function kafkaToPostgres(opts: PostgresBenchOptions): Promise<PostgresBenchResult> {
  const brokers = opts.kafkaBrokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
  const n = opts.records
  return withServer(opts.pgUrl, async (url) => {
    const id = randomUUID().replaceAll('-', '').slice(0, 8)
    const topic = `bench-kafka-postgres-${id}`
    const log = await openLog(`kafka://${brokers}`)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-pg-'))
    try {
      await log.admin.createTopic({ name: topic, partitions: 1 })
      const producer = log.producer()
      for (let i = 0; i < n; i += 10_000) {
        const batch = []
        for (let j = i; j < Math.min(n, i + 10_000); j++) batch.push({ topic, key: String(j), value: JSON.stringify(row(j)) })
        await producer.send(batch)
      }
      await sql(url, `CREATE TABLE bench_ceiling_${id} ${TABLE_COLUMNS}; CREATE TABLE bench_ours_${id} ${TABLE_COLUMNS}; CREATE TABLE bench_same_${id} ${TABLE_COLUMNS}`)

      // ceiling: the same rows, formatted and copied in one COPY
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      const c0 = process.hrtime.bigint()
      const stream = client.query(copyFrom(`COPY bench_ceiling_${id} (id, name, qty, price, active) FROM STDIN`))
      const done = finished(stream)
      let chunk = ''
      for (let i = 0; i < n; i++) {
        chunk += copyLine(row(i))
        if (chunk.length > 256 * 1024) {
          if (!stream.write(chunk)) await new Promise((resolve) => stream.once('drain', resolve))
          chunk = ''
        }
      }
      stream.end(chunk)
      await done
      const ceilingPerSec = rate(n, c0, process.hrtime.bigint())
      await client.end()

      const registry = createRegistry({ connectors: [postgresConnector] })
      const pipeline = (group: string, extra: string): string => `
version: "2.2"
pipelines:
  - id: kafka-postgres-${group}
    connectors:
      - { id: in, type: source, plugin: tributary-log, settings: { url: "kafka://${brokers}", topics: ${topic}, groupID: ${group}-${id} } }
      - { id: out, type: destination, plugin: postgres, settings: { url: "${url}", table: bench_ours_${id} } }
    processors:
      - { id: parse, plugin: json.decode, settings: { field: .Payload.After } }
${extra}`
      const sameWorkPerSec = await sameWorkLoop(log, topic, url, `bench_same_${id}`, n)
      const perSec = await timePipeline(pipeline('insert', ''), path.join(dir, 'insert'), n, registry)
      const upsertPerSec = await timePipeline(pipeline('upsert', '      - { id: op, plugin: field.set, settings: { field: .Operation, value: update } }\n'), path.join(dir, 'upsert'), n, registry)
      const count = (await sql(url, `SELECT count(*)::int AS n FROM bench_ours_${id}`)).rows[0] as { n: number }
      if (count.n !== n) throw new Error(`kafka-postgres: the table holds ${count.n} rows, expected ${n}`)
      // where the time goes: the same pipeline into an in-memory log, and the destination alone
      const toMemory = pipeline('memory', '').replace(/plugin: postgres, settings: \{[^}]*\}/, `plugin: tributary-log, settings: { url: "memory:bench-${id}", topic: out }`)
      const pipelineOnlyPerSec = await timePipeline(toMemory, path.join(dir, 'memory'), n, registry)
      const destinationOnlyPerSec = await destinationAlone(url, `bench_dest_${id}`, n)
      await sql(url, `DROP TABLE bench_ceiling_${id}; DROP TABLE bench_ours_${id}; DROP TABLE bench_same_${id}`)
      return {
        case: 'kafka-postgres',
        records: n,
        perSec,
        ceilingPerSec,
        ratio: ratio(perSec, ceilingPerSec),
        rssMb: rssMb(),
        upsertPerSec,
        upsertRatio: ratio(upsertPerSec, ceilingPerSec),
        pipelineOnlyPerSec,
        destinationOnlyPerSec,
        destinationOnlyRatio: ratio(destinationOnlyPerSec, ceilingPerSec),
        sameWorkPerSec,
        sameWorkRatio: ratio(perSec, sameWorkPerSec),
      }
    } finally {
      await log.admin.deleteTopic(topic).catch(() => undefined)
      await log.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

/** The postgres destination alone: `n` pre-built create records in batches of 10,000, records/s. */
async function destinationAlone(url: string, table: string, n: number): Promise<number> {
  await sql(url, `CREATE TABLE ${table} ${TABLE_COLUMNS}`)
  const settings = postgresConnector.settings.parse({ url, table })
  const ctx = { pipelineId: 'bench', connectorId: 'bench:dest', lastPosition: null, stateDir: os.tmpdir(), logger: createLogger({ level: 'warn' }) }
  const dest = postgresConnector.destination?.(settings, ctx)
  if (dest === undefined) throw new Error('postgres has no destination')
  const signal = new AbortController().signal
  await dest.open(signal)
  const records: PipelineRecord[] = []
  for (let i = 0; i < n; i++) records.push({ position: Buffer.from(String(i)), operation: 'create', metadata: {}, key: Buffer.from(String(i)), payload: { before: null, after: { ...row(i) } } })
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i += 10_000) await dest.write(records.slice(i, i + 10_000), signal)
  const perSec = rate(n, start, process.hrtime.bigint())
  await dest.teardown()
  await sql(url, `DROP TABLE ${table}`)
  return perSec
}

/** Reads `n` inserts from `slot` with pg-logical-replication (auto-acknowledging), returns records/s. */
async function rawPgoutputRead(url: string, slot: string, publication: string, n: number): Promise<number> {
  const service = new LogicalReplicationService({ connectionString: url }, { acknowledge: { auto: true, timeoutSeconds: 10 } })
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] })
  let seen = 0
  const start = process.hrtime.bigint()
  const finishedReading = new Promise<bigint>((resolve, reject) => {
    service.on('data', (_lsn: string, msg: { tag: string }) => {
      if (msg.tag === 'insert' && ++seen === n) resolve(process.hrtime.bigint())
    })
    service.on('error', reject)
  })
  service.subscribe(plugin, slot).catch(() => undefined)
  const end = await finishedReading
  await service.destroy()
  return rate(n, start, end)
}

/** PostgreSQL changes → log: ours (postgres source → tributary-log) vs a raw pgoutput read. */
export async function postgresCdc(opts: PostgresBenchOptions): Promise<PostgresBenchResult> {
  const n = opts.records
  return withServer(opts.pgUrl, async (url) => {
    const id = randomUUID().replaceAll('-', '').slice(0, 8)
    const table = `bench_cdc_${id}`
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-cdc-'))
    const raw = `raw_${id}`
    const ours = `ours_${id}`
    try {
      await sql(url, `CREATE TABLE ${table} ${TABLE_COLUMNS}; CREATE PUBLICATION pub_${id} FOR TABLE ${table}`)
      await sql(url, `SELECT pg_create_logical_replication_slot('${raw}', 'pgoutput'), pg_create_logical_replication_slot('${ours}', 'pgoutput')`)
      const step = 100_000
      for (let i = 0; i < n; i += step) {
        await sql(url, `INSERT INTO ${table} SELECT g, 'customer-' || g, g % 1000, (g % 10000) / 100.0, g % 2 = 0 FROM generate_series(${i}, ${Math.min(n, i + step) - 1}) g`)
      }
      const ceilingPerSec = await rawPgoutputRead(url, raw, `pub_${id}`, n)
      const registry = createRegistry({ connectors: [postgresConnector] })
      const yaml = `
version: "2.2"
pipelines:
  - id: postgres-cdc
    connectors:
      - { id: pg, type: source, plugin: postgres, settings: { url: "${url}", tables: ${table}, cdcMode: logrepl, snapshotMode: never, logrepl.slotName: ${ours}, logrepl.publicationName: pub_${id} } }
      - { id: log, type: destination, plugin: tributary-log, settings: { url: "file:${path.join(dir, 'log')}", topic: changes, sdk.record.format: opencdc/json } }
`
      const perSec = await timePipeline(yaml, path.join(dir, 'state'), n, registry)
      return { case: 'postgres-cdc', records: n, perSec, ceilingPerSec, ratio: ratio(perSec, ceilingPerSec), rssMb: rssMb() }
    } finally {
      await sql(url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('${raw}', '${ours}') AND NOT active`).catch(() => undefined)
      await sql(url, `DROP PUBLICATION IF EXISTS pub_${id}; DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}

/** Both cases in the shape of `addPipelineBenchCase` (src/bench/pipeline-bench.ts), for wiring. */
export const postgresBenchCases = {
  'kafka-postgres': {
    description: 'Kafka topic of JSON rows → json.decode → postgres (COPY), then as upserts; vs one raw COPY of the same rows',
    defaultRecords: 1_000_000,
    run: ({ records }: { records: number }) => kafkaToPostgres({ records }),
  },
  'postgres-cdc': {
    description: 'inserted rows → logical replication → postgres source → tributary-log (file); vs a raw pgoutput read of the same WAL',
    defaultRecords: 1_000_000,
    run: ({ records }: { records: number }) => postgresCdc({ records }),
  },
} as const
