/**
 * Failover between worker processes: kill -9 of a worker hands its shards to the others within the
 * lease duration plus one balancing tick, with no record lost and duplicates only after the dead
 * worker's last checkpoint; a SIGSTOPped worker that wakes up is a zombie: it gets ZOMBIE and cannot
 * checkpoint.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { dynamoClient, kinesisClient } from '../../src/kinesis/index.ts'
import { dynamoLeaseStore } from '../../src/lease/index.ts'
import { startAwsEmulators, type AwsEmulators } from '../helpers/aws-emulators.ts'
import { createStream, produce, uid, waitFor, type Produced } from './helpers.ts'

const fixture = path.join(import.meta.dirname, 'fixtures', 'worker-process.ts')
const LEASE_MS = 1_500
const BALANCE_MS = 250

let aws: AwsEmulators
let kinesis: KinesisClient
before(async () => {
  aws = await startAwsEmulators()
  kinesis = kinesisClient(aws.kinesis.config)
})
after(async () => {
  kinesis?.destroy()
  await aws?.stop()
})

interface Event {
  worker: string
  t: number
  ev: string
  shard?: string
  seqs?: string[]
  seq?: string
  reason?: string
  attempt?: string
  code?: string
}

class Fleet {
  readonly events: Event[] = []
  readonly children = new Map<string, ChildProcess>()
  readonly stderr = new Map<string, string>()
  readonly stream: string
  readonly table: string

  constructor(stream: string, table: string) {
    this.stream = stream
    this.table = table
  }

  start(id: string): void {
    const child = spawn(process.execPath, [fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TRIBUTARY_LOG_LEVEL: 'error',
        KINESIS_ENDPOINT: aws.kinesis.url,
        DYNAMO_ENDPOINT: aws.dynamo.url,
        STREAM: this.stream,
        TABLE: this.table,
        WORKER_ID: id,
        LEASE_MS: String(LEASE_MS),
        BALANCE_MS: String(BALANCE_MS),
      },
    })
    let buffer = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop() ?? ''
      for (const line of lines) if (line.startsWith('{')) this.events.push(JSON.parse(line) as Event)
    })
    this.stderr.set(id, '')
    child.stderr?.on('data', (chunk: Buffer) => this.stderr.set(id, ((this.stderr.get(id) ?? '') + chunk.toString()).slice(-4000)))
    this.children.set(id, child)
  }

  /** Shards each worker holds now: its last init minus those it shut down since. */
  held(): Map<string, string> {
    const owner = new Map<string, string>()
    for (const e of this.events) {
      if (e.ev === 'init' && e.shard) owner.set(e.shard, e.worker)
      if (e.ev === 'shutdown' && e.shard && owner.get(e.shard) === e.worker) owner.delete(e.shard)
    }
    return owner
  }

  counts(ids: string[]): number[] {
    const held = [...this.held().values()]
    return ids.map((id) => held.filter((w) => w === id).length)
  }

  processed(): Map<string, number> {
    const seen = new Map<string, number>()
    for (const e of this.events) if (e.ev === 'records') for (const s of e.seqs ?? []) seen.set(s, (seen.get(s) ?? 0) + 1)
    return seen
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.on('exit', () => resolve())
            child.kill('SIGCONT')
            child.kill('SIGTERM')
            setTimeout(() => child.kill('SIGKILL'), 5_000).unref()
          }),
      ),
    )
  }
}

describe('Kinesis worker failover between processes', () => {
  it('kill -9: the dead worker\'s shards are processed again after the lease duration plus the balancing ticks; nothing lost; duplicates only after its last checkpoint', async (t) => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(kinesis, stream, 8)
    const fleet = new Fleet(stream, table)
    after(() => fleet.stopAll())
    const ids = ['a', 'b', 'c']
    for (const id of ids) fleet.start(id)
    const produced: Produced[] = [...(await produce(kinesis, stream, 400, 'p0'))]
    await waitFor('3 workers balanced over 8 shards', () => {
      const counts = fleet.counts(ids)
      return counts.reduce((x, y) => x + y) === 8 && Math.max(...counts) - Math.min(...counts) <= 1
    }, 30_000)
    await waitFor('the first records processed', () => produced.every((p) => fleet.processed().has(p.sequenceNumber)), 20_000)

    // keep producing while the victim dies
    let producing = true
    const producer = (async () => {
      for (let i = 1; producing; i++) {
        produced.push(...(await produce(kinesis, stream, 40, `p${i}`)))
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    await new Promise((r) => setTimeout(r, 300))
    const victim = 'b'
    const victimShards = [...fleet.held()].filter(([, w]) => w === victim).map(([s]) => s)
    assert.ok(victimShards.length >= 2)
    const killedAt = Date.now()
    fleet.children.get(victim)?.kill('SIGKILL')
    const lastCheckpoint = new Map<string, string>()
    for (const e of fleet.events) if (e.worker === victim && e.ev === 'checkpointed' && e.shard && e.seq) lastCheckpoint.set(e.shard, e.seq)

    await waitFor('the victim\'s shards are taken by the survivors', () => victimShards.every((s) => fleet.events.some((e) => e.ev === 'init' && e.shard === s && e.worker !== victim && e.t >= killedAt)), 20_000)
    const takenAt = Math.max(...victimShards.map((s) => fleet.events.find((e) => e.ev === 'init' && e.shard === s && e.worker !== victim && e.t >= killedAt)?.t ?? Infinity))
    const failoverMs = takenAt - killedAt
    producing = false
    await producer
    await waitFor('every produced record processed', () => {
      const seen = fleet.processed()
      return produced.every((p) => seen.has(p.sequenceNumber))
    }, 30_000)
    // lease duration + one tick to notice + one tick to see the last renewal, plus scheduling slack:
    // the 2 cores are shared with other jobs (measured 1.8 s idle, up to 3.7 s at load 12)
    assert.ok(failoverMs <= LEASE_MS + 2 * BALANCE_MS + 2_500, `failover took ${failoverMs} ms`)
    assert.ok(failoverMs >= 500, `failover took ${failoverMs} ms: leases were not taken before they could expire`)
    t.diagnostic(`failover ${failoverMs} ms (lease ${LEASE_MS} ms + tick ${BALANCE_MS} ms); ${[...fleet.processed().values()].filter((n) => n > 1).length} duplicates`)
    const seen = fleet.processed()
    const shardOf = new Map(produced.map((p) => [p.sequenceNumber, p.shardId]))
    for (const [seq, times] of seen) {
      if (times === 1) continue
      const shard = shardOf.get(seq) as string
      assert.ok(victimShards.includes(shard), `duplicate ${seq} is in one of the victim's shards`)
      const cp = lastCheckpoint.get(shard)
      assert.ok(cp === undefined || BigInt(seq) > BigInt(cp), `duplicate ${seq} comes after the victim's last checkpoint ${cp}`)
    }
    await fleet.stopAll()
  })

  it('a SIGSTOPped worker that wakes up after its leases were taken gets ZOMBIE and cannot checkpoint', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(kinesis, stream, 4)
    const fleet = new Fleet(stream, table)
    after(() => fleet.stopAll())
    fleet.start('a')
    fleet.start('b')
    await produce(kinesis, stream, 100, 'x')
    await waitFor('2 and 2', () => fleet.counts(['a', 'b']).join() === '2,2', 30_000)
    const aShards = [...fleet.held()].filter(([, w]) => w === 'a').map(([s]) => s)
    const stoppedAt = Date.now()
    fleet.children.get('a')?.kill('SIGSTOP')
    await waitFor('b takes a\'s shards', () => aShards.every((s) => fleet.events.some((e) => e.ev === 'init' && e.worker === 'b' && e.shard === s && e.t >= stoppedAt)), 20_000)
    await produce(kinesis, stream, 100, 'y')
    await waitFor('b checkpoints on a\'s shards', () => aShards.every((s) => fleet.events.some((e) => e.ev === 'checkpointed' && e.worker === 'b' && e.shard === s && e.t >= stoppedAt)), 20_000)
    const wokeAt = Date.now()
    fleet.children.get('a')?.kill('SIGCONT')
    await waitFor('a shuts its old shards down as ZOMBIE', () => aShards.every((s) => fleet.events.some((e) => e.ev === 'shutdown' && e.worker === 'a' && e.shard === s && e.t >= wokeAt)), 20_000)
    for (const s of aShards) {
      const down = fleet.events.find((e) => e.ev === 'shutdown' && e.worker === 'a' && e.shard === s && e.t >= wokeAt) as Event
      assert.equal(down.reason, 'ZOMBIE')
      assert.equal(down.attempt, 'TRIB_LEASE_LOST')
      assert.ok(!fleet.events.some((e) => e.ev === 'checkpointed' && e.worker === 'a' && e.shard === s && e.t >= wokeAt), 'no checkpoint by the zombie')
    }
    // the table keeps b's checkpoints for those shards
    const store = dynamoLeaseStore({ client: dynamoClient(aws.dynamo.config), tableName: table })
    for (const s of aShards) {
      const bLast = fleet.events.filter((e) => e.ev === 'checkpointed' && e.worker === 'b' && e.shard === s).at(-1)?.seq
      const row = await store.get(s)
      assert.ok(row?.checkpoint !== undefined && BigInt(row.checkpoint) >= BigInt(bLast as string), `${s}: checkpoint ${row?.checkpoint} not behind b's ${bLast}`)
    }
    await fleet.stopAll()
  })
})
