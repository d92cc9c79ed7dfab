import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BatchingSource } from '../../src/ingest/batching-source.ts'
import type { Source } from '../../src/pipeline/connector.ts'
import { createRecord, type PipelineRecord } from '../../src/pipeline/record.ts'

/** A source that hands out queued reads; an empty queue waits until the signal ends the read. */
function queuedSource(reads: number[][]): Source & { acked: string[] } {
  const acked: string[] = []
  return {
    acked,
    open: async () => {},
    read: (signal) =>
      new Promise<PipelineRecord[]>((resolve) => {
        const next = reads.shift()
        if (next) return resolve(next.map((n) => createRecord({ position: Buffer.from(String(n)) })))
        if (signal.aborted) return resolve([])
        signal.addEventListener('abort', () => resolve([]), { once: true })
      }),
    ack: async (positions) => void acked.push(...positions.map(String)),
    teardown: async () => {},
  }
}

const positions = (records: PipelineRecord[]): string[] => records.map((r) => r.position.toString())

describe('ingest batching source (AresDB batcher)', () => {
  it('gathers reads until batchSize messages are together', async () => {
    const source = new BatchingSource(queuedSource([[1, 2], [3], [4, 5, 6], [7]]), 5, 60_000)
    assert.deepEqual(positions(await source.read(new AbortController().signal)), ['1', '2', '3', '4', '5', '6'])
    assert.deepEqual(positions(await source.read(AbortSignal.timeout(50))), ['7'])
  })

  it('flushes a partial batch maxBatchDelayMS after its first message', async () => {
    const source = new BatchingSource(queuedSource([[1, 2]]), 100, 150)
    const started = performance.now()
    assert.deepEqual(positions(await source.read(new AbortController().signal)), ['1', '2'])
    const took = performance.now() - started
    assert.ok(took >= 140, `waited ${took} ms for more`)
  })

  it('returns at once when the pipeline stops, with what it gathered, and passes acks through', async () => {
    const inner = queuedSource([[1]])
    const source = new BatchingSource(inner, 100, 60_000)
    const stop = new AbortController()
    const read = source.read(stop.signal)
    setTimeout(() => stop.abort(), 20)
    assert.deepEqual(positions(await read), ['1'])
    await source.ack([Buffer.from('1')])
    assert.deepEqual(inner.acked, ['1'])
  })
})
