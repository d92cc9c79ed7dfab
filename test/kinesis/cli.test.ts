/** `tributary kinesis status` against kinesalite and dynalite, with a worker holding the shards. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { describe, it } from 'node:test'
import { KinesisWorker } from '../../src/kinesis/index.ts'
import { Recorder, createStream, produce, uid, useAwsEmulators, waitFor } from './helpers.ts'

const main = path.join(import.meta.dirname, '../../src/cli/main.ts')
const env = useAwsEmulators()

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.on('exit', (status) => resolve({ status, stdout, stderr }))
  })
}

describe('tributary kinesis status', () => {
  it("prints each shard's owner, lease age, checkpoint and lag, as a table and as JSON", async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 2)
    const produced = await produce(env.kinesis, stream, 40)
    const rec = new Recorder()
    const worker = new KinesisWorker({ streamName: stream, tableName: table, workerId: 'status-worker', kinesis: env.kinesis, dynamo: env.dynamo, consumer: rec.consumer('w'), emptyRecordBackoffMs: 30, metrics: false })
    await worker.start()
    try {
      await waitFor('processed', () => rec.records().length === 40, 10_000)
      const endpoints = ['--endpoint', env.aws.kinesis.url, '--dynamo-endpoint', env.aws.dynamo.url]
      const text = await cli(['kinesis', 'status', '--stream', stream, '--table', table, ...endpoints])
      assert.equal(text.status, 0, text.stderr)
      assert.match(text.stdout, /^SHARD\s+STATE\s+OWNER\s+LEASE AGE\s+CHECKPOINT\s+BEHIND\s+PARENTS/)
      assert.match(text.stdout, /shardId-000000000000\s+open\s+status-worker\s+\d+\.\ds\s+\d+\s+\d+ms/)
      const json = await cli(['kinesis', 'status', '--stream', stream, '--table', table, ...endpoints, '--json'])
      const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { shardId: string; owner: string; checkpoint: string; millisBehindLatest: number; leaseAgeMs: number })
      assert.equal(rows.length, 2)
      for (const row of rows) {
        assert.equal(row.owner, 'status-worker')
        assert.equal(row.checkpoint, produced.filter((p) => p.shardId === row.shardId).at(-1)?.sequenceNumber)
        assert.equal(row.millisBehindLatest, 0)
        assert.ok(row.leaseAgeMs >= 0 && row.leaseAgeMs < 15_000)
      }
    } finally {
      await worker.shutdown()
    }
  })

  it('names a missing stream and missing options', async () => {
    const missing = await cli(['kinesis', 'status', '--stream', 'nope-stream', '--table', uid('t'), '--endpoint', env.aws.kinesis.url, '--dynamo-endpoint', env.aws.dynamo.url])
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /Kinesis stream nope-stream does not exist.*TRIB_KINESIS/)
    const noTable = await cli(['kinesis', 'status', '--stream', 's'])
    assert.notEqual(noTable.status, 0)
    assert.match(noTable.stderr, /required option '--table <name>'/)
  })
})
