import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { codecs, isTributaryError } from '../../src/core/index.ts'
import { defineGroup, groupTable, input, inputs, join, lookup, loop, loopStream, output, persist } from '../../src/processor/index.ts'

const noop = (): void => {}
const s = codecs.string()

function rejects(fn: () => unknown, ...mentions: RegExp[]): void {
  assert.throws(fn, (err) => {
    assert.ok(isTributaryError(err, 'TRIB_PROCESSOR_GRAPH'), `expected TRIB_PROCESSOR_GRAPH, got ${String(err)}`)
    for (const m of mentions) assert.match(err.message, m)
    return true
  })
}

describe('group graph', () => {
  it('names the group table and loop topics like goka, in one place', () => {
    assert.equal(groupTable('counter'), 'counter-table')
    assert.equal(loopStream('counter'), 'counter-loop')
    const graph = defineGroup('counter', input('clicks', s, noop), persist(s), loop(s, noop))
    assert.equal(graph.groupTable, 'counter-table')
    assert.equal(graph.groupTableEdge?.topic, 'counter-table')
    assert.equal(graph.loopEdge?.topic, 'counter-loop')
    assert.deepEqual(graph.consumedTopics, ['clicks', 'counter-loop'])
  })

  it('flattens inputs() and sorts edges by kind', () => {
    const graph = defineGroup(
      'g',
      inputs(['a', 'b'], s, noop),
      output('out', s),
      join('users-table', s),
      lookup('prices-table', s),
      persist(s),
    )
    assert.deepEqual(graph.inputStreams.map((e) => e.topic), ['a', 'b'])
    assert.deepEqual(graph.outputStreams.map((e) => e.topic), ['out'])
    assert.deepEqual(graph.joinTables.map((e) => e.topic), ['users-table'])
    assert.deepEqual(graph.lookupTables.map((e) => e.topic), ['prices-table'])
  })

  it('requires at least one input stream (a loop alone is not one)', () => {
    rejects(() => defineGroup('g', persist(s)), /no input stream/)
    rejects(() => defineGroup('g', loop(s, noop)), /no input stream/)
  })

  it('allows at most one persist and one loop', () => {
    rejects(() => defineGroup('g', input('a', s, noop), persist(s), persist(s)), /persist 2 times/)
    rejects(() => defineGroup('g', input('a', s, noop), loop(s, noop), loop(s, noop)), /loop 2 times/)
  })

  it('keeps the group table and loop topics out of other edges, saying what to use instead', () => {
    rejects(() => defineGroup('g', input('g-table', s, noop)), /uses the group table g-table/, /setValue/)
    rejects(() => defineGroup('g', input('a', s, noop), output('g-table', s)), /group table/)
    rejects(() => defineGroup('g', input('a', s, noop), join('g-table', s)), /group table/)
    rejects(() => defineGroup('g', input('g-loop', s, noop)), /uses the loop topic g-loop/, /loopback/)
    rejects(() => defineGroup('g', input('a', s, noop), output('g-loop', s)), /loop topic/)
  })

  it('rejects a topic declared twice, except as input and output', () => {
    rejects(() => defineGroup('g', input('a', s, noop), input('a', s, noop)), /declared twice/)
    rejects(() => defineGroup('g', input('a', s, noop), join('t', s), lookup('t', s)), /t is declared twice \(join and lookup\)/)
    defineGroup('g', input('a', s, noop), output('a', s))
  })

  it('rejects bad names, missing codecs and missing callbacks', () => {
    rejects(() => defineGroup('', input('a', s, noop)), /group name/)
    rejects(() => defineGroup('g', input('bad topic', s, noop)), /bad topic/)
    rejects(() => defineGroup('g', input('a', undefined as never, noop)), /has no codec/)
    rejects(() => defineGroup('g', input('a', s, undefined as never)), /has no callback/)
  })
})
