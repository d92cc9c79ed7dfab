import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codecs, createLogger, type Record } from '../../src/core/index.ts'
import { defineGroup, input, output, persist, type Context } from '../../src/processor/index.ts'
import { PartitionProcessor } from '../../src/processor/partition-processor.ts'
import { memoryStore } from '../../src/state/index.ts'

const str = codecs.string()
const num = codecs.json<number>()

function record(offset: number, key: string, value = 'x'): Record {
  return { topic: 'events', partition: 0, offset, timestamp: 1_000 + offset, key: Buffer.from(key), value: Buffer.from(value), headers: [] }
}

async function partitionProcessor(): Promise<PartitionProcessor> {
  const graph = defineGroup(
    'pp',
    input('events', str, (ctx: Context<number>, message) => {
      if (message === 'delete') return ctx.delete()
      const n = (ctx.value() ?? 0) + 1
      ctx.setValue(n)
      ctx.emit('seen', ctx.key, n)
    }),
    output('seen', num),
    persist(num),
  )
  const pp = new PartitionProcessor(graph, 0, { nilHandling: 'ignore', badInput: 'fail', logger: createLogger({ level: 'silent' }), tableRead: () => undefined })
  pp.attach(await memoryStore()({ topic: 'pp-table', partition: 0, role: 'processor' }))
  pp.state.set('running')
  return pp
}

describe('partition processor: what one send carries', () => {
  it('sends every emit, and only the last table write per key since the previous send', async () => {
    const pp = await partitionProcessor()
    const inputs: [string, string][] = [['a', 'x'], ['b', 'x'], ['a', 'x'], ['c', 'x'], ['a', 'x'], ['c', 'delete']]
    inputs.forEach(([key, value], offset) => pp.process(record(offset, key, value)))
    const sent = pp.takeOutputs()
    const emits = sent.filter((r) => r.topic === 'seen').map((r) => [String(r.key), String(r.value)])
    assert.deepEqual(emits, [['a', '1'], ['b', '1'], ['a', '2'], ['c', '1'], ['a', '3']], 'emits keep their order and count')
    const table = sent.filter((r) => r.topic === 'pp-table').map((r) => [String(r.key), r.value === null ? null : String(r.value), r.timestamp])
    assert.deepEqual(table, [['a', '3', 1_004], ['b', '1', 1_001], ['c', null, 1_005]], 'last write per key, with its timestamp; a delete is a tombstone')
    assert.ok(sent.every((r) => r.topic !== 'pp-table' || r.partition === 0))
    assert.equal(pp.hasOutputs, false)

    // The next send starts afresh, reading the values written before.
    pp.process(record(6, 'a'))
    const next = pp.takeOutputs().filter((r) => r.topic === 'pp-table')
    assert.deepEqual(next.map((r) => [String(r.key), String(r.value)]), [['a', '4']])
    assert.deepEqual(pp.takeCommitOffsets(), [{ topic: 'events', partition: 0, offset: 7 }])
  })

  it('drops unsent table writes on discard, so a failed batch leaves nothing to send', async () => {
    const pp = await partitionProcessor()
    pp.process(record(0, 'a'))
    pp.discard()
    assert.equal(pp.hasOutputs, false)
    assert.deepEqual(pp.takeOutputs(), [])
  })
})
