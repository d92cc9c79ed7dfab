/**
 * Resharding on kinesalite: after a split and a merge, every child shard is processed only after every
 * parent was processed to its end and checkpointed SHARD_END; parents get shutdown(TERMINATE).
 */
import { MergeShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { KinesisWorker, SHARD_END, listShards } from '../../src/kinesis/index.ts'
import { dynamoLeaseStore } from '../../src/lease/index.ts'
import { Recorder, createStream, produce, uid, useAwsEmulators, waitFor, waitStreamActive, type Produced } from './helpers.ts'

const env = useAwsEmulators()

describe('resharding', () => {
  it('split and merge keep parent-before-child order; parents end with TERMINATE and SHARD_END', async () => {
    const stream = uid('s')
    const table = uid('t')
    await createStream(env.kinesis, stream, 2)
    const rec = new Recorder()
    const workers = ['a', 'b'].map(
      (id) =>
        new KinesisWorker({
          streamName: stream, tableName: table, workerId: id, kinesis: env.kinesis, dynamo: env.dynamo, consumer: rec.consumer(id),
          leaseDurationMs: 1_000, leaseRenewIntervalMs: 250, balanceIntervalMs: 150, emptyRecordBackoffMs: 30, shardSyncIntervalMs: 300, metrics: false,
        }),
    )
    after(() => Promise.all(workers.map((w) => w.shutdown())))
    // the workers start before the split, so the parents hold unprocessed records when it happens
    const produced: Produced[] = await produce(env.kinesis, stream, 60, 'before')
    for (const w of workers) await w.start()
    const [first] = await listShards(env.kinesis, stream)
    const end = BigInt(first.HashKeyRange?.EndingHashKey as string)
    await env.kinesis.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: first.ShardId, NewStartingHashKey: String(end / 2n) }))
    await waitStreamActive(env.kinesis, stream)
    produced.push(...(await produce(env.kinesis, stream, 60, 'split')))
    const afterSplit = await listShards(env.kinesis, stream)
    const children = afterSplit.filter((s) => s.ParentShardId === first.ShardId)
    assert.equal(children.length, 2)
    await env.kinesis.send(new MergeShardsCommand({ StreamName: stream, ShardToMerge: children[0].ShardId, AdjacentShardToMerge: children[1].ShardId }))
    await waitStreamActive(env.kinesis, stream)
    produced.push(...(await produce(env.kinesis, stream, 60, 'merge')))
    const shards = await listShards(env.kinesis, stream)
    const merged = shards.find((s) => s.ParentShardId === children[0].ShardId && s.AdjacentParentShardId === children[1].ShardId)
    assert.ok(merged, 'the merged shard names both parents')

    await waitFor('every record processed', () => {
      const seen = new Set(rec.records().map((r) => r.sequenceNumber))
      return produced.every((p) => seen.has(p.sequenceNumber))
    }, 30_000)

    // processing order: the index of each record's batch in the recorder's single timeline
    const firstAt = new Map<string, number>()
    const lastAt = new Map<string, number>()
    rec.events.forEach((e, i) => {
      if (e.type !== 'records') return
      if (!firstAt.has(e.shard)) firstAt.set(e.shard, i)
      lastAt.set(e.shard, i)
    })
    for (const s of [children[0].ShardId, children[1].ShardId, merged.ShardId] as string[]) assert.ok(firstAt.has(s), `${s} had records to process`)
    const parentsOf = new Map(shards.map((s) => [s.ShardId as string, [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => !!p)]))
    for (const [child, parents] of parentsOf) {
      if (parents.length === 0 || !firstAt.has(child)) continue
      for (const parent of parents) {
        if (!lastAt.has(parent)) continue
        assert.ok((lastAt.get(parent) as number) < (firstAt.get(child) as number), `${parent} finished before ${child} started`)
      }
    }
    const store = dynamoLeaseStore({ client: env.dynamo, tableName: table })
    for (const parent of [first.ShardId, children[0].ShardId, children[1].ShardId] as string[]) {
      await waitFor(`${parent} at SHARD_END`, async () => (await store.get(parent))?.checkpoint === SHARD_END, 10_000)
      const lease = await store.get(parent)
      assert.equal(lease?.closed, true)
      assert.ok(rec.shutdowns().some((s) => s.shard === parent && s.reason === 'TERMINATE'), `${parent} got TERMINATE`)
    }
    assert.deepEqual([...((await store.get(merged.ShardId as string))?.parents ?? [])].sort(), [children[0].ShardId, children[1].ShardId].sort())
  })
})
