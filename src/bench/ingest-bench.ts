/**
 * `npm run bench -- ingest`: N JSON messages of 8 columns from Kafka into PostgreSQL with upserts
 * (every key twice, so half the rows update: addition, max, min, overwrite), through an ingestion
 * job (`JobDriver` with 1 or 4 processors: consumer group, decode, map, batch, upsert with stored
 * offsets, commit) beside the ceiling in the same run: as many raw read loops as processors (each
 * over its share of the partitions), JSON.parse,
 * and per batch a raw `COPY` into a temporary table then one `INSERT … SELECT … GROUP BY … ON
 * CONFLICT DO UPDATE` — the same rows and the same batch size, without the job's guarantees.
 *
 * PostgreSQL: `PG_URL`, else a private server started with `scripts/postgres.sh` (stopped at the
 * end). Kafka: `KAFKA_BROKERS` (default 127.0.0.1:9092).
 * @module
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { createLogger } from '../core/logger.ts'
import { JobDriver, parseJobConfig, PostgresSink, type JobConfig } from '../ingest/index.ts'
import { openLog, type Log } from '../log/index.ts'
import { rate, report } from './report.ts'

/** Options of {@link runIngestBench}. */
export interface IngestBenchOptions {
  records: number
  processors: number[]
  /** Rows per batch (the job's `batchSize`, and the ceiling's). */
  batch: number
  /** Alternating rounds of the ceiling and ours per processor count; the best of each is reported (the machine is noisy). */
  rounds: number
  json: boolean
}

const PARTITIONS = 4

function jobFor(name: string, topic: string, table: string, processors: number, batch: number, brokers: string): JobConfig {
  return parseJobConfig({
    job: name,
    aresTableConfig: {
      schema: {
        name: table,
        columns: [
          { name: 'id', type: 'BigEnum' },
          { name: 'clicks', type: 'Int64' },
          { name: 'best', type: 'Int32' },
          { name: 'worst', type: 'Int32' },
          { name: 'score', type: 'Float32' },
          { name: 'active', type: 'Bool' },
          { name: 'country', type: 'SmallEnum' },
          { name: 'updated', type: 'Int64' },
        ],
        primaryKeyColumns: [0],
      },
      updateMode: { clicks: 'addition', best: 'max', worst: 'min', updated: 'overwrite_force' },
    },
    streamConfig: { topic, kafkaBroker: brokers, latestOffset: false, processorCount: processors, batchSize: batch, maxBatchDelayMS: 200, megaBytePerSec: 100_000 },
  })
}

function message(i: number, keys: number): object {
  return { id: `user-${i % keys}`, clicks: i % 7, best: i % 1000, worst: i % 977, score: (i % 100) / 3, active: i % 2 === 0, country: ['de', 'fr', 'us', 'jp'][i % 4], updated: 1_700_000_000 + i }
}

function startServer(): { url: string; stop: () => void } {
  if (process.env.PG_URL) return { url: process.env.PG_URL, stop: () => {} }
  const script = path.join(import.meta.dirname, '..', '..', 'scripts', 'postgres.sh')
  const dir = path.join(os.tmpdir(), `tributary-pg-bench-${process.pid}`)
  const env = { ...process.env, TRIBUTARY_PG_DIR: dir }
  const url = execFileSync('bash', [script, 'start'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
  return { url, stop: () => execFileSync('bash', [script, 'stop'], { env, stdio: ['ignore', 'ignore', 'inherit'] }) }
}

const TEXT_ESCAPE = /[\\\t\n\r]/g
const copyText = (v: unknown): string => (v === null || v === undefined ? '\\N' : String(v).replace(TEXT_ESCAPE, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')))

/**
 * The ceiling: `loops` raw loops side by side (as many as ours has processors), each reading its
 * share of the partitions, parsing, and COPYing each batch into a temp table that it upserts.
 */
async function ceiling(log: Log, topic: string, url: string, table: string, batch: number, loops: number): Promise<number> {
  const setup = new pg.Client({ connectionString: url })
  await setup.connect()
  await setup.query(`CREATE TABLE ${table} (id text PRIMARY KEY, clicks bigint, best integer, worst integer, score real, active boolean, country text, updated bigint)`)
  await setup.end()
  const ends = await log.offsets.endOffsets(topic)
  const total = ends.reduce((a, b) => a + b, 0)
  const shares = Array.from({ length: loops }, (_, i) => ends.map((_, p) => p).filter((p) => p % loops === i)).filter((share) => share.length > 0)
  const start = process.hrtime.bigint()
  await Promise.all(shares.map((partitions) => rawLoop(log, topic, url, table, batch, partitions, partitions.reduce((n, p) => n + ends[p], 0))))
  return rate(total, start, process.hrtime.bigint())
}

/** One raw loop over `partitions` until it read `records` messages. */
async function rawLoop(log: Log, topic: string, url: string, table: string, batch: number, partitions: number[], records: number): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`CREATE TEMP TABLE staging (id text, clicks bigint, best integer, worst integer, score real, active boolean, country text, updated bigint)`)
    const reader = log.reader({ topic, from: 'earliest', partitions })
    let read = 0
    let lines: string[] = []
    const flush = async (): Promise<void> => {
      if (lines.length === 0) return
      const body = lines.join('')
      lines = []
      await client.query('TRUNCATE staging')
      await pipeline(Readable.from([body]), client.query(copyFrom('COPY staging FROM STDIN')))
      // Rows in key order, as ours writes them, so loops side by side do not deadlock.
      await client.query(
        `INSERT INTO ${table} SELECT id, sum(clicks), max(best), min(worst), max(score), bool_or(active), max(country), max(updated) FROM staging GROUP BY id ORDER BY id
         ON CONFLICT (id) DO UPDATE SET clicks = ${table}.clicks + excluded.clicks, best = GREATEST(${table}.best, excluded.best), worst = LEAST(${table}.worst, excluded.worst),
         score = COALESCE(excluded.score, ${table}.score), active = COALESCE(excluded.active, ${table}.active), country = COALESCE(excluded.country, ${table}.country), updated = excluded.updated`,
      )
    }
    try {
      while (read < records) {
        for (const r of await reader.poll({ timeoutMs: 1000 })) {
          const m = JSON.parse((r.value as Buffer).toString()) as { [k: string]: unknown }
          lines.push(`${copyText(m.id)}\t${copyText(m.clicks)}\t${copyText(m.best)}\t${copyText(m.worst)}\t${copyText(m.score)}\t${copyText(m.active)}\t${copyText(m.country)}\t${copyText(m.updated)}\n`)
          read++
          if (lines.length >= batch) await flush()
        }
      }
      await flush()
    } finally {
      await reader.close()
    }
  } finally {
    await client.end()
  }
}

/**
 * Ours: a job with `processors` processors; done when the group committed every message. The clock
 * starts at the first message read: joining the consumer group (the broker's initial rebalance
 * delay, 3 s by default) is reported apart as `joinMs`.
 */
async function ours(log: Log, job: JobConfig, url: string, records: number, stateDir: string): Promise<{ perSec: number; joinMs: number }> {
  const driver = new JobDriver(job, { logUrl: `kafka://${job.streamConfig.kafkaBroker}`, sink: (j) => new PostgresSink(j, { url }), stateDir, logger: createLogger({ level: 'warn' }), metrics: false })
  const begin = process.hrtime.bigint()
  let start: bigint | undefined
  driver.start()
  try {
    for (;;) {
      if (start === undefined && Object.values(driver.status().processorContext).some((p) => p.totalMessages > 0)) start = process.hrtime.bigint()
      const committed = (await log.offsets.committed(driver.groupId, job.streamConfig.topic)).reduce((n, o) => n + Math.max(0, o.offset), 0)
      if (committed >= records) break
      const s = driver.status()
      if (s.failedProcessors > 0) throw new Error(`job ${job.job}: a processor failed: ${JSON.stringify(Object.values(s.processorContext).flatMap((p) => p.errors))}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    const end = process.hrtime.bigint()
    start ??= begin
    return { perSec: rate(records, start, end), joinMs: Math.round(Number(start - begin) / 1e6) }
  } finally {
    await driver.stop()
  }
}

/** Runs the benchmark and prints one line per processor count. */
export async function runIngestBench(options: IngestBenchOptions): Promise<void> {
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
  const server = startServer()
  const log = await openLog(`kafka://${brokers}`)
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-ingest-bench-'))
  const run = `${process.pid}_${Date.now().toString(36)}`
  const dbName = `ingest_bench_${run}`
  try {
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${dbName}`)
    await admin.end()
    const u = new URL(server.url)
    u.pathname = `/${dbName}`
    const url = u.toString()
    const topic = `ingest-bench-${run}`
    await log.admin.createTopic({ name: topic, partitions: PARTITIONS })
    const keys = Math.max(1, Math.floor(options.records / 2))
    const producer = log.producer()
    for (let i = 0; i < options.records; i += 10_000) {
      const n = Math.min(10_000, options.records - i)
      await producer.send(Array.from({ length: n }, (_, k) => ({ topic, key: `m${i + k}`, value: JSON.stringify(message(i + k, keys)) })))
    }
    for (const processors of options.processors) {
      let ceilingPerSec = 0
      let perSec = 0
      let joinMs = 0
      for (let round = 0; round < options.rounds; round++) {
        const suffix = `${processors}_${round}`
        ceilingPerSec = Math.max(ceilingPerSec, await ceiling(log, topic, url, `ceiling_${suffix}`, options.batch, processors))
        const job = jobFor(`ingest-bench-${run}-${suffix}`, topic, `ours_${suffix}`, processors, options.batch, brokers)
        const result = await ours(log, job, url, options.records, path.join(stateDir, suffix))
        if (result.perSec > perSec) ({ perSec, joinMs } = result)
        const check = new pg.Client({ connectionString: url })
        await check.connect()
        const a = await check.query(`SELECT count(*)::int AS n, sum(clicks)::text AS clicks, max(best) AS best, min(worst) AS worst FROM ours_${suffix}`)
        const b = await check.query(`SELECT count(*)::int AS n, sum(clicks)::text AS clicks, max(best) AS best, min(worst) AS worst FROM ceiling_${suffix}`)
        await check.query(`DROP TABLE ours_${suffix}; DROP TABLE ceiling_${suffix}`)
        await check.end()
        if (JSON.stringify(a.rows) !== JSON.stringify(b.rows)) throw new Error(`ours and the ceiling disagree: ${JSON.stringify(a.rows)} vs ${JSON.stringify(b.rows)}`)
      }
      report({ bench: 'ingest', records: options.records, processors, perSec, ceilingPerSec, ratio: 0, joinMs, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) }, options.json)
    }
  } finally {
    await log.close()
    fs.rmSync(stateDir, { recursive: true, force: true })
    try {
      const admin = new pg.Client({ connectionString: server.url })
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      await admin.end()
    } catch {
      // the server may be gone
    }
    server.stop()
  }
}
