/**
 * A read-only view of a file log follows its owner with `refresh()`, reading only what was written
 * since — not the whole offsets partition again, as a fresh open does.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { Record } from '../../src/core/index.ts'
import { openEmbeddedLog, type EmbeddedLog } from '../../src/log/index.ts'

let dir: string
let owner: EmbeddedLog
let view: EmbeddedLog
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-follow-'))
  owner = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
})
afterEach(async () => {
  await view?.close()
  await owner.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

async function readAll(log: EmbeddedLog, topic: string): Promise<Record[]> {
  const reader = log.reader({ topic })
  const out: Record[] = []
  for (;;) {
    const batch = await reader.poll({ timeoutMs: 20 })
    if (batch.length === 0) break
    out.push(...batch)
  }
  await reader.close()
  return out
}

describe('read-only view refresh', () => {
  it('reads only the new commits of a long history', async () => {
    await owner.admin.createTopic({ name: 'orders', partitions: 4 })
    const consumer = owner.consumer({ groupId: 'billing', topics: ['orders'] })
    await consumer.poll({ timeoutMs: 10 })
    for (let i = 1; i <= 3_000; i++) await consumer.commit([{ topic: 'orders', partition: i % 4, offset: i }])
    view = openEmbeddedLog({ mode: 'file', dir, readOnly: true, cleanerIntervalMs: 0 })
    const history = view.readCommits(0, 10_000).length
    assert.equal(history, 3_000)
    assert.equal(view.refresh(), 0, 'nothing new, nothing read')
    await consumer.commit([{ topic: 'orders', partition: 0, offset: 5_000 }])
    const bytes = view.refresh()
    assert.ok(bytes > 0 && bytes < 200, `one commit batch read (${bytes} bytes), not the history`)
    assert.deepEqual(await view.offsets.committed('billing', 'orders'), [
      { topic: 'orders', partition: 0, offset: 5_000 },
      { topic: 'orders', partition: 1, offset: 2_997 },
      { topic: 'orders', partition: 2, offset: 2_998 },
      { topic: 'orders', partition: 3, offset: 2_999 },
    ])
    const [latest] = view.readCommits(history)
    assert.deepEqual([latest.group, latest.partition, latest.offset], ['billing', 0, 5_000])
    await consumer.close()
  })

  it('follows appends across segment rolls, new and deleted topics, and compaction', async () => {
    await owner.admin.createTopic({ name: 'events', partitions: 1, configs: { 'segment.bytes': '500' } })
    await owner.admin.createTopic({ name: 'table', partitions: 1, cleanupPolicy: 'compact', configs: { 'segment.bytes': '300', 'delete.retention.ms': '0' } })
    const producer = owner.producer()
    await producer.send(Array.from({ length: 5 }, (_, i) => ({ topic: 'events', value: `e${i}` })))
    view = openEmbeddedLog({ mode: 'file', dir, readOnly: true, cleanerIntervalMs: 0 })
    assert.equal((await readAll(view, 'events')).length, 5)

    for (let i = 5; i < 60; i++) await producer.send([{ topic: 'events', value: `e${i}`.padEnd(40, '.') }])
    for (let i = 0; i < 30; i++) await producer.send([{ topic: 'table', key: `k${i % 3}`, value: `v${i}`.padEnd(40, '.') }])
    await owner.admin.createTopic({ name: 'later', partitions: 2 })
    view.refresh()
    assert.deepEqual(await view.offsets.endOffsets('events'), [60])
    assert.deepEqual((await readAll(view, 'events')).map((r) => r.value?.toString().replace(/\.+$/, '')), Array.from({ length: 60 }, (_, i) => `e${i}`))
    assert.deepEqual(await view.admin.listTopics(), ['events', 'later', 'table'])

    owner.runCleaner(true)
    await owner.admin.deleteTopic('later')
    view.refresh()
    const fresh = openEmbeddedLog({ mode: 'file', dir, readOnly: true, cleanerIntervalMs: 0 })
    try {
      const followed = (await readAll(view, 'table')).map((r) => `${r.offset}:${r.key}=${r.value?.toString().replace(/\.+$/, '')}`)
      const reopened = (await readAll(fresh, 'table')).map((r) => `${r.offset}:${r.key}=${r.value?.toString().replace(/\.+$/, '')}`)
      assert.ok(followed.length < 30, `compaction is seen (${followed.length} records left)`)
      assert.deepEqual(followed, reopened, 'the followed view reads what a fresh open reads')
      assert.deepEqual(await view.admin.listTopics(), ['events', 'table'], 'a deleted topic is gone')
    } finally {
      await fresh.close()
    }
  })

  it('is a no-op on a writable log', () => {
    assert.equal(owner.refresh(), 0)
  })
})
