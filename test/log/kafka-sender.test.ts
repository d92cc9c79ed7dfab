/**
 * The pipelined Kafka sender against a scripted connection: which batches go with which sequence
 * numbers, and what happens after each broker answer. Deterministic companions of the real-broker
 * tests in `kafka-producer-pipeline.test.ts` (which cannot make a broker answer a given error on a
 * given batch).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { kGetApi, Reader } from '@platformatic/kafka'
import type { TributaryError } from '../../src/core/errors.ts'
import type { RecordMetadata } from '../../src/core/record.ts'
import type { PartitionResponse, ProduceResponse } from '../../src/log/kafka/produce-request.ts'
import { Sender, type RecordOwner } from '../../src/log/kafka/sender.ts'
import { resolveSettings } from '../../src/log/kafka/settings.ts'

/** One batch as it went over the wire. */
interface SentBatch {
  partition: number
  producerId: bigint
  sequence: number
  count: number
}

interface SentRequest {
  batches: SentBatch[]
  answer(byPartition: Record<number, number>, baseOffsets?: Record<number, number>): void
}

const TOPIC = 't'

/** Decodes a Produce request body (v9+) into its batches' producer ids and sequences. */
function decode(body: Buffer): SentBatch[] {
  const r = Reader.from(body)
  r.readUnsignedVarInt() // transactional id (null)
  r.readInt16()
  r.readInt32()
  const out: SentBatch[] = []
  r.readArray((r) => {
    r.readString()
    r.readArray((r) => {
      const partition = r.readInt32()
      const length = r.readUnsignedVarInt() - 1
      const batch = body.subarray(r.position, r.position + length)
      r.skip(length)
      out.push({ partition, producerId: batch.readBigInt64BE(43), sequence: batch.readInt32BE(53), count: batch.readInt32BE(57) })
    })
  })
  return out
}

/** A sender over a fake broker with `partitions` partitions, all led by node 1. */
async function harness(partitions: number, batchSize = 300, deliveryTimeoutMs = 60_000) {
  const requests: SentRequest[] = []
  let nextProducerId = 1000n
  const initCalls: bigint[] = []
  const connection = {
    isConnected: () => true,
    send(_key: number, _version: number, payload: () => { buffer: Buffer }, _parser: unknown, _a: boolean, _b: boolean, callback: (err: Error | null, response?: ProduceResponse) => void) {
      const batches = decode(payload().buffer)
      requests.push({
        batches,
        answer(byPartition, baseOffsets = {}) {
          const results = new Map<number, PartitionResponse>()
          for (const b of batches) results.set(b.partition, { errorCode: byPartition[b.partition] ?? 0, baseOffset: byPartition[b.partition] ? -1 : (baseOffsets[b.partition] ?? b.sequence), errorMessage: null })
          callback(null, new Map([[TOPIC, results]]))
        },
      })
    },
  }
  const broker = { host: 'fake', port: 1 }
  const client = {
    metadata: async () => ({
      brokers: new Map([[1, broker]]),
      topics: new Map([[TOPIC, { partitionsCount: partitions, partitions: Array.from({ length: partitions }, () => ({ leader: 1 })) }]]),
    }),
    clearMetadata: () => {},
    [kGetApi]: (name: string, callback: (err: Error | null, api?: unknown) => void) => {
      if (name === 'Produce') return callback(null, Object.assign(() => {}, { version: 11 }))
      if (name === 'InitProducerId') {
        return callback(
          null,
          Object.assign((_c: unknown, _t: unknown, _ms: unknown, _id: unknown, _e: unknown, cb: (err: Error | null, r?: unknown) => void) => {
            const producerId = nextProducerId++
            initCalls.push(producerId)
            cb(null, { producerId, producerEpoch: 0 })
          }, { version: 4 }),
        )
      }
      callback(new Error(`no ${name}`))
    },
  }
  const pool = {
    getEstablishedConnection: () => connection,
    get: (_b: unknown, cb: (err: Error | null, c?: unknown) => void) => cb(null, connection),
    getFirstAvailable: (_b: unknown, cb: (err: Error | null, c?: unknown) => void) => cb(null, connection),
  }
  const settings = resolveSettings({ brokers: ['fake:1'] })
  const sender = new Sender(settings, pool as never, client as never, { batchSize, lingerMs: 0, maxInFlightRequests: 5, deliveryTimeoutMs })
  await sender.lookup([TOPIC])
  return { sender, requests, initCalls }
}

/** A call of `n` records to `partition`, each 100 bytes (two per batch of 300 bytes), collecting outcomes. */
function call(sender: Sender, partition: number, n: number): { done: Promise<{ metas: RecordMetadata[]; error?: TributaryError }> } {
  let resolve!: (v: { metas: RecordMetadata[]; error?: TributaryError }) => void
  const done = new Promise<{ metas: RecordMetadata[]; error?: TributaryError }>((r) => (resolve = r))
  const metas: RecordMetadata[] = []
  let left = n
  let error: TributaryError | undefined
  const owner: RecordOwner = {
    acknowledged(index, meta) {
      metas[index] = meta
      if (--left === 0) resolve({ metas, error })
    },
    failed(_index, err) {
      error ??= err
      if (--left === 0) resolve({ metas, error })
    },
  }
  for (let i = 0; i < n; i++) sender.append(TOPIC, partition, { key: null, value: Buffer.alloc(76, i) }, 100, owner, i)
  sender.schedule()
  return { done }
}

async function until(condition: () => boolean, label: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Sends a first call and acknowledges it, so the partition may have several batches in flight. */
async function confirmed(h: Awaited<ReturnType<typeof harness>>): Promise<void> {
  const first = call(h.sender, 0, 1)
  await until(() => h.requests.length === 1, 'the first request')
  h.requests[0].answer({})
  await first.done
}

describe('Kafka sender (scripted broker)', () => {
  it('keeps one batch in flight per partition until the broker acknowledged one, then up to five requests', async () => {
    const h = await harness(1)
    const c = call(h.sender, 0, 14) // seven batches of two records
    await until(() => h.requests.length === 1, 'the first request')
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(h.requests.length, 1, 'nothing else goes before the first acknowledgement')
    h.requests[0].answer({})
    await until(() => h.requests.length === 6, 'five more requests in flight')
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(h.requests.length, 6, 'at most five in flight')
    assert.deepEqual(
      h.requests.map((r) => r.batches[0].sequence),
      [0, 2, 4, 6, 8, 10],
    )
    for (const r of h.requests.slice(1)) r.answer({})
    await until(() => h.requests.length === 7, 'the last batch')
    assert.equal(h.requests[6].batches[0].sequence, 12)
    h.requests[6].answer({})
    const { metas, error } = await c.done
    assert.equal(error, undefined)
    assert.deepEqual(
      metas.map((m) => m.offset),
      Array.from({ length: 14 }, (_, i) => i),
    )
  })

  it('resends a batch refused with a retriable error, and the ones refused as out of order behind it, with the same sequences, in order', async () => {
    const h = await harness(1)
    await confirmed(h)
    const c = call(h.sender, 0, 6) // three batches: sequences 1, 3, 5
    await until(() => h.requests.length === 4, 'three requests in flight')
    assert.deepEqual(
      h.requests.slice(1).map((r) => r.batches[0].sequence),
      [1, 3, 5],
    )
    h.requests[1].answer({ 0: 6 }) // NOT_LEADER_OR_FOLLOWER
    h.requests[2].answer({ 0: 45 }) // OUT_OF_ORDER_SEQUENCE_NUMBER
    h.requests[3].answer({ 0: 45 })
    await until(() => h.requests.length >= 7, 'the three resent')
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.deepEqual(
      h.requests.slice(4).map((r) => r.batches.map((b) => b.sequence)),
      [[1], [3], [5]],
      'resent in order with their sequences',
    )
    for (const r of h.requests.slice(4)) r.answer({})
    const { metas, error } = await c.done
    assert.equal(error, undefined)
    assert.deepEqual(
      metas.map((m) => m.offset),
      [1, 2, 3, 4, 5, 6],
    )
    assert.deepEqual(h.initCalls.length, 1, 'same producer id')
  })

  it('fails a refused batch naming its partition and renumbers the batches behind it, which are written', async () => {
    const h = await harness(1)
    await confirmed(h)
    const a = call(h.sender, 0, 2) // sequences 1..2
    const b = call(h.sender, 0, 2) // 3..4
    const c = call(h.sender, 0, 2) // 5..6
    await until(() => h.requests.length === 4, 'three requests in flight')
    h.requests[1].answer({ 0: 10 }) // MESSAGE_TOO_LARGE
    h.requests[2].answer({ 0: 45 })
    h.requests[3].answer({ 0: 45 })
    const failed = await a.done
    assert.match(failed.error?.message ?? '', /send to t partition 0: .*MESSAGE_TOO_LARGE/)
    assert.equal(failed.error?.details.partition, 0)
    await until(() => h.requests.length === 6, 'the two later batches again')
    assert.deepEqual(
      h.requests.slice(4).map((r) => r.batches[0].sequence),
      [1, 3],
      'numbered as if the refused batch never was',
    )
    h.requests[4].answer({}, { 0: 1 })
    h.requests[5].answer({}, { 0: 3 })
    assert.deepEqual((await b.done).metas.map((m) => m.offset), [1, 2])
    assert.deepEqual((await c.done).metas.map((m) => m.offset), [3, 4])
  })

  it('takes a new producer id on UNKNOWN_PRODUCER_ID and renumbers what it holds from 0', async () => {
    const h = await harness(2)
    await confirmed(h)
    const c = call(h.sender, 0, 2)
    const d = call(h.sender, 1, 2)
    await until(() => h.requests.length === 2, 'the next request')
    h.requests[1].answer({ 0: 59, 1: 0 })
    await until(() => h.requests.length === 3, 'the resend')
    assert.deepEqual(h.initCalls, [1000n, 1001n])
    assert.deepEqual(h.requests[2].batches, [{ partition: 0, producerId: 1001n, sequence: 0, count: 2 }])
    h.requests[2].answer({}, { 0: 7 })
    assert.deepEqual((await c.done).metas.map((m) => m.offset), [7, 8])
    assert.equal((await d.done).error, undefined)
  })

  it('fails a batch the broker keeps refusing once deliveryTimeoutMs has passed, with the last error, and takes a new producer id after it', async () => {
    const h = await harness(1, 300, 300)
    await confirmed(h)
    const started = Date.now()
    const c = call(h.sender, 0, 2) // one batch, sequence 1
    // The broker answers every attempt with NOT_LEADER_OR_FOLLOWER (retriable): the sender resends until the timeout.
    let answered = 1
    let settled = false
    const answering = (async () => {
      while (!settled) {
        while (h.requests.length > answered) h.requests[answered++].answer({ 0: 6 })
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    const { metas, error } = await c.done
    settled = true
    await answering
    assert.equal(metas.length, 0, 'nothing acknowledged')
    assert.equal(error?.code, 'TRIB_TIMEOUT')
    assert.match(error?.message ?? '', /^send to t partition 0: not acknowledged within deliveryTimeoutMs \(300 ms\): .*NOT_LEADER_OR_FOLLOWER/)
    assert.ok(Date.now() - started >= 300, 'not before the timeout')
    assert.ok(answered >= 3, `sent and resent before giving up (${answered - 1} attempts)`)
    // It may have been written: the next batch goes under a new producer id, from sequence 0.
    const next = call(h.sender, 0, 1)
    await until(() => h.requests.length > answered, 'the next request')
    const sent = h.requests[answered].batches[0]
    assert.equal(h.initCalls.length, 2, 'a new producer id')
    assert.equal(sent.producerId, h.initCalls[1])
    assert.equal(sent.sequence, 0)
    h.requests[answered].answer({})
    assert.equal((await next.done).error, undefined)
  })
})

