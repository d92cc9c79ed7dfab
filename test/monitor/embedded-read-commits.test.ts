import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/index.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { uid } from './helpers.ts'

describe('EmbeddedLog.readCommits', () => {
  it('returns the committed-offset history in commit order, from a position, at most `max`', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const topic = `t-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      const consumer = log.consumer({ groupId: 'g1', topics: [topic] })
      while (consumer.assignment().length < 2) await consumer.poll({ timeoutMs: 50 })
      const before = Date.now()
      await consumer.commit([
        { topic, partition: 0, offset: 3 },
        { topic, partition: 1, offset: 7 },
      ])
      await consumer.commit([{ topic, partition: 0, offset: 4 }])
      const all = log.readCommits(0)
      assert.deepEqual(
        all.map((c) => [c.group, c.topic, c.partition, c.offset]),
        [
          ['g1', topic, 0, 3],
          ['g1', topic, 1, 7],
          ['g1', topic, 0, 4],
        ],
      )
      assert.deepEqual(
        all.map((c) => c.position),
        [0, 1, 2],
      )
      assert.ok(all.every((c) => c.timestamp >= before && c.timestamp <= Date.now()))
      assert.deepEqual(
        log.readCommits(1, 1).map((c) => c.offset),
        [7],
      )
      assert.deepEqual(log.readCommits(3), [], 'caught up')
      await consumer.close()
    } finally {
      await log.close()
    }
  })

  it('reports the tombstones of a deleted topic as offset null', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const topic = `t-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 1 })
      const consumer = log.consumer({ groupId: 'g2', topics: [topic] })
      while (consumer.assignment().length < 1) await consumer.poll({ timeoutMs: 50 })
      await consumer.commit([{ topic, partition: 0, offset: 1 }])
      await consumer.close()
      await log.admin.deleteTopic(topic)
      assert.deepEqual(
        log.readCommits(0).map((c) => [c.group, c.partition, c.offset]),
        [
          ['g2', 0, 1],
          ['g2', 0, null],
        ],
      )
    } finally {
      await log.close()
    }
  })

  it('keeps the history across a restart of a file log, and rejects bad arguments', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-commits-'))
    try {
      const topic = `t-${uid()}`
      let log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
      await log.admin.createTopic({ name: topic, partitions: 1 })
      const consumer = log.consumer({ groupId: 'g3', topics: [topic] })
      while (consumer.assignment().length < 1) await consumer.poll({ timeoutMs: 50 })
      await consumer.commit([{ topic, partition: 0, offset: 9 }])
      await consumer.close()
      await log.close()
      log = openEmbeddedLog({ mode: 'file', dir, cleanerIntervalMs: 0 })
      assert.deepEqual(
        log.readCommits(0).map((c) => [c.group, c.offset]),
        [['g3', 9]],
      )
      assert.throws(() => log.readCommits(0, 0), (err: unknown) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT') && /max/.test(err.message))
      await log.close()
      assert.throws(() => log.readCommits(0), (err: unknown) => isTributaryError(err, 'TRIB_CLOSED'))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
