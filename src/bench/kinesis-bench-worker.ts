/**
 * One Kinesis worker process for the failover phase of `bench kinesis`: a no-op consumer that prints
 * `{"ev":"records","shard":…,"t":…}` per batch and `{"ev":"init",…}` per shard on stdout. Configured by
 * KINESIS_ENDPOINT, DYNAMO_ENDPOINT, STREAM, TABLE, WORKER_ID, LEASE_MS, BALANCE_MS.
 * @module
 */
import { KinesisWorker, dynamoClient, kinesisClient } from '../kinesis/index.ts'

const env = process.env
const aws = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
const print = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ worker: env.WORKER_ID, t: Date.now(), ...event })}\n`)
const worker = new KinesisWorker({
  streamName: env.STREAM as string,
  tableName: env.TABLE as string,
  workerId: env.WORKER_ID,
  kinesis: kinesisClient({ ...aws, endpoint: env.KINESIS_ENDPOINT }),
  dynamo: dynamoClient({ ...aws, endpoint: env.DYNAMO_ENDPOINT }),
  leaseDurationMs: Number(env.LEASE_MS),
  balanceIntervalMs: Number(env.BALANCE_MS),
  emptyRecordBackoffMs: 50,
  metrics: false,
  consumer: {
    init: (shard) => print({ ev: 'init', shard }),
    processRecords: (records, checkpointer) => print({ ev: 'records', shard: checkpointer.shardId, n: records.length }),
    shutdown: () => {},
  },
})
process.on('SIGTERM', () => void worker.shutdown().then(() => process.exit(0)))
await worker.start()
print({ ev: 'ready' })
