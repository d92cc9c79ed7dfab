/** Shared helpers of the Kinesis tests: streams on kinesalite, producing, and a recording consumer. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis'
import { randomUUID } from 'node:crypto'
import { after, before } from 'node:test'
import { dynamoClient, kinesisClient, type Checkpointer, type KinesisRecord, type RecordConsumer, type ShutdownReason } from '../../src/kinesis/index.ts'
import { startAwsEmulators, type AwsEmulators } from '../helpers/aws-emulators.ts'
import { waitFor } from '../lease/conformance.ts'

export { waitFor }

/** kinesalite and dynalite with one client for each; the fields are set once the `before` hook has run. */
export interface AwsTestEnv {
  aws: AwsEmulators
  kinesis: KinesisClient
  dynamo: DynamoDBClient
}

/**
 * Registers a `before` hook that starts kinesalite and dynalite and opens a client for each, and an
 * `after` hook that closes the clients and stops the emulators, in the current suite (or the file).
 *
 * @example
 * const env = useAwsEmulators()
 * it('...', async () => { await createStream(env.kinesis, uid('s'), 1) })
 */
export function useAwsEmulators(): AwsTestEnv {
  const env = {} as AwsTestEnv
  before(async () => {
    env.aws = await startAwsEmulators()
    env.kinesis = kinesisClient(env.aws.kinesis.config)
    env.dynamo = dynamoClient(env.aws.dynamo.config)
  })
  after(async () => {
    env.kinesis?.destroy()
    env.dynamo?.destroy()
    await env.aws?.stop()
  })
  return env
}

export const uid = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`

/** Creates a stream and waits until it is ACTIVE. */
export async function createStream(client: KinesisClient, name: string, shards: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }))
  await waitStreamActive(client, name)
}

export async function waitStreamActive(client: KinesisClient, name: string): Promise<void> {
  await waitFor(`stream ${name} ACTIVE`, async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE')
}

/** A produced record: where it landed. */
export interface Produced {
  shardId: string
  sequenceNumber: string
  data: string
}

/** Puts `count` records (data `prefix-i`, random partition keys) in batches of 500; returns where each landed. */
export async function produce(client: KinesisClient, stream: string, count: number, prefix = 'r'): Promise<Produced[]> {
  const out: Produced[] = []
  for (let start = 0; start < count; start += 500) {
    const entries = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({ Data: Buffer.from(`${prefix}-${start + i}`), PartitionKey: randomUUID() }))
    const res = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }))
    res.Records?.forEach((r, i) => {
      if (r.ErrorCode) throw new Error(`put failed: ${r.ErrorCode} ${r.ErrorMessage}`)
      out.push({ shardId: r.ShardId as string, sequenceNumber: r.SequenceNumber as string, data: entries[i].Data.toString() })
    })
  }
  return out
}

/** One event seen by a {@link Recorder}. */
export type RecorderEvent = { worker: string; shard: string } & ({ type: 'init' } | { type: 'records'; records: KinesisRecord[] } | { type: 'shutdown'; reason: ShutdownReason })

/** A consumer that records everything it sees, for every worker built with {@link Recorder.consumer}. */
export class Recorder {
  readonly events: RecorderEvent[] = []

  consumer(worker: string, options: { onRecords?: (records: readonly KinesisRecord[], cp: Checkpointer) => Promise<void> | void } = {}): RecordConsumer {
    return {
      init: (shard) => void this.events.push({ worker, shard, type: 'init' }),
      processRecords: async (records, checkpointer) => {
        this.events.push({ worker, shard: checkpointer.shardId, type: 'records', records: [...records] })
        await options.onRecords?.(records, checkpointer)
      },
      shutdown: (reason, checkpointer) => void this.events.push({ worker, shard: checkpointer.shardId, type: 'shutdown', reason }),
    }
  }

  /** Every processed record's data, in processing order. */
  data(): string[] {
    return this.events.flatMap((e) => (e.type === 'records' ? e.records.map((r) => r.data.toString()) : []))
  }

  records(): KinesisRecord[] {
    return this.events.flatMap((e) => (e.type === 'records' ? e.records : []))
  }

  shutdowns(): { worker: string; shard: string; reason: ShutdownReason }[] {
    return this.events.flatMap((e) => (e.type === 'shutdown' ? [{ worker: e.worker, shard: e.shard, reason: e.reason }] : []))
  }
}
