/** KPL de-aggregation: the format on its own, and through the worker on kinesalite. */
import { PutRecordCommand } from '@aws-sdk/client-kinesis'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { KPL_MAGIC, KinesisWorker, aggregate, deaggregate, isAggregated } from '../../src/kinesis/index.ts'
import { Recorder, createStream, uid, useAwsEmulators, waitFor } from './helpers.ts'

const frame = (body: Buffer, md5 = createHash('md5').update(body).digest()): Buffer => Buffer.concat([KPL_MAGIC, body, md5])

describe('deaggregate', () => {
  it('round-trips user records with partition keys, explicit hash keys and sub-sequence numbers', () => {
    const users = [
      { partitionKey: 'a', data: Buffer.from('one') },
      { partitionKey: 'b', explicitHashKey: '12345', data: Buffer.from('two') },
      { partitionKey: 'a', data: Buffer.alloc(0) },
      { partitionKey: 'c', data: Buffer.alloc(300, 7) },
    ]
    const packed = aggregate(users)
    assert.ok(isAggregated(packed))
    const out = deaggregate(packed)
    assert.deepEqual(out.map((u) => [u.partitionKey, u.explicitHashKey, u.data.toString('hex'), u.subSequenceNumber]), users.map((u, i) => [u.partitionKey, u.explicitHashKey, Buffer.from(u.data).toString('hex'), i]))
  })

  it('passes a plain record through as one record', () => {
    const out = deaggregate(Buffer.from('plain'), 'pk')
    assert.deepEqual(out.map((u) => [u.partitionKey, u.data.toString(), u.subSequenceNumber]), [['pk', 'plain', 0]])
  })

  it('names what is wrong in a malformed aggregated record', () => {
    const good = aggregate([{ partitionKey: 'a', data: Buffer.from('x') }])
    const body = good.subarray(4, good.length - 16)
    const reject = (data: Buffer, pattern: RegExp): void => assert.throws(() => deaggregate(data), (err: unknown) => isTributaryError(err, 'TRIB_KINESIS_AGGREGATE') && pattern.test((err as Error).message))
    reject(frame(body, Buffer.alloc(16)), /MD5 checksum mismatch/)
    reject(frame(Buffer.from([0x1a, 0x05, 0x08])), /records of 5 bytes runs past the end/)
    reject(frame(Buffer.from([0x1a, 0x02, 0x1a, 0x00])), /record 0 has no partition_key_index/)
    reject(frame(Buffer.from([0x1a, 0x04, 0x08, 0x03, 0x1a, 0x00])), /record 0 names partition key 3 of a table of 0/)
    reject(frame(Buffer.from([0x0b])), /unsupported protobuf wire type 3/)
  })
})

describe('de-aggregation in the worker', () => {
  const env = useAwsEmulators()

  it('hands out the user records of an aggregated record, and a malformed one as one raw record (never dropped)', async () => {
    const stream = uid('s')
    await createStream(env.kinesis, stream, 1)
    const users = Array.from({ length: 5 }, (_, i) => ({ partitionKey: `pk${i % 2}`, data: Buffer.from(`user-${i}`) }))
    const agg = await env.kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'outer', Data: aggregate(users) }))
    const broken = frame(Buffer.from('not protobuf'), Buffer.alloc(16))
    await env.kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'outer', Data: broken }))
    await env.kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'plain', Data: Buffer.from('plain') }))
    const rec = new Recorder()
    const worker = new KinesisWorker({ streamName: stream, tableName: uid('t'), kinesis: env.kinesis, dynamo: env.dynamo, consumer: rec.consumer('w'), emptyRecordBackoffMs: 30, metrics: false })
    await worker.start()
    try {
      await waitFor('7 records', () => rec.records().length === 7, 10_000)
      const got = rec.records()
      assert.deepEqual(got.slice(0, 5).map((r) => [r.data.toString(), r.partitionKey, r.subSequenceNumber, r.sequenceNumber]), users.map((u, i) => [u.data.toString(), u.partitionKey, i, agg.SequenceNumber]))
      assert.deepEqual(got[5].data, broken)
      assert.equal(got[6].data.toString(), 'plain')
    } finally {
      await worker.shutdown()
    }
  })
})
