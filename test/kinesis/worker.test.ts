/**
 * The Kinesis worker against kinesalite and dynalite through the AWS SDK v3: balancing, ordered
 * at-least-once processing, graceful shutdown with release, resume from checkpoints, and bad input.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { isTributaryError } from '../../src/core/index.ts'
import { KinesisWorker, dynamoClient, kinesisClient, type KinesisWorkerOptions } from '../../src/kinesis/index.ts'
import { dynamoLeaseStore } from '../../src/lease/index.ts'
import { startDenyingProxy, startThrottlingProxy } from '../helpers/throttling-proxy.ts'
import { Recorder, createStream, produce, uid, useAwsEmulators, waitFor } from './helpers.ts'

const env = useAwsEmulators()

const fast = { leaseDurationMs: 1_000, leaseRenewIntervalMs: 250, balanceIntervalMs: 150, emptyRecordBackoffMs: 30, shardSyncIntervalMs: 500, metrics: false } as const

function worker(stream: string, table: string, options: Partial<KinesisWorkerOptions> & Pick<KinesisWorkerOptions, 'consumer'>): KinesisWorker {
  return new KinesisWorker({ streamName: stream, tableName: table, kinesis: env.kinesis, dynamo: env.dynamo, ...fast, ...options })
}

describe('KinesisWorker', () => {
  it('three workers over eight shards: balanced within one lease, every record processed once and in order per shard', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 8)
    const produced = await produce(env.kinesis, stream, 800)
    const rec = new Recorder()
    const workers = ['a', 'b', 'c'].map((id) => worker(stream, table, { workerId: id, consumer: rec.consumer(id) }))
    for (const w of workers) await w.start()
    await waitFor('all records processed', () => rec.records().length >= produced.length, 20_000)
    await waitFor('balanced within one', () => {
      const counts = workers.map((w) => w.shards().length)
      return counts.reduce((a, b) => a + b) === 8 && Math.max(...counts) - Math.min(...counts) <= 1
    }, 20_000)
    // in order per shard, no gaps, nothing twice
    const seen = rec.records()
    assert.deepEqual([...new Set(seen.map((r) => r.sequenceNumber))].length, seen.length, 'no record twice without a failure')
    for (const shard of new Set(produced.map((p) => p.shardId))) {
      const want = produced.filter((p) => p.shardId === shard).map((p) => p.sequenceNumber)
      const got = seen.filter((r) => r.shardId === shard).map((r) => r.sequenceNumber)
      assert.deepEqual(got, want, `shard ${shard} in order`)
    }
    await Promise.all(workers.map((w) => w.shutdown()))
    const leases = await dynamoLeaseStore({ client: env.dynamo, tableName: table }).list()
    assert.equal(leases.length, 8)
    for (const lease of leases) {
      assert.equal(lease.owner, undefined, `${lease.key} released at shutdown`)
      const last = produced.filter((p) => p.shardId === lease.key).at(-1)?.sequenceNumber
      assert.equal(lease.checkpoint, last, `${lease.key} checkpointed at its last record`)
    }
    assert.ok(rec.shutdowns().every((s) => s.reason === 'REQUESTED'))
  })

  it('a graceful shutdown hands its shards over at once and a restart resumes after the checkpoint', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 2)
    const first = await produce(env.kinesis, stream, 100, 'first')
    const rec = new Recorder()
    let slow = true
    const a = worker(stream, table, {
      workerId: 'a',
      leaseDurationMs: 30_000, // expiry cannot explain a fast hand-over
      consumer: rec.consumer('a', { onRecords: async () => { if (slow) await new Promise((r) => setTimeout(r, 200)) } }),
    })
    await a.start()
    await waitFor('a processes the first batch', () => rec.data().length >= 1, 10_000)
    slow = false
    await waitFor('a processed the first records', () => rec.data().length >= first.length, 10_000)
    const b = worker(stream, table, { workerId: 'b', leaseDurationMs: 30_000, enableLeaseStealing: false, consumer: rec.consumer('b') })
    await b.start()
    assert.equal(b.shards().length, 0, 'a holds everything')
    const stoppedAt = Date.now()
    await a.shutdown()
    await waitFor('b takes both shards after the release', () => b.shards().length === 2, 5_000)
    assert.ok(Date.now() - stoppedAt < 5_000)
    const second = await produce(env.kinesis, stream, 50, 'second')
    await waitFor('b processes the new records', () => rec.data().filter((d) => d.startsWith('second')).length === second.length, 10_000)
    const byB = rec.events.filter((e) => e.worker === 'b' && e.type === 'records').flatMap((e) => (e.type === 'records' ? e.records.map((r) => r.data.toString()) : []))
    assert.deepEqual(byB.sort(), second.map((p) => p.data).sort(), 'b resumes after a\'s checkpoints: nothing of the first batch again')
    await b.shutdown()
  })

  it('manual checkpoints only with disableAutomaticCheckpoints; metrics with vmware-go-kcl names count records, bytes and renewals', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 1)
    const produced = await produce(env.kinesis, stream, 20)
    const registry = new Registry()
    const rec = new Recorder()
    const w = worker(stream, table, {
      workerId: 'm',
      disableAutomaticCheckpoints: true,
      metrics: { registry, prefix: 'app' },
      consumer: rec.consumer('m', { onRecords: async (records, cp) => cp.checkpoint(records[4].sequenceNumber) }),
    })
    await w.start()
    await waitFor('processed', () => rec.records().length === 20, 10_000)
    await waitFor('a renewal', async () => ((await registry.getSingleMetric('app_lease_renewals')?.get())?.values[0]?.value ?? 0) > 0, 5_000)
    await w.shutdown()
    const lease = await dynamoLeaseStore({ client: env.dynamo, tableName: table }).get(produced[0].shardId)
    assert.equal(lease?.checkpoint, produced[4].sequenceNumber, 'the manual checkpoint, not the last record')
    const text = await registry.metrics()
    assert.match(text, new RegExp(`app_processed_records\\{kinesisStream="${stream}",shard="shardId-000000000000"\\} 20`))
    assert.match(text, /app_processed_bytes\{[^}]*\} \d+/)
    assert.match(text, /app_behind_latest_millis\{/)
    assert.match(text, new RegExp(`app_leases_held\\{kinesisStream="${stream}",workerID="m"\\} 0`))
    assert.match(text, /app_get_records_duration_milliseconds_bucket/)
    assert.match(text, /app_process_records_duration_milliseconds_count\{[^}]*\} \d+/)
  })

  it('bad input: a missing stream, a lease table of the wrong schema, and invalid options each name what is wrong', async () => {
    const rec = new Recorder()
    await assert.rejects(worker('no-such-stream', uid('t'), { consumer: rec.consumer('x') }).start(), (err: unknown) => isTributaryError(err, 'TRIB_KINESIS') && /no-such-stream does not exist/.test((err as Error).message))
    const stream = uid('s')
    await createStream(env.kinesis, stream, 1)
    const wrong = uid('wrong')
    await env.dynamo.send(new CreateTableCommand({ TableName: wrong, AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }))
    await assert.rejects(worker(stream, wrong, { consumer: rec.consumer('x') }).start(), (err: unknown) => isTributaryError(err, 'TRIB_LEASE_SCHEMA') && (err as Error).message.includes(wrong))
    assert.throws(() => worker(stream, uid('t'), { consumer: rec.consumer('x'), leaseDurationMs: -5 }), (err: unknown) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT') && /leaseDurationMs: must be greater than 0/.test((err as Error).message))
    assert.throws(() => worker(stream, uid('t'), { consumer: rec.consumer('x'), shardIteratorType: 'AT_TIMESTAMP' }), /timestamp: is required with shardIteratorType AT_TIMESTAMP/)
    assert.throws(() => new KinesisWorker({ streamName: stream, kinesis: env.kinesis, consumer: rec.consumer('x') }), /tableName: is required without leaseStore/)
    assert.throws(() => worker(stream, uid('t'), { consumer: {} as never }), /consumer: expected an object/)
  })

  it('LATEST starts at the tip; AT_TIMESTAMP starts at the time given', async () => {
    const stream = uid('s')
    await createStream(env.kinesis, stream, 1)
    await produce(env.kinesis, stream, 5, 'old')
    const rec = new Recorder()
    const latest = worker(stream, uid('t'), { workerId: 'l', shardIteratorType: 'LATEST', consumer: rec.consumer('l') })
    after(() => latest.shutdown())
    await latest.start()
    await waitFor('shard held', () => latest.shards().length === 1 && latest.shards()[0].millisBehindLatest !== undefined, 5_000)
    await produce(env.kinesis, stream, 3, 'new')
    await waitFor('new records', () => rec.data().length === 3, 5_000)
    assert.deepEqual(rec.data(), ['new-0', 'new-1', 'new-2'])
    await latest.shutdown()
    await new Promise((r) => setTimeout(r, 20))
    const from = new Date()
    await new Promise((r) => setTimeout(r, 20))
    await produce(env.kinesis, stream, 2, 'later')
    const rec2 = new Recorder()
    const at = worker(stream, uid('t'), { workerId: 't', shardIteratorType: 'AT_TIMESTAMP', timestamp: from, consumer: rec2.consumer('t') })
    try {
      await at.start()
      await waitFor('later records', () => rec2.data().length >= 2, 5_000)
      assert.deepEqual(rec2.data(), ['later-0', 'later-1'], 'only records at or after the timestamp')
    } finally {
      await at.shutdown()
    }
  })
})

describe('KinesisWorker under read throttling', () => {
  it('survives ProvisionedThroughputExceededException from the server: backs off and loses nothing', async () => {
    const stream = uid('s')
    await createStream(env.kinesis, stream, 2)
    const produced = await produce(env.kinesis, stream, 300)
    const proxy = await startThrottlingProxy(env.aws.kinesis.url, 0.5)
    after(() => proxy.close())
    // one SDK attempt: the worker's own backoff has to handle the throttling
    const throttledClient = kinesisClient({ ...env.aws.kinesis.config, endpoint: proxy.url, maxAttempts: 1 })
    after(() => throttledClient.destroy())
    const rec = new Recorder()
    const w = new KinesisWorker({ streamName: stream, tableName: uid('t'), kinesis: throttledClient, dynamo: env.dynamo, consumer: rec.consumer('t'), maxRecords: 50, ...fast })
    try {
      await w.start()
      await waitFor('every record despite throttling', () => rec.records().length >= produced.length, 30_000).catch((err: unknown) => { throw new Error(`${(err as Error).message}: ${rec.records().length} of ${produced.length}, throttled ${proxy.throttled}, passed ${proxy.passed}`) })
    } finally {
      await w.shutdown()
    }
    assert.ok(proxy.throttled > 3, `the server throttled ${proxy.throttled} calls`)
    assert.deepEqual(rec.records().map((r) => r.sequenceNumber).sort(), produced.map((p) => p.sequenceNumber).sort())
  })
})

describe('KinesisWorker without permissions', () => {
  it('missing DynamoDB and Kinesis permissions are named: the operation, the table or stream, the grant', async () => {
    const stream = uid('s')
    await createStream(env.kinesis, stream, 1)
    const rec = new Recorder()
    const deniedDynamo = await startDenyingProxy(env.aws.dynamo.url, 'DescribeTable', '1.0')
    after(() => deniedDynamo.close())
    const d = dynamoClient({ ...env.aws.dynamo.config, endpoint: deniedDynamo.url, maxAttempts: 1 })
    after(() => d.destroy())
    const table = uid('t')
    await assert.rejects(
      new KinesisWorker({ streamName: stream, tableName: table, kinesis: env.kinesis, dynamo: d, consumer: rec.consumer('x'), metrics: false }).start(),
      (err: unknown) => isTributaryError(err, 'TRIB_LEASE_STORE') && (err as Error).message.includes(`DynamoDB denied DescribeTable on lease table ${table}: grant dynamodb:DescribeTable`),
    )
    const deniedKinesis = await startDenyingProxy(env.aws.kinesis.url, 'ListShards', '1.1')
    after(() => deniedKinesis.close())
    const k = kinesisClient({ ...env.aws.kinesis.config, endpoint: deniedKinesis.url, maxAttempts: 1 })
    after(() => k.destroy())
    await assert.rejects(
      new KinesisWorker({ streamName: stream, tableName: uid('t'), kinesis: k, dynamo: env.dynamo, consumer: rec.consumer('x'), metrics: false }).start(),
      (err: unknown) => isTributaryError(err, 'TRIB_KINESIS') && (err as Error).message.includes(`access denied to Kinesis stream ${stream}: grant kinesis:ListShards`),
    )
  })
})

describe('KinesisWorker when processRecords throws', () => {
  it('releases the shard without checkpointing the failed batch; the batch is delivered again', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 1)
    const produced = await produce(env.kinesis, stream, 10)
    const rec = new Recorder()
    let failures = 1
    const w = worker(stream, table, {
      workerId: 'f',
      consumer: rec.consumer('f', {
        onRecords: () => {
          if (failures-- > 0) throw new Error('boom')
        },
      }),
    })
    try {
      await w.start()
      await waitFor('the batch delivered a second time and checkpointed', async () => (await dynamoLeaseStore({ client: env.dynamo, tableName: table }).get(produced[0].shardId))?.checkpoint === produced.at(-1)?.sequenceNumber, 10_000)
      const batches = rec.events.filter((e) => e.type === 'records')
      assert.ok(batches.length >= 2)
      assert.equal(batches[0].type === 'records' && batches[0].records[0].sequenceNumber, produced[0].sequenceNumber)
      assert.equal(batches[1].type === 'records' && batches[1].records[0].sequenceNumber, produced[0].sequenceNumber, 'the failed batch comes again from its first record')
    } finally {
      await w.shutdown()
    }
  })
})

describe('KinesisWorker lease renewal and other lease stores', () => {
  it('a processRecords slower than the lease duration does not lose the lease: renewal runs on its own timer', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 1)
    const produced = await produce(env.kinesis, stream, 5)
    const rec = new Recorder()
    let first = true
    const slow = worker(stream, table, {
      workerId: 'slow',
      consumer: rec.consumer('slow', {
        onRecords: async () => {
          if (first) {
            first = false
            await new Promise((r) => setTimeout(r, 2_500)) // 2.5 x the lease duration
          }
        },
      }),
    })
    const other = worker(stream, table, { workerId: 'other', consumer: rec.consumer('other') })
    try {
      await slow.start()
      await other.start()
      await waitFor('the slow batch checkpointed', async () => (await dynamoLeaseStore({ client: env.dynamo, tableName: table }).get(produced[0].shardId))?.checkpoint === produced.at(-1)?.sequenceNumber, 10_000)
      assert.ok(!rec.events.some((e) => e.worker === 'other'), 'the other worker never took the shard')
      assert.ok(!rec.shutdowns().some((s) => s.reason === 'ZOMBIE'))
    } finally {
      await Promise.all([slow.shutdown(), other.shutdown()])
    }
  })

  it('runs on the embedded lease store (leaseStore instead of tableName)', async () => {
    const { embeddedLeaseStore } = await import('../../src/lease/index.ts')
    const fs = await import('node:fs')
    const os = await import('node:os')
    const path = await import('node:path')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-kinesis-leases-'))
    after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const stream = uid('s')
    await createStream(env.kinesis, stream, 2)
    const produced = await produce(env.kinesis, stream, 30)
    const rec = new Recorder()
    const store = embeddedLeaseStore({ dir })
    const w = new KinesisWorker({ streamName: stream, leaseStore: store, kinesis: env.kinesis, consumer: rec.consumer('e'), ...fast })
    try {
      await w.start()
      await waitFor('processed', () => rec.records().length === 30, 10_000)
    } finally {
      await w.shutdown()
    }
    const leases = await store.list()
    assert.deepEqual(leases.map((l) => l.checkpoint).sort(), ['0', '1'].map((i) => produced.filter((p) => p.shardId === `shardId-00000000000${i}`).at(-1)?.sequenceNumber).sort())
    await store.close()
  })
})
