import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/errors.ts'
import { DeadLetterQueue } from '../../src/pipeline/dlq.ts'
import { NackWindow } from '../../src/pipeline/dlq-window.ts'
import { isFatal } from '../../src/pipeline/fatal.ts'
import { type PipelineRecord } from '../../src/pipeline/record.ts'
import { DestinationTask, ProcessorTask, SourceTask } from '../../src/pipeline/tasks.ts'
import { Worker } from '../../src/pipeline/worker.ts'
import { ArraySource, MemoryDestination, n, nackSome, rec, waitFor } from './helpers.ts'

/** Feeds `pattern` (a = ack, n = nack) to a window; returns the index of the first refused nack, or -1. */
function firstRefusal(size: number, threshold: number, pattern: string): number {
  const w = new NackWindow(size, threshold)
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === 'a') w.ack()
    else if (!w.nack()) return i
  }
  return -1
}

describe('NackWindow (Conduit dlqWindow rules)', () => {
  it('default window 1, threshold 0: the first nack is refused', () => {
    assert.equal(firstRefusal(1, 0, 'aaan'), 3)
  })
  it('threshold 0 shrinks any window to one slot', () => {
    assert.equal(new NackWindow(10, 0).size, 1)
    assert.equal(firstRefusal(10, 0, 'n'), 0)
  })
  it('window 0 disables the check: every nack is accepted', () => {
    assert.equal(firstRefusal(0, 0, 'nnnnnnnnnn'), -1)
  })
  it('counts nacks in the last `size` outcomes; more than threshold is refused', () => {
    // window 3, threshold 1: two nacks among the last three outcomes exceed it
    assert.equal(firstRefusal(3, 1, 'naaanaaan'), -1)
    assert.equal(firstRefusal(3, 1, 'nan'), 2)
    assert.equal(firstRefusal(3, 1, 'naan'), -1)
    assert.equal(firstRefusal(3, 2, 'nnan'), -1) // the first nack left the ring when the last came in
    assert.equal(firstRefusal(3, 2, 'nnn'), 2)
  })
  it('once exceeded, the window freezes for good: acks change nothing, every nack is refused', () => {
    const w = new NackWindow(2, 0 + 1)
    assert.equal(w.nack(), true)
    assert.equal(w.nack(), false)
    w.ack(100)
    assert.equal(w.frozen, true)
    assert.equal(w.nack(), false)
  })
  it('acks in bulk count like acks one by one', () => {
    const a = new NackWindow(5, 2)
    const b = new NackWindow(5, 2)
    a.nack(); b.nack()
    a.ack(3)
    b.ack(); b.ack(); b.ack()
    a.nack(); b.nack()
    assert.equal(a.nackCount, b.nackCount)
    a.ack(7)
    for (let i = 0; i < 7; i++) b.ack()
    assert.equal(a.nackCount, 0)
    assert.equal(b.nackCount, 0)
  })
})

async function storm(size: number, threshold: number, bad: Set<number>, count = 100): Promise<{ error?: unknown; source: ArraySource; dlq: MemoryDestination; written: number[] }> {
  const source = new ArraySource(Array.from({ length: count }, (_, i) => rec(i)), 10)
  const d = new MemoryDestination()
  const dlqDest = new MemoryDestination()
  const dlq = new DeadLetterQueue({ destination: dlqDest, windowSize: size, windowNackThreshold: threshold, sourceConnectorId: 'p:src' })
  const worker = new Worker({ source: new SourceTask('p:src', source), graph: [{ task: new ProcessorTask('p:nack', nackSome(bad)), next: [{ task: new DestinationTask('p:dst', d), next: [] }] }], dlq })
  await worker.open()
  let error: unknown
  let failed = false
  const run = worker.run().catch((e) => ((error = e), (failed = true)))
  await waitFor(() => failed || source.ackedPositions.length === count)
  await worker.stop()
  await run
  await worker.close()
  return { error, source, dlq: dlqDest, written: d.written.map(n) }
}

describe('nack storm against the window', () => {
  it('window 10, threshold 3: the 4th nack within 10 outcomes stops the pipeline (fatal), nothing past the last DLQ record acked', async () => {
    // nacks at 5, 20, 30, 32, 34, 36: outcomes 27..36 hold 30, 32, 34, 36 → the 4th in the window is refused at 36
    const { error, source, dlq, written } = await storm(10, 3, new Set([5, 20, 30, 32, 34, 36]))
    assert.ok(isTributaryError(error, 'TRIB_PIPELINE_NACK'), String(error))
    assert.ok(isFatal(error))
    assert.match((error as Error).message, /threshold exceeded \(4 nacks in a window of 10, threshold 3\).*bad record 36/)
    assert.deepEqual(dlq.written.map((r) => (r.payload.after as { payload: { after: { n: number } } }).payload.after.n), [5, 20, 30, 32, 34])
    assert.equal(source.ackedPositions.at(-1), 'p35')
    assert.equal(source.ackedPositions.length, 36)
    assert.ok(!written.includes(36) && !written.includes(37))
  })

  it('window 10, threshold 3: nacks spread out never exceed it; every record is written or in the DLQ', async () => {
    const bad = new Set([3, 15, 27, 39, 51, 63, 75, 87, 99])
    const { error, source, dlq, written } = await storm(10, 3, bad)
    assert.equal(error, undefined)
    assert.equal(source.ackedPositions.length, 100)
    assert.equal(dlq.written.length, bad.size)
    assert.equal(written.length + dlq.written.length, 100)
  })

  it('window 0 takes any number of nacks', async () => {
    const bad = new Set(Array.from({ length: 50 }, (_, i) => i * 2))
    const { error, dlq } = await storm(0, 0, bad)
    assert.equal(error, undefined)
    assert.equal(dlq.written.length, 50)
  })

  it('a failing DLQ write stops the pipeline degraded (fatal TRIB_PIPELINE_DLQ) and acks nothing past the records safely written', async () => {
    const source = new ArraySource(Array.from({ length: 20 }, (_, i) => rec(i)), 20)
    const d = new MemoryDestination()
    const dlqDest = new MemoryDestination({ down: () => true })
    const dlq = new DeadLetterQueue({ destination: dlqDest, windowSize: 0, sourceConnectorId: 'p:src', plugin: 'test-memory' })
    const worker = new Worker({ source: new SourceTask('p:src', source), graph: [{ task: new ProcessorTask('p:nack', nackSome(new Set([7]))), next: [{ task: new DestinationTask('p:dst', d), next: [] }] }], dlq })
    await worker.open()
    await assert.rejects(worker.run(), (err: unknown) => isTributaryError(err, 'TRIB_PIPELINE_DLQ') && isFatal(err) && /write failed: destination is down/.test((err as Error).message))
    await worker.close()
    assert.equal(source.ackedPositions.at(-1), 'p6')
    assert.deepEqual(d.written.map((r: PipelineRecord) => n(r)), [0, 1, 2, 3, 4, 5, 6])
  })
})
