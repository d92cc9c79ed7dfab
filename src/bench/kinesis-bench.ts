/**
 * `bench kinesis`: N records over 4 shards on kinesalite (a child process), read by the
 * `KinesisWorker` with a no-op consumer (leases and checkpoints in dynalite), beside the ceiling: a
 * raw `GetRecords` loop over the same shards with the same client settings, in the same run. Ours is
 * timed from `start()` resolving (lease table ready, leases taken) to the last record; the ceiling
 * from its first `GetRecords` (its shard iterators fetched before) to its last record. Then
 * failover: two worker processes share the shards, one is killed with SIGKILL while records keep
 * arriving, and the time until the survivor processes every shard of the dead one is measured
 * (target: lease duration + one balancing tick).
 * @module
 */
import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import path from 'node:path'
import { sleep } from '../core/backoff.ts'
import { KinesisWorker, dynamoClient, kinesisClient, listShards } from '../kinesis/index.ts'
import { startAwsEmulators, type AwsEmulators } from './aws-emulators.ts'
import { machine } from './report.ts'

/** Options of the Kinesis benchmark. */
export interface KinesisBenchOptions {
  records: number
  shards: number
  json: boolean
  /** Alternating rounds of the ceiling and ours; the best of each is reported. */
  rounds: number
  /** Lease duration of the failover phase (ms). */
  leaseDurationMs: number
  /** Balancing tick of the failover phase (ms). */
  balanceIntervalMs: number
}

/** What `bench kinesis --json` prints. */
export interface KinesisBenchResult {
  bench: 'kinesis'
  records: number
  shards: number
  perSec: number
  ceilingPerSec: number
  ratio: number
  /** kill -9 to the dead worker's shards processed again by the survivor. */
  failoverMs: number
  /** kill -9 to the survivor holding every lease of the dead worker. */
  takenMs: number
  leaseDurationMs: number
  balanceIntervalMs: number
  machine: string
}

async function createStream(client: KinesisClient, shards: number): Promise<string> {
  const stream = `bench-${randomUUID().slice(0, 8)}`
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }))
  while ((await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary?.StreamStatus !== 'ACTIVE') await sleep(20)
  return stream
}

async function fill(client: KinesisClient, stream: string, records: number): Promise<void> {
  const value = randomBytes(100)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < records) {
      const count = Math.min(500, records - next)
      next += count
      let entries = Array.from({ length: count }, () => ({ Data: value, PartitionKey: randomUUID() }))
      while (entries.length > 0) {
        const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }))
        entries = entries.filter((_, i) => out.Records?.[i]?.ErrorCode !== undefined)
      }
    }
  }
  await Promise.all([lane(), lane(), lane(), lane()])
}

/**
 * The ceiling: every shard read from TRIM_HORIZON with a bare GetRecords loop until `records` were
 * seen. The shard iterators are fetched before the clock starts, as ours has its leases and
 * iterators before `start()` resolves.
 */
async function ceiling(client: KinesisClient, stream: string, records: number): Promise<number> {
  const shards = await listShards(client, stream)
  const iterators = await Promise.all(
    shards.map(async (shard) => (await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator),
  )
  let seen = 0
  const started = performance.now()
  await Promise.all(
    iterators.map(async (first) => {
      let iterator = first
      while (iterator && seen < records) {
        const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
        seen += out.Records?.length ?? 0
        iterator = out.NextShardIterator
        if ((out.Records?.length ?? 0) === 0 && out.MillisBehindLatest === 0) break
      }
    }),
  )
  return (seen / (performance.now() - started)) * 1000
}

async function ours(aws: AwsEmulators, kinesis: KinesisClient, stream: string, records: number): Promise<number> {
  const dynamo = dynamoClient(aws.dynamo.config)
  let seen = 0
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => (resolveDone = resolve))
  const worker = new KinesisWorker({
    streamName: stream,
    tableName: `bench-${randomUUID().slice(0, 8)}`,
    kinesis,
    dynamo,
    emptyRecordBackoffMs: 50,
    metrics: false,
    consumer: {
      init: () => {},
      processRecords: (batch) => {
        seen += batch.length
        if (seen >= records) resolveDone()
      },
      shutdown: () => {},
    },
  })
  // timed from the moment the worker holds its leases (table creation and the first tick are set-up)
  await worker.start()
  const started = performance.now()
  await done
  const elapsed = performance.now() - started
  await worker.shutdown()
  dynamo.destroy()
  return (seen / elapsed) * 1000
}

async function failover(aws: AwsEmulators, kinesis: KinesisClient, options: KinesisBenchOptions): Promise<{ failoverMs: number; takenMs: number }> {
  // a stream of its own: the time measured is expiry + tick + one read, not a backlog
  const stream = await createStream(kinesis, options.shards)
  const table = `bench-failover-${randomUUID().slice(0, 8)}`
  const events: { worker: string; ev: string; shard?: string; t: number }[] = []
  const children: ChildProcess[] = []
  const start = (id: string): void => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'kinesis-bench-worker.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'error', KINESIS_ENDPOINT: aws.kinesis.url, DYNAMO_ENDPOINT: aws.dynamo.url, STREAM: stream, TABLE: table, WORKER_ID: id, LEASE_MS: String(options.leaseDurationMs), BALANCE_MS: String(options.balanceIntervalMs) },
    })
    let buffer = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop() ?? ''
      for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as (typeof events)[number])
    })
    children.push(child)
  }
  const until = async (what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`bench kinesis: timed out waiting for ${what}`)
      await sleep(20)
    }
  }
  const owners = (): Map<string, string> => {
    const m = new Map<string, string>()
    for (const e of events) if (e.ev === 'init' && e.shard) m.set(e.shard, e.worker)
    return m
  }
  let producing = true
  const trickle = (async () => {
    while (producing) {
      await fill(kinesis, stream, 20)
      await sleep(50)
    }
  })()
  try {
    start('a')
    start('b')
    await until('both workers holding shards', () => {
      const held = [...owners().values()]
      return held.filter((w) => w === 'a').length === options.shards / 2 && held.filter((w) => w === 'b').length === options.shards / 2
    })
    await sleep(500)
    const victim = owners()
    const lost = [...victim].filter(([, w]) => w === 'a').map(([s]) => s)
    const killedAt = Date.now()
    children[0].kill('SIGKILL')
    await until('the survivor processing every shard of the dead worker', () => lost.every((s) => events.some((e) => e.ev === 'records' && e.worker === 'b' && e.shard === s && e.t > killedAt)))
    const back = Math.max(...lost.map((s) => events.find((e) => e.ev === 'records' && e.worker === 'b' && e.shard === s && e.t > killedAt)?.t ?? 0))
    const taken = Math.max(...lost.map((s) => events.find((e) => e.ev === 'init' && e.worker === 'b' && e.shard === s && e.t > killedAt)?.t ?? 0))
    return { failoverMs: back - killedAt, takenMs: taken - killedAt }
  } finally {
    producing = false
    await trickle
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

/** Runs the benchmark and prints its result. */
export async function runKinesisBench(options: KinesisBenchOptions): Promise<KinesisBenchResult> {
  const aws = await startAwsEmulators({ shardLimit: 1000 })
  const kinesis = kinesisClient({ ...aws.kinesis.config, maxAttempts: 10 })
  try {
    const stream = await createStream(kinesis, options.shards)
    if (!options.json) console.log(`# filling ${options.records.toLocaleString('en')} records of 100 bytes over ${options.shards} shards on kinesalite`)
    await fill(kinesis, stream, options.records)
    // alternate rounds on a noisy machine; the best of each side is reported
    let ceilingPerSec = 0
    let perSec = 0
    for (let round = 0; round < options.rounds; round++) {
      ceilingPerSec = Math.max(ceilingPerSec, await ceiling(kinesis, stream, options.records))
      perSec = Math.max(perSec, await ours(aws, kinesis, stream, options.records))
    }
    if (!options.json) console.log(`# failover: 2 worker processes, lease ${options.leaseDurationMs} ms, tick ${options.balanceIntervalMs} ms, kill -9 of one`)
    const { failoverMs, takenMs } = await failover(aws, kinesis, options)
    const result: KinesisBenchResult = {
      bench: 'kinesis',
      records: options.records,
      shards: options.shards,
      perSec: Math.round(perSec),
      ceilingPerSec: Math.round(ceilingPerSec),
      ratio: Math.round((perSec / ceilingPerSec) * 1000) / 1000,
      failoverMs,
      takenMs,
      leaseDurationMs: options.leaseDurationMs,
      balanceIntervalMs: options.balanceIntervalMs,
      machine: machine(),
    }
    if (options.json) console.log(JSON.stringify(result))
    else {
      console.log(`kinesis read           ${result.records.toLocaleString('en')} records  ours ${result.perSec.toLocaleString('en')} rec/s  ceiling ${result.ceilingPerSec.toLocaleString('en')} rec/s  ratio ${result.ratio}`)
      console.log(`kinesis failover       ${failoverMs} ms from kill -9 to the dead worker's shards processed again, leases taken after ${takenMs} ms (lease ${options.leaseDurationMs} ms + tick ${options.balanceIntervalMs} ms)`)
    }
    return result
  } finally {
    kinesis.destroy()
    await aws.stop()
  }
}
