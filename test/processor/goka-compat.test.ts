/**
 * goka compatibility: with the FNV-1a partitioner and the string/JSON codecs, a processor reads and
 * writes the topics, partitions and bytes goka would, so goka services and Tributary views or
 * processors can share a group table.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codecs } from '../../src/core/index.ts'
import { fnv1aPartition, openEmbeddedLog, type Log } from '../../src/log/index.ts'
import { Processor, View, defineGroup, input, loop, persist, type Context } from '../../src/processor/index.ts'
import { memoryStore } from '../../src/state/index.ts'
import { CommitTracker, uid } from './helpers.ts'

async function readAll(log: Log, topic: string): Promise<{ partition: number; key: string; value: string | null }[]> {
  const consumer = log.consumer({ groupId: `reader-${uid()}`, topics: [topic] })
  const ends = await log.offsets.endOffsets(topic)
  const total = ends.reduce((a, b) => a + b, 0)
  const out: { partition: number; key: string; value: string | null }[] = []
  while (out.length < total) {
    for (const r of await consumer.poll({ timeoutMs: 500 })) out.push({ partition: r.partition, key: r.key?.toString() ?? '', value: r.value?.toString() ?? null })
  }
  await consumer.close()
  return out
}

describe('goka compatibility', () => {
  it('partitions keys like sarama\'s hash partitioner (FNV-1a 32, as int32, abs of the remainder)', () => {
    // fnv1a32("a") = 0xe40c292c = -468965076 as int32; -468965076 % 10 = -6 → 6
    assert.equal(fnv1aPartition(Buffer.from('a'), 10), 6)
    assert.equal(fnv1aPartition(Buffer.from(''), 7), Math.abs((0x811c9dc5 | 0) % 7))
  })

  it('writes <group>-table and <group>-loop records at goka\'s partitions with the codec bytes only', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const clicks = `clicks-${uid()}`
      const group = `goka-${uid()}`
      await log.admin.createTopic({ name: clicks, partitions: 5 })
      const graph = defineGroup(
        group,
        input(clicks, codecs.string(), (ctx, page: string) => ctx.loopback(ctx.key, { page })),
        loop(codecs.json<{ page: string }>(), (ctx: Context<{ pages: string[] }>, click: { page: string }) => {
          const row = ctx.value() ?? { pages: [] }
          row.pages.push(click.page)
          ctx.setValue(row)
        }),
        persist(codecs.json<{ pages: string[] }>()),
      )
      const producer = log.producer({ partitioner: 'fnv1a' })
      const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
      await producer.send(users.map((user) => ({ topic: clicks, key: user, value: `/home/${user}` })))
      await producer.close()
      const tracker = new CommitTracker()
      const processor = new Processor(log, graph, { storage: memoryStore(), partitioner: 'fnv1a', commitIntervalMs: 20, onCommit: tracker.onCommit })
      const run = processor.run()
      await tracker.caughtUp(log, clicks)
      await tracker.caughtUp(log, `${group}-loop`)
      assert.equal((await log.admin.describeTopic(`${group}-table`)).cleanupPolicy, 'compact')
      for (const r of await readAll(log, `${group}-loop`)) {
        assert.equal(r.partition, fnv1aPartition(Buffer.from(r.key), 5))
        assert.equal(r.value, JSON.stringify({ page: `/home/${r.key}` }))
      }
      const table = await readAll(log, `${group}-table`)
      assert.equal(table.length, users.length)
      for (const r of table) {
        assert.equal(r.partition, fnv1aPartition(Buffer.from(r.key), 5))
        assert.equal(r.value, JSON.stringify({ pages: [`/home/${r.key}`] }))
      }
      await processor.stop()
      await run
    } finally {
      await log.close()
    }
  })

  it('a view reads a table written the way goka writes it', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const table = `${uid()}-table`
      await log.admin.createTopic({ name: table, partitions: 4, cleanupPolicy: 'compact' })
      const goka = log.producer({ partitioner: 'fnv1a' })
      await goka.send([
        { topic: table, key: 'alice', value: '3' },
        { topic: table, key: 'bob', value: '5' },
        { topic: table, key: 'alice', value: '4' },
        { topic: table, key: 'carol', value: null },
      ])
      await goka.close()
      const view = new View(log, table, codecs.string(), { storage: memoryStore(), partitioner: 'fnv1a' })
      const run = view.run()
      await view.waitRunning()
      assert.equal(view.get('alice'), '4')
      assert.equal(view.get('bob'), '5')
      assert.equal(view.has('carol'), false)
      await view.stop()
      await run
    } finally {
      await log.close()
    }
  })
})
