import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codecs, isTributaryError } from '../../src/core/index.ts'
import { fnv1aPartition, murmur2Partition, openEmbeddedLog } from '../../src/log/index.ts'
import { Emitter } from '../../src/processor/index.ts'
import { uid } from './helpers.ts'

describe('emitter', () => {
  it('encodes with its codec and partitions with murmur2 by default or FNV-1a for goka', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const topic = `e-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 7 })
      const json = new Emitter(log, topic, codecs.json<{ n: number }>())
      const goka = new Emitter(log, topic, codecs.json<{ n: number }>(), { partitioner: 'fnv1a' })
      const a = await json.emitSync('user-42', { n: 1 }, { headers: { trace: 't' } })
      const b = await goka.emitSync('user-42', { n: 2 })
      assert.equal(a.partition, murmur2Partition(Buffer.from('user-42'), 7))
      assert.equal(b.partition, fnv1aPartition(Buffer.from('user-42'), 7))
      const consumer = log.consumer({ groupId: `r-${uid()}`, topics: [topic] })
      const records = await consumer.poll({ timeoutMs: 1_000 })
      await consumer.close()
      const first = records.find((r) => r.offset === a.offset && r.partition === a.partition)
      assert.equal(first?.value?.toString(), '{"n":1}')
      assert.equal(first?.headers[0][0], 'trace')
      await json.close()
      await goka.close()
    } finally {
      await log.close()
    }
  })

  it('emitSync rejects on failure; a failed fire-and-forget emit makes flush and close reject', async () => {
    const log = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    try {
      const emitter = new Emitter(log, `missing-${uid()}`, codecs.string())
      await assert.rejects(emitter.emitSync('k', 'v'), (err) => isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC'))
      void emitter.emit('k', 'v') // ignored on purpose
      await assert.rejects(emitter.flush(), (err) => isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC'))
      await emitter.flush() // the error was reported once
      void emitter.emit('k', 'v')
      await assert.rejects(emitter.close(), (err) => isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC'))
      await assert.rejects(emitter.emitSync('k', 'v'), (err) => isTributaryError(err, 'TRIB_CLOSED'))
    } finally {
      await log.close()
    }
  })
})
