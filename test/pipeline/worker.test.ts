import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../src/core/errors.ts'
import { Batch } from '../../src/pipeline/batch.ts'
import { DeadLetterQueue } from '../../src/pipeline/dlq.ts'
import { isFatal } from '../../src/pipeline/fatal.ts'
import { filterRecord, multiRecord, errorRecord, type PipelineProcessor } from '../../src/pipeline/processor.ts'
import { createRecord, MetadataKeys, type PipelineRecord } from '../../src/pipeline/record.ts'
import { DestinationTask, ProcessorTask, SourceTask } from '../../src/pipeline/tasks.ts'
import { Worker, type TaskNode, type WorkerObserver } from '../../src/pipeline/worker.ts'
import { pipelineObserver } from '../../src/pipeline/metrics.ts'
import { metricsRegistry } from '../../src/core/metrics.ts'
import { ArraySource, MemoryDestination, n, nackSome, pos, processorOf, rec, waitFor } from './helpers.ts'

const recs = (count: number): PipelineRecord[] => Array.from({ length: count }, (_, i) => rec(i))

interface Setup {
  source: ArraySource
  graph: TaskNode[]
  dlqDest?: MemoryDestination
  windowSize?: number
  threshold?: number
  maxRetryAttempts?: number
  maxRetryStall?: number
  observer?: WorkerObserver
}

/** Runs a worker until `done()` or the run fails; stops and closes it. Returns the run's error, if any. */
async function runUntil(setup: Setup, done: () => boolean): Promise<{ worker: Worker; error?: unknown; dlq: MemoryDestination }> {
  const dlqDest = setup.dlqDest ?? new MemoryDestination()
  const dlq = new DeadLetterQueue({ destination: dlqDest, windowSize: setup.windowSize ?? 0, windowNackThreshold: setup.threshold ?? 0, sourceConnectorId: 'p:src' })
  const worker = new Worker({ source: new SourceTask('p:src', setup.source), graph: setup.graph, dlq, maxRetryAttempts: setup.maxRetryAttempts, maxRetryStall: setup.maxRetryStall, observer: setup.observer })
  await worker.open()
  let error: unknown
  let failed = false
  const run = worker.run().catch((err) => {
    error = err
    failed = true
  })
  await waitFor(() => failed || done(), 10_000, 'the worker')
  await worker.stop()
  await run
  await worker.close()
  return { worker, error, dlq: dlqDest }
}

const dest = (d: MemoryDestination, id = 'p:dst'): TaskNode => ({ task: new DestinationTask(id, d), next: [] })
const proc = (id: string, p: PipelineProcessor, next: TaskNode[], opts: { workers?: number; condition?: (r: PipelineRecord) => boolean } = {}): TaskNode => ({
  task: new ProcessorTask(id, p, opts),
  next,
})

describe('Batch', () => {
  it('indexes active records past filtered ones, and cuts tainted batches into runs in order', () => {
    const b = Batch.fromRecords(recs(6))
    b.filter(1) // [0, F1, 2, 3, 4, 5]; active: 0,2,3,4,5
    assert.deepEqual(b.activeRecords().map(n), [0, 2, 3, 4, 5])
    b.nack(2, new Error('x'), 'proc') // active 2 = record 3
    b.retry(4) // active 4 = record 5
    assert.equal(b.flagAt(3), 'nack')
    assert.equal(b.flagAt(5), 'retry')
    b.ack(0) // no change
    const runs = b.runs()
    assert.deepEqual(runs.map((r) => [r.kind, r.records.map(n)]), [
      ['ack', [0, 1, 2]],
      ['nack', [3]],
      ['ack', [4]],
      ['retry', [5]],
    ])
    assert.equal(runs[0].filteredCount, 1, 'a filtered record stays filtered in its run')
    assert.equal(runs[3].flagAt(0), 'ack', 'a retry run comes back reset to ack')
    assert.equal(runs[1].reasonAt(0)?.nodeId, 'proc')
  })

  it('keeps filtered records filtered, and splits through the original position (on the last piece)', () => {
    const b = Batch.fromRecords(recs(3))
    b.filter(0)
    b.nack(0, new Error('late'), 'x') // active 0 is now record 1
    assert.equal(b.flagAt(0), 'filter')
    assert.equal(b.flagAt(1), 'nack')
    const pieces = [createRecord({ position: Buffer.from('p2'), after: 'a' }), createRecord({ position: Buffer.from('p2'), after: 'b' })]
    b.splitRecord(1, pieces) // active 1 = record 2
    assert.equal(b.length, 4)
    assert.deepEqual(pos(b.positions), ['p0', 'p1', '', 'p2'])
    assert.deepEqual(pos(b.sourcePositions()), ['p0', 'p1', 'p2'])
    b.setRecords(1, [createRecord({ position: Buffer.from('p2'), after: 'A' })])
    assert.equal(String(b.records[2].payload.after), 'A')
  })
})

describe('Worker', () => {
  it('moves every record to the destination and acks each position once, in order', async () => {
    const source = new ArraySource(recs(250), 100)
    const d = new MemoryDestination()
    const { error } = await runUntil({ source, graph: [dest(d)] }, () => source.ackedPositions.length === 250)
    assert.equal(error, undefined)
    assert.deepEqual(d.written.map(n), recs(250).map(n))
    assert.deepEqual(source.ackedPositions, recs(250).map((r) => r.position.toString()))
    assert.equal(source.tornDown, 1)
    assert.equal(d.tornDown, 1)
  })

  it('[a,b,c✗,d,e]: acks a,b, then c goes to the DLQ and is acked, and only then d,e go on', async () => {
    const source = new ArraySource(recs(5), 5)
    const events: string[] = []
    const origAck = source.ack.bind(source)
    source.ack = async (ps) => {
      events.push(`ack ${pos(ps).join(',')}`)
      return origAck(ps)
    }
    const d = new MemoryDestination()
    const origWrite = d.write.bind(d)
    d.write = async (rs) => {
      events.push(`write ${rs.map(n).join(',')}`)
      return origWrite(rs)
    }
    const dlqDest = new MemoryDestination()
    const origDlq = dlqDest.write.bind(dlqDest)
    dlqDest.write = async (rs) => {
      events.push(`dlq ${rs.length}`)
      return origDlq(rs)
    }
    const { error } = await runUntil({ source, graph: [proc('p:nacker', nackSome(new Set([2])), [dest(d)])], dlqDest }, () => source.ackedPositions.length === 5)
    assert.equal(error, undefined)
    assert.deepEqual(events, ['write 0,1', 'ack p0,p1', 'dlq 1', 'ack p2', 'write 3,4', 'ack p3,p4'])
    const dl = dlqDest.written[0]
    assert.equal(dl.operation, 'create')
    assert.equal(dl.metadata[MetadataKeys.dlqNackError], 'bad record 2')
    assert.equal(dl.metadata[MetadataKeys.dlqNackNodeId], 'p:nacker')
    assert.equal(dl.metadata[MetadataKeys.sourceConnectorId], 'p:src')
    assert.match(dl.metadata[MetadataKeys.createdAt], /^\d{19}$/)
    assert.deepEqual((dl.payload.after as { payload: { after: unknown } }).payload.after, { n: 2 })
    assert.equal((dl.payload.after as { position: string }).position, Buffer.from('p2').toString('base64'))
  })

  it('acks filtered records with their neighbours and never writes them', async () => {
    const source = new ArraySource(recs(10), 10)
    const d = new MemoryDestination()
    const odd = processorOf((rs) => rs.map((r) => (n(r) % 2 ? filterRecord() : r)))
    const { worker } = await runUntil({ source, graph: [proc('p:odd', odd, [dest(d)])] }, () => source.ackedPositions.length === 10)
    assert.deepEqual(d.written.map(n), [0, 2, 4, 6, 8])
    assert.deepEqual(source.acks.map(pos), [recs(10).map((r) => r.position.toString())])
    assert.equal(worker.counters.filtered, 5)
    assert.equal(worker.counters.written, 5)
  })

  it('a processor returning fewer outcomes gets the rest again (retry on the same task)', async () => {
    const source = new ArraySource(recs(7), 7)
    const d = new MemoryDestination()
    const calls: number[][] = []
    const twoAtATime = processorOf((rs) => {
      calls.push(rs.map(n))
      return rs.slice(0, 2)
    })
    await runUntil({ source, graph: [proc('p:two', twoAtATime, [dest(d)])] }, () => source.ackedPositions.length === 7)
    assert.deepEqual(calls, [[0, 1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6], [4, 5, 6], [6]])
    assert.deepEqual(d.written.map(n), [0, 1, 2, 3, 4, 5, 6])
    assert.deepEqual(source.ackedPositions, recs(7).map((r) => r.position.toString()))
  })

  it('bounds retries: a destination that never acks anything stalls out with TRIB_PIPELINE_RETRY, nothing acked', async () => {
    const source = new ArraySource(recs(3), 3)
    const d = new MemoryDestination({ maxAcks: 0 })
    const { error } = await runUntil({ source, graph: [dest(d)], maxRetryStall: 3 }, () => false)
    assert.ok(isTributaryError(error, 'TRIB_PIPELINE_RETRY'), String(error))
    assert.match((error as Error).message, /no progress 4 times/)
    assert.equal(d.writes.length, 5) // the first write and 4 retries
    assert.deepEqual(source.acks, [])
  })

  it('bounds retry attempts', async () => {
    const source = new ArraySource(recs(6), 6)
    const d = new MemoryDestination({ maxAcks: 1 })
    const { error } = await runUntil({ source, graph: [dest(d)], maxRetryAttempts: 2 }, () => false)
    assert.ok(isTributaryError(error, 'TRIB_PIPELINE_RETRY'))
    assert.match((error as Error).message, /after 2 attempts/)
    assert.deepEqual(source.ackedPositions, ['p0', 'p1', 'p2'], 'what was written is acked')
  })

  it('splits a record into several, acked through the original position once every piece is written', async () => {
    const source = new ArraySource(recs(3), 3)
    const d = new MemoryDestination()
    const split = processorOf((rs) => rs.map((r) => (n(r) === 1 ? multiRecord([{ ...r, key: Buffer.from('x') }, { ...r, key: Buffer.from('y') }, { ...r, key: Buffer.from('z') }]) : r)))
    const { worker } = await runUntil({ source, graph: [proc('p:split', split, [dest(d)])] }, () => source.ackedPositions.length === 3)
    assert.deepEqual(d.written.map((r) => String(r.key)), ['k0', 'x', 'y', 'z', 'k2'])
    assert.deepEqual(source.acks.map(pos), [['p0', 'p1', 'p2']])
    assert.equal(worker.counters.written, 5)
  })

  it('a nacked piece of a split record goes to the DLQ before the original position is acked', async () => {
    const source = new ArraySource(recs(2), 2)
    const d = new MemoryDestination({ nack: (r) => (String(r.key) === 'y' ? 'no y' : undefined) })
    const split = processorOf((rs) => rs.map((r) => (n(r) === 0 ? multiRecord([{ ...r, key: Buffer.from('x') }, { ...r, key: Buffer.from('y') }, { ...r, key: Buffer.from('z') }]) : r)))
    const { dlq } = await runUntil({ source, graph: [proc('p:split', split, [dest(d)])], windowSize: 0 }, () => source.ackedPositions.length === 2)
    assert.deepEqual(d.written.map((r) => String(r.key)), ['x', 'z', 'k1'])
    assert.equal(dlq.written.length, 1)
    assert.deepEqual(source.acks.map(pos), [['p0', 'p1']], 'p0 is acked with the last piece, after y went to the DLQ')
  })

  it('fans out to two destinations: a position is acked once both have it; each gets its own copy', async () => {
    const source = new ArraySource(recs(20), 10)
    const fast = new MemoryDestination()
    const slow = new MemoryDestination()
    const slowWrite = slow.write.bind(slow)
    slow.write = async (rs) => {
      assert.equal(source.ackedPositions.length % 10, 0)
      await new Promise((r) => setTimeout(r, 20))
      return slowWrite(rs)
    }
    const tag = processorOf((rs) => rs.map((r) => ((r.metadata.tagged = 'yes'), r)))
    const { worker } = await runUntil({ source, graph: [dest(fast, 'p:fast'), proc('p:tag', tag, [dest(slow, 'p:slow')])] }, () => source.ackedPositions.length === 20)
    assert.equal(fast.written.length, 20)
    assert.equal(slow.written.length, 20)
    assert.equal(fast.written[0].metadata.tagged, undefined, 'the other branch does not see its changes')
    assert.equal(slow.written[0].metadata.tagged, 'yes')
    assert.deepEqual(source.ackedPositions, recs(20).map((r) => r.position.toString()))
    assert.equal(worker.counters.written, 40)
  })

  it('counts raw bytes per connector: a destination writing what was read reports the bytes read; one behind a processor reports what it got', async () => {
    const bytesSum = async (pipeline: string, type: string): Promise<number> => {
      const metric = await metricsRegistry.getSingleMetric('conduit_connector_bytes')!.get()
      return metric.values.filter((v) => (v as { metricName?: string }).metricName === 'conduit_connector_bytes_sum' && v.labels.pipeline_name === pipeline && v.labels.type === type).reduce((a, v) => a + v.value, 0)
    }
    // Raw keys "k0".."k29" (2 or 3 bytes) and raw payloads of 10 bytes each.
    const raw = (): PipelineRecord[] => Array.from({ length: 30 }, (_, i) => createRecord({ position: Buffer.from(`p${i}`), key: `k${i}`, after: Buffer.alloc(10, 'x') }))
    const expected = raw().reduce((a, r) => a + (r.key as Buffer).length + 10, 0)

    const plain = new ArraySource(raw(), 10)
    await runUntil({ source: plain, graph: [dest(new MemoryDestination())], observer: pipelineObserver('bytes-plain') }, () => plain.ackedPositions.length === 30)
    assert.equal(await bytesSum('bytes-plain', 'source'), expected)
    assert.equal(await bytesSum('bytes-plain', 'destination'), expected)

    // A processor that changes records in place (same objects, same array): the destination's
    // count must be taken from what it wrote, not reused from the read.
    const grown = new ArraySource(raw(), 10)
    const grow = processorOf((rs) => rs.map((r) => ((r.payload.after = Buffer.alloc(100, 'y')), r)))
    await runUntil({ source: grown, graph: [proc('p:grow', grow, [dest(new MemoryDestination())])], observer: pipelineObserver('bytes-grown') }, () => grown.ackedPositions.length === 30)
    assert.equal(await bytesSum('bytes-grown', 'source'), expected)
    assert.equal(await bytesSum('bytes-grown', 'destination'), expected + 30 * 90)
  })

  it('refuses acks that do not match the written positions (fatal), acking nothing', async () => {
    const source = new ArraySource(recs(3), 3)
    const { error } = await runUntil({ source, graph: [dest(new MemoryDestination({ badAcks: true }))] }, () => false)
    assert.ok(isTributaryError(error, 'TRIB_PIPELINE_ACK'), String(error))
    assert.ok(isFatal(error))
    assert.match((error as Error).message, /ack 0 is for position bm9wZQ== but record 0 written has position cDA=/)
    assert.deepEqual(source.acks, [])
  })

  it('refuses acks in another order than the records were written', async () => {
    const source = new ArraySource(recs(3), 3)
    const d = new MemoryDestination()
    d.write = async (rs) => rs.map((r) => ({ position: r.position })).reverse()
    const { error } = await runUntil({ source, graph: [dest(d)] }, () => false)
    assert.ok(isTributaryError(error, 'TRIB_PIPELINE_ACK'))
    assert.match((error as Error).message, /ack 0 is for position cDI= but record 0 written has position cDA=/)
    assert.deepEqual(source.acks, [])
  })

  it('never passes an empty position to a source ack', async () => {
    const source = new ArraySource([], 1)
    const task = new SourceTask('p:src', source)
    assert.throws(() => task.ack([Buffer.from('p1'), Buffer.alloc(0)]), (err: unknown) => isTributaryError(err, 'TRIB_PIPELINE_ACK') && isFatal(err) && /refusing to acknowledge an empty position/.test((err as Error).message))
    assert.deepEqual(source.acks, [])
  })

  it('refuses a source record with an empty position', async () => {
    const source = new ArraySource([rec(0), createRecord({ position: Buffer.alloc(0), after: 'x' })], 2)
    const { error } = await runUntil({ source, graph: [dest(new MemoryDestination())] }, () => false)
    assert.ok(isTributaryError(error, 'TRIB_PIPELINE_ACK'))
    assert.match((error as Error).message, /record 1 .* empty position/)
  })

  it('an ack with an error is a nack: with the default window (1, threshold 0) the pipeline stops with that error', async () => {
    const source = new ArraySource(recs(5), 5)
    const d = new MemoryDestination({ nack: (r) => (n(r) === 3 ? 'disk full' : undefined) })
    const { error, dlq } = await runUntil({ source, graph: [dest(d)], windowSize: 1, threshold: 0 }, () => false)
    assert.equal((error as Error).message, 'disk full')
    assert.equal(isFatal(error), false, 'with threshold 0 the original error is returned, not fatal')
    assert.deepEqual(source.ackedPositions, ['p0', 'p1', 'p2'])
    assert.equal(dlq.written.length, 0)
  })

  it('processor outcomes: a throw stops the run, garbage nacks its record, too many or none is an error', async () => {
    const cases: [PipelineProcessor, RegExp][] = [
      [processorOf(() => { throw new Error('boom') }), /processor p:bad: boom/],
      [processorOf((rs) => [...rs, ...rs]), /returned 6 outcomes for 3 record/],
      [processorOf(() => []), /returned no outcomes for 3 record/],
      [processorOf(() => 'nope' as never), /returned string instead of an array/],
    ]
    for (const [p, message] of cases) {
      const source = new ArraySource(recs(3), 3)
      const d = new MemoryDestination()
      const { error } = await runUntil({ source, graph: [proc('p:bad', p, [dest(d)])] }, () => false)
      assert.ok(isTributaryError(error, 'TRIB_PIPELINE_PROCESSOR'), String(error))
      assert.match((error as Error).message, message)
      assert.deepEqual(source.acks, [])
      assert.equal(d.written.length, 0)
    }
    const source = new ArraySource(recs(3), 3)
    const d = new MemoryDestination()
    const garbage = processorOf((rs) => rs.map((r) => (n(r) === 1 ? ({ hello: 'world' } as never) : r)))
    const { dlq } = await runUntil({ source, graph: [proc('p:garbage', garbage, [dest(d)])], windowSize: 0 }, () => source.ackedPositions.length === 3)
    assert.deepEqual(d.written.map(n), [0, 2])
    assert.match(dlq.written[0].metadata[MetadataKeys.dlqNackError], /invalid outcome for record 1 \(an object with fields hello\)/)
  })

  it('workers: N runs slices concurrently and keeps the order of outcomes and acks', async () => {
    const source = new ArraySource(recs(40), 40)
    const d = new MemoryDestination()
    let concurrent = 0
    let most = 0
    const slowReverse = processorOf(async (rs) => {
      concurrent++
      most = Math.max(most, concurrent)
      await new Promise((r) => setTimeout(r, 10 + (40 - n(rs[0]))))
      concurrent--
      return rs.map((r) => (n(r) === 13 ? errorRecord(new Error('13')) : r))
    })
    const { dlq } = await runUntil({ source, graph: [proc('p:w', slowReverse, [dest(d)], { workers: 4 })], windowSize: 0 }, () => source.ackedPositions.length === 40)
    assert.equal(most, 4)
    assert.deepEqual(d.written.map(n), recs(40).map(n).filter((i) => i !== 13))
    assert.equal(dlq.written.length, 1)
    assert.deepEqual(source.ackedPositions, recs(40).map((r) => r.position.toString()))
  })

  it('condition: only matching records are processed, the others pass unchanged', async () => {
    const source = new ArraySource(recs(6), 6)
    const d = new MemoryDestination()
    const seen: number[] = []
    const mark = processorOf((rs) => rs.map((r) => (seen.push(n(r)), { ...r, metadata: { ...r.metadata, big: 'yes' } })))
    await runUntil({ source, graph: [proc('p:c', mark, [dest(d)], { condition: (r) => n(r) >= 3 })] }, () => source.ackedPositions.length === 6)
    assert.deepEqual(seen, [3, 4, 5])
    assert.deepEqual(d.written.map((r) => r.metadata.big ?? '-'), ['-', '-', '-', 'yes', 'yes', 'yes'])
  })

  it('a failing source ack stops the run with its error, and nothing after it is acked', async () => {
    const source = new ArraySource(recs(50), 10)
    let calls = 0
    const origAck = source.ack.bind(source)
    source.ack = async (ps) => {
      if (++calls === 2) throw new Error('commit failed')
      return origAck(ps)
    }
    const d = new MemoryDestination()
    const { error, worker } = await runUntil({ source, graph: [dest(d)] }, () => false)
    assert.equal((error as Error).message, 'commit failed')
    assert.deepEqual(source.ackedPositions, recs(10).map((r) => r.position.toString()))
    assert.equal(worker.counters.acked, 10)
    assert.ok(d.written.length <= 40, 'at most two batches past the last good ack were written')
  })

  it('stop() finishes the batch in flight, then tears the source down', async () => {
    const source = new ArraySource(recs(5), 5)
    const d = new MemoryDestination()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow = processorOf(async (rs) => (await gate, [...rs]))
    const dlq = new DeadLetterQueue({ destination: new MemoryDestination(), sourceConnectorId: 'p:src' })
    const worker = new Worker({ source: new SourceTask('p:src', source), graph: [proc('p:slow', slow, [dest(d)])], dlq })
    await worker.open()
    const run = worker.run()
    await waitFor(() => worker.counters.read === 5)
    const stopped = worker.stop()
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(source.tornDown, 0, 'not torn down while the batch is in flight')
    release()
    await stopped
    await run
    assert.equal(d.written.length, 5)
    assert.equal(source.ackedPositions.length, 5)
    assert.equal(source.tornDown, 1)
    await worker.close()
  })
})
