/**
 * The `Log` conformance suite. Every backend runs it unchanged:
 *
 * ```ts
 * runConformance('memory', () => openLog('memory:'))
 * ```
 * `durable` backends are closed and reopened for the restart tests; others only restart consumers.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { isTributaryError, type ErrorCode } from '../../src/core/index.ts'
import type { Record } from '../../src/core/record.ts'
import { fnv1aPartition, murmur2Partition, type Log, type PollOptions } from '../../src/log/index.ts'

/** How the suite opens a backend. */
export interface ConformanceOptions {
  /** Data survives closing and reopening the log (file, kafka). */
  durable?: boolean
  /** Time allowed for compaction to become visible (ms). */
  compactionTimeoutMs?: number
}

const uid = (): string => randomUUID().slice(0, 8)

/** Polls until `done(all records so far)` holds; fails after `timeoutMs`. */
export async function pollUntil(
  consumer: { poll(options?: PollOptions): Promise<Record[]> },
  done: (records: Record[]) => boolean,
  timeoutMs = 30_000,
  label = 'records',
): Promise<Record[]> {
  const records: Record[] = []
  const deadline = Date.now() + timeoutMs
  while (!done(records)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${label}; got ${records.length} records`)
    records.push(...(await consumer.poll({ timeoutMs: 250 })))
  }
  return records
}

async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: ErrorCode, mentions: string[] = []): Promise<void> {
  let error: unknown
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (err) {
    error = err
  }
  assert.ok(error, `expected an error with code ${code}, got none`)
  assert.ok(isTributaryError(error, code), `expected ${code}, got ${(error as Error)?.name}: ${(error as Error)?.message} (${(error as { code?: string }).code})`)
  for (const text of mentions) assert.match((error as Error).message, new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
}

/** Reads a whole topic from the beginning with a throwaway group. */
async function readAll(log: Log, topic: string, expected: number, timeoutMs = 30_000): Promise<Record[]> {
  const consumer = log.consumer({ groupId: `reader-${uid()}`, topics: [topic] })
  try {
    return await pollUntil(consumer, (r) => r.length >= expected, timeoutMs, `${expected} records of ${topic}`)
  } finally {
    await consumer.close()
  }
}

export function runConformance(name: string, open: () => Promise<Log>, options: ConformanceOptions = {}): void {
  describe(`Log conformance: ${name}`, { timeout: 180_000 }, () => {
    let log: Log

    before(async () => {
      log = await open()
    })
    after(async () => {
      await log?.close()
    })

    it('creates, describes, lists and deletes topics', async () => {
      const topic = `admin-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 3 })
      const description = await log.admin.describeTopic(topic)
      assert.equal(description.name, topic)
      assert.equal(description.partitions, 3)
      assert.equal(description.cleanupPolicy, 'delete')
      assert.ok((await log.admin.listTopics()).includes(topic))
      assert.ok(!(await log.admin.listTopics()).some((t) => t.startsWith('__')), 'internal topics are not listed')
      await log.admin.deleteTopic(topic)
      assert.ok(!(await log.admin.listTopics()).includes(topic))
    })

    it('keeps per-partition order', async () => {
      const topic = `order-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 3 })
      const producer = log.producer()
      const sent = []
      for (let i = 0; i < 300; i++) sent.push({ topic, key: `k${i % 7}`, value: `v${i}` })
      // Several calls, so ordering holds across batches too.
      const meta = [...(await producer.send(sent.slice(0, 100))), ...(await producer.send(sent.slice(100)))]
      const records = await readAll(log, topic, 300)
      assert.equal(records.length, 300)
      for (let p = 0; p < 3; p++) {
        const inPartition = records.filter((r) => r.partition === p)
        const offsets = inPartition.map((r) => r.offset)
        assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `partition ${p} in offset order`)
        const expected: (string | null)[] = sent.filter((_, i) => meta[i].partition === p).map((r) => r.value)
        assert.deepEqual(inPartition.map((r) => r.value?.toString()), expected, `partition ${p} in send order`)
      }
      for (const [i, m] of meta.entries()) {
        const record = records.find((r) => r.partition === m.partition && r.offset === m.offset)
        assert.equal(record?.value?.toString(), `v${i}`, 'metadata names where each record went')
      }
    })

    it('partitions keys with murmur2 by default and FNV-1a on request', async () => {
      const topic = `keys-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 7 })
      const keys = Array.from({ length: 50 }, (_, i) => `user-${i}`)
      const byMurmur = await log.producer().send(keys.map((key) => ({ topic, key, value: 'x' })))
      const byFnv = await log.producer({ partitioner: 'fnv1a' }).send(keys.map((key) => ({ topic, key, value: 'x' })))
      keys.forEach((key, i) => {
        assert.equal(byMurmur[i].partition, murmur2Partition(Buffer.from(key), 7), `murmur2 ${key}`)
        assert.equal(byFnv[i].partition, fnv1aPartition(Buffer.from(key), 7), `fnv1a ${key}`)
      })
      const explicit = await log.producer().send({ topic, key: 'user-1', value: 'x', partition: 6 })
      assert.equal(explicit[0].partition, 6, 'an explicit partition wins over the key')
    })

    it('round-trips headers, timestamps, null keys and tombstones', async () => {
      const topic = `headers-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 1 })
      const binary = Buffer.from([0, 255, 1, 254])
      await log.producer().send([
        { topic, key: 'k', value: 'v', timestamp: 1_700_000_000_123, headers: [['trace', Buffer.from('a')], ['trace', Buffer.from('b')], ['bin', binary]] },
        { topic, key: null, value: 'no key' },
        { topic, key: 'gone', value: null },
      ])
      const [first, second, third] = await readAll(log, topic, 3)
      assert.equal(first.timestamp, 1_700_000_000_123)
      assert.deepEqual(first.headers.map(([k, v]) => [k, v.toString('hex')]), [['trace', '61'], ['trace', '62'], ['bin', '00ff01fe']])
      assert.equal(second.key, null)
      assert.equal(second.value?.toString(), 'no key')
      assert.ok(Math.abs(second.timestamp - Date.now()) < 60_000, 'a missing timestamp is set at send time')
      assert.equal(third.key?.toString(), 'gone')
      assert.equal(third.value, null)
    })

    it('reports high watermarks, committed offsets and lag', async () => {
      const topic = `lag-${uid()}`
      const group = `lag-group-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}`, partition: 0 })))
      assert.deepEqual(await log.offsets.endOffsets(topic), [10, 0])
      assert.deepEqual(await log.offsets.startOffsets(topic), [0, 0])
      const consumer = log.consumer({ groupId: group, topics: [topic] })
      await pollUntil(consumer, () => consumer.assignment().length === 2, 30_000, 'assignment')
      await consumer.commit([{ topic, partition: 0, offset: 4 }])
      assert.deepEqual(await log.offsets.committed(group, topic), [{ topic, partition: 0, offset: 4 }])
      const lag = await log.offsets.lag(group, topic)
      assert.deepEqual(
        lag.map((l) => [l.partition, l.committed, l.end, l.lag]),
        [
          [0, 4, 10, 6],
          [1, -1, 0, 0],
        ],
      )
      assert.ok((await log.offsets.listGroups()).includes(group))
      await consumer.close()
    })

    it('commits, and resumes from the commit after a restart', async () => {
      const topic = `resume-${uid()}`
      const group = `resume-group-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      await log.producer().send(Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })))
      const first = log.consumer({ groupId: group, topics: [topic], maxPollRecords: 5 })
      const seen = await pollUntil(first, (r) => r.length >= 10)
      await first.commit()
      const committedCount = seen.length
      await first.close()
      if (options.durable) {
        await log.close()
        log = await open()
      }
      const second = log.consumer({ groupId: group, topics: [topic] })
      const rest = await pollUntil(second, (r) => r.length >= 40 - committedCount)
      await second.close()
      const all = [...seen, ...rest].map((r) => r.value?.toString()).sort()
      assert.equal(rest.length, 40 - committedCount, 'nothing committed is read again')
      assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => `v${i}`).sort(), 'nothing is lost')
    })

    it('splits partitions between two members and rebalances when one leaves', async () => {
      const topic = `group-${uid()}`
      const group = `split-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 4 })
      const events: string[] = []
      const a = log.consumer({ groupId: group, topics: [topic], onAssign: (p) => void events.push(`a+${p.length}`), onRevoke: (p) => void events.push(`a-${p.length}`) })
      const b = log.consumer({ groupId: group, topics: [topic], onAssign: (p) => void events.push(`b+${p.length}`) })
      const deadline = Date.now() + 60_000
      while (a.assignment().length + b.assignment().length !== 4 || a.assignment().length !== 2) {
        assert.ok(Date.now() < deadline, `no 2+2 split: a=${a.assignment().length} b=${b.assignment().length}`)
        await Promise.all([a.poll({ timeoutMs: 250 }), b.poll({ timeoutMs: 250 })])
      }
      const owned = [...a.assignment(), ...b.assignment()].map((tp) => tp.partition).sort()
      assert.deepEqual(owned, [0, 1, 2, 3], 'each partition has exactly one owner')
      await b.close()
      await log.producer().send([0, 1, 2, 3].map((partition) => ({ topic, value: `p${partition}`, partition })))
      const records = await pollUntil(a, (r) => new Set(r.map((x) => x.partition)).size === 4, 60_000, 'records of all four partitions')
      assert.equal(a.assignment().length, 4, 'the remaining member owns all partitions')
      assert.ok(records.length >= 4)
      assert.ok(events.includes('a-2'), `member a was told of the revocation: ${events.join(',')}`)
      await a.close()
    })

    it('a member that stops polling loses its partitions to one that polls: onLost, not onRevoke, and no commit of them', async () => {
      const topic = `lost-${uid()}`
      const group = `lost-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      const lost: number[][] = []
      const revoked: number[][] = []
      // The embedded log removes a member that does not rejoin within sessionTimeoutMs; Kafka one that does not poll within maxPollIntervalMs.
      const slow = log.consumer({
        groupId: group,
        topics: [topic],
        sessionTimeoutMs: 1_000,
        maxPollIntervalMs: 1_500,
        onLost: (p) => void lost.push(p.map((tp) => tp.partition)),
        onRevoke: (p) => void revoked.push(p.map((tp) => tp.partition)),
      })
      await pollUntil(slow, () => slow.assignment().length === 2, 30_000, 'the first member to own both partitions')
      const other = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 1_000 })
      await pollUntil(other, () => other.assignment().length === 2, 30_000, 'the polling member to own both partitions')
      await slow.poll({ timeoutMs: 100 })
      assert.deepEqual(lost, [[0, 1]], 'onLost ran for both partitions')
      assert.deepEqual(revoked, [], 'onRevoke did not run')
      await rejectsWith(slow.commit([{ topic, partition: 0, offset: 0 }]), 'TRIB_LOG_NOT_ASSIGNED')
      await slow.close()
      await other.close()
    })

    it('iterates consumers and readers with for await until they are closed', async () => {
      const topic = `iterate-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      await log.producer().send(Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })))
      for (const source of [log.consumer({ groupId: `iterate-${uid()}`, topics: [topic] }), log.reader({ topic })]) {
        const seen: string[] = []
        for await (const batch of source) {
          assert.ok(batch.length > 0, 'no empty batches are yielded')
          seen.push(...batch.map((r) => r.value?.toString() as string))
          if (seen.length >= 20) break
        }
        assert.deepEqual(seen.sort(), Array.from({ length: 20 }, (_, i) => `v${i}`).sort())
        await source.close()
        const after: unknown[] = []
        for await (const batch of source) after.push(batch)
        assert.deepEqual(after, [], 'a closed source ends the iteration at once')
      }
    })

    it('leaves the group on close even when onRevoke throws', async () => {
      const topic = `leave-${uid()}`
      const group = `leave-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      const failing = log.consumer({
        groupId: group,
        topics: [topic],
        onRevoke: () => {
          throw new Error('user callback failed')
        },
      })
      await pollUntil(failing, () => failing.assignment().length === 2, 30_000, 'assignment')
      await failing.close()
      const other = log.consumer({ groupId: group, topics: [topic] })
      await pollUntil(other, () => other.assignment().length === 2, 60_000, 'the partitions to move to the remaining member')
      await other.close()
    })

    it('assigns round-robin on request', async () => {
      const topicA = `rr-a-${uid()}`
      const topicB = `rr-b-${uid()}`
      const group = `rr-${uid()}`
      await log.admin.createTopic({ name: topicA, partitions: 1 })
      await log.admin.createTopic({ name: topicB, partitions: 1 })
      const options = { groupId: group, topics: [topicA, topicB], assignment: 'roundrobin' as const }
      const a = log.consumer(options)
      const b = log.consumer(options)
      const deadline = Date.now() + 60_000
      // Range would give both partition-0s to one member; round-robin gives one to each.
      while (a.assignment().length !== 1 || b.assignment().length !== 1) {
        assert.ok(Date.now() < deadline, `no 1+1 round-robin split: a=${a.assignment().length} b=${b.assignment().length}`)
        await Promise.all([a.poll({ timeoutMs: 250 }), b.poll({ timeoutMs: 250 })])
      }
      await Promise.all([a.close(), b.close()])
    })

    it('seeks, pauses and resumes partitions, and starts at the end with autoOffsetReset latest', async () => {
      const topic = `seek-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 2 })
      await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, value: `v${i}`, partition: i % 2 })))
      const consumer = log.consumer({ groupId: `seek-${uid()}`, topics: [topic] })
      await pollUntil(consumer, (r) => r.length >= 10)
      consumer.seek({ topic, partition: 0 }, 3)
      assert.equal(consumer.position({ topic, partition: 0 }), 3)
      const again = await pollUntil(consumer, (r) => r.length >= 2)
      assert.deepEqual(again.map((r) => [r.partition, r.offset]), [
        [0, 3],
        [0, 4],
      ])
      consumer.pause([{ topic, partition: 1 }])
      await log.producer().send([
        { topic, value: 'to-0', partition: 0 },
        { topic, value: 'to-1', partition: 1 },
      ])
      const whilePaused = await pollUntil(consumer, (r) => r.length >= 1)
      assert.deepEqual(whilePaused.map((r) => r.value?.toString()), ['to-0'])
      assert.deepEqual(await consumer.poll({ timeoutMs: 300 }), [], 'a paused partition returns nothing')
      consumer.resume([{ topic, partition: 1 }])
      const afterResume = await pollUntil(consumer, (r) => r.length >= 1)
      assert.deepEqual(afterResume.map((r) => r.value?.toString()), ['to-1'])
      await consumer.close()

      const latest = log.consumer({ groupId: `latest-${uid()}`, topics: [topic], autoOffsetReset: 'latest' })
      await pollUntil(latest, () => latest.assignment().length === 2, 30_000, 'assignment')
      assert.deepEqual(await latest.poll({ timeoutMs: 200 }), [])
      await log.producer().send({ topic, value: 'new', partition: 0 })
      const fresh = await pollUntil(latest, (r) => r.length >= 1)
      assert.deepEqual(fresh.map((r) => r.value?.toString()), ['new'])
      await latest.close()
    })

    it('compacts: keeps the latest value per key, and tombstones delete', { timeout: 150_000 }, async () => {
      const topic = `compact-${uid()}`
      await log.admin.createTopic({
        name: topic,
        partitions: 1,
        cleanupPolicy: 'compact',
        configs: { 'segment.ms': '100', 'min.cleanable.dirty.ratio': '0.01', 'delete.retention.ms': '0', 'min.compaction.lag.ms': '0' },
      })
      assert.equal((await log.admin.describeTopic(topic)).cleanupPolicy, 'compact')
      const producer = log.producer()
      await producer.send([
        { topic, key: 'a', value: 'a1' },
        { topic, key: 'b', value: 'b1' },
        { topic, key: 'a', value: 'a2' },
      ])
      await producer.send([
        { topic, key: 'a', value: 'a3' },
        { topic, key: 'b', value: null },
      ])
      const deadline = Date.now() + (options.compactionTimeoutMs ?? 120_000)
      let filler = 0
      for (;;) {
        // Roll the active segment (segment.ms) with filler records so the cleaner can work.
        await new Promise((resolve) => setTimeout(resolve, 300))
        await producer.send({ topic, key: `filler-${filler++}`, value: 'f' })
        const end = (await log.offsets.endOffsets(topic))[0]
        const start = (await log.offsets.startOffsets(topic))[0]
        const records = await readUntilEnd(log, topic, end)
        const ofA = records.filter((r) => r.key?.toString() === 'a')
        const ofB = records.filter((r) => r.key?.toString() === 'b')
        if (ofA.length === 1 && ofB.length === 0) {
          assert.equal(ofA[0].value?.toString(), 'a3', 'the latest value of a survives')
          assert.equal(ofA[0].offset, 3, 'it keeps its offset: compaction removes records, it never renumbers them')
          assert.equal(start, 0, 'compaction does not move the log start offset (only retention and deleteRecords do)')
          assert.equal(records[0].offset, 3, 'a1, b1, a2 (offsets 0-2) are gone from the front')
          break
        }
        assert.ok(Date.now() < deadline, `not compacted in time: a=${ofA.map((r) => r.value?.toString())} b=${ofB.length}`)
      }
    })

    describe('group-less reader', () => {
      /** A topic of `partitions` partitions with `perPartition` records `p<partition>-<i>` in each. */
      async function filled(prefix: string, partitions: number, perPartition: number): Promise<string> {
        const topic = `${prefix}-${uid()}`
        await log.admin.createTopic({ name: topic, partitions })
        const records = []
        for (let i = 0; i < perPartition; i++) for (let p = 0; p < partitions; p++) records.push({ topic, partition: p, key: `k${i}`, value: `p${p}-${i}` })
        await log.producer().send(records)
        return topic
      }

      const byPartition = (records: Record[], p: number): string[] => records.filter((r) => r.partition === p).map((r) => `${r.offset}:${r.value?.toString()}`)
      const expected = (p: number, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${from + i}:p${p}-${from + i}`)

      it('reads every partition from the earliest offset, in order per partition', async () => {
        const topic = await filled('reader-all', 3, 40)
        const reader = log.reader({ topic, maxPollRecords: 7 })
        try {
          const records = await pollUntil(reader, (r) => r.length >= 120, 30_000, '120 records')
          assert.equal(records.length, 120, 'nothing twice')
          for (let p = 0; p < 3; p++) assert.deepEqual(byPartition(records, p), expected(p, 0, 40), `partition ${p}`)
          assert.deepEqual(reader.assignment().map((tp) => [tp.topic, tp.partition]), [0, 1, 2].map((p) => [topic, p]))
          for (let p = 0; p < 3; p++) assert.equal(reader.position({ topic, partition: p }), 40)
          await log.producer().send({ topic, partition: 1, value: 'p1-40' })
          const more = await pollUntil(reader, (r) => r.length >= 1)
          assert.deepEqual(byPartition(more, 1), ['40:p1-40'], 'it follows new records')
        } finally {
          await reader.close()
        }
      })

      it('starts at the end with from latest, and at given offsets with a map', async () => {
        const topic = await filled('reader-from', 3, 10)
        const latest = log.reader({ topic, from: 'latest' })
        assert.deepEqual(await latest.poll({ timeoutMs: 300 }), [])
        await log.producer().send([0, 1, 2].map((p) => ({ topic, partition: p, value: `p${p}-10` })))
        const fresh = await pollUntil(latest, (r) => r.length >= 3)
        for (let p = 0; p < 3; p++) assert.deepEqual(byPartition(fresh, p), expected(p, 10, 11), `latest, partition ${p}`)
        await latest.close()

        // Partition 1 is not in the map: it starts at the earliest offset. Offset 1,000 is past the end: earliest too.
        const mapped = log.reader({ topic, from: new Map([[0, 7], [2, 1_000]]) })
        const records = await pollUntil(mapped, (r) => r.length >= 4 + 11 + 11)
        assert.deepEqual(byPartition(records, 0), expected(0, 7, 11))
        assert.deepEqual(byPartition(records, 1), expected(1, 0, 11))
        assert.deepEqual(byPartition(records, 2), expected(2, 0, 11))
        await mapped.close()

        const some = log.reader({ topic, partitions: [2, 0], from: new Map([[2, 9]]) })
        const ofSome = await pollUntil(some, (r) => r.length >= 2 + 11)
        assert.deepEqual(some.assignment().map((tp) => tp.partition), [0, 2])
        assert.deepEqual(byPartition(ofSome, 2), expected(2, 9, 11))
        assert.deepEqual(byPartition(ofSome, 0), expected(0, 0, 11))
        assert.deepEqual(byPartition(ofSome, 1), [], 'partitions not asked for are not read')
        await some.close()
      })

      it('seeks', async () => {
        const topic = await filled('reader-seek', 2, 10)
        const reader = log.reader({ topic })
        try {
          await pollUntil(reader, (r) => r.length >= 20)
          reader.seek({ topic, partition: 1 }, 4)
          assert.equal(reader.position({ topic, partition: 1 }), 4)
          const again = await pollUntil(reader, (r) => r.length >= 6)
          assert.deepEqual(byPartition(again, 1), expected(1, 4, 10))
          assert.deepEqual(byPartition(again, 0), [])
          reader.seek({ topic, partition: 0 }, 8)
          reader.seek({ topic, partition: 0 }, 2)
          const fromTwo = await pollUntil(reader, (r) => r.length >= 8)
          assert.deepEqual(byPartition(fromTwo, 0), expected(0, 2, 10), 'the last seek wins')
        } finally {
          await reader.close()
        }
      })

      it('joins no group and commits nothing', async () => {
        const topic = await filled('reader-nogroup', 2, 5)
        const clientId = `reader-client-${uid()}`
        const before = new Set(await log.offsets.listGroups())
        const reader = log.reader({ topic, clientId })
        await pollUntil(reader, (r) => r.length >= 10)
        const during = await log.offsets.listGroups()
        await reader.close()
        const after = await log.offsets.listGroups()
        for (const groups of [during, after]) {
          // Other test files may use the same Kafka broker at the same time: only groups of this reader count there.
          const fresh = groups.filter((g) => !before.has(g))
          const ours = log.backend === 'kafka' ? fresh.filter((g) => g.includes(topic) || g.includes(clientId) || g.includes('reader')) : fresh
          assert.deepEqual(ours, [], 'no group is listed for the reader')
        }
        const members = log.consumer({ groupId: `after-reader-${uid()}`, topics: [topic] })
        const all = await pollUntil(members, (r) => r.length >= 10)
        assert.equal(all.length, 10, 'a group reading afterwards still starts at the beginning')
        await members.close()
      })

      it('rejects bad input', async () => {
        const topic = await filled('reader-bad', 2, 1)
        const missing = `missing-${uid()}`
        const unknown = log.reader({ topic: missing })
        await rejectsWith(unknown.poll({ timeoutMs: 2_000 }), 'TRIB_LOG_UNKNOWN_TOPIC', [missing])
        await unknown.close()
        for (const options of [{ partitions: [2] }, { partitions: [0, -1] }, { from: new Map([[5, 0]]) }]) {
          const reader = log.reader({ topic, ...options })
          await rejectsWith(reader.poll({ timeoutMs: 2_000 }), 'TRIB_LOG_PARTITION_OUT_OF_RANGE', [topic])
          assert.deepEqual(reader.assignment(), [])
          await reader.close()
        }
        await rejectsWith(() => log.reader({ topic, from: new Map([[0, -1]]) }), 'TRIB_INVALID_ARGUMENT', ['offset'])
        await rejectsWith(() => log.reader({ topic, from: 'middle' as 'latest' }), 'TRIB_INVALID_ARGUMENT', ['from'])
        await rejectsWith(() => log.reader({ topic, maxPollRecords: 0 }), 'TRIB_INVALID_ARGUMENT', ['maxPollRecords'])
        await rejectsWith(() => log.reader({ topic: '' }), 'TRIB_INVALID_ARGUMENT', ['topic'])
        const reader = log.reader({ topic, partitions: [1] })
        await rejectsWith(() => reader.seek({ topic, partition: 1 }, 0), 'TRIB_LOG_NOT_ASSIGNED', [topic]) // before the first poll
        await pollUntil(reader, (r) => r.length >= 1)
        await rejectsWith(() => reader.seek({ topic, partition: 0 }, 0), 'TRIB_LOG_NOT_ASSIGNED', [`${topic}/0`])
        await rejectsWith(() => reader.seek({ topic, partition: 1 }, -3), 'TRIB_INVALID_ARGUMENT', ['offset'])
        await reader.close()
        await rejectsWith(reader.poll(), 'TRIB_CLOSED', [topic])
      })
    })

    describe('bad input', () => {
      it('rejects an unknown topic, naming it, and appends nothing', async () => {
        const topic = `known-${uid()}`
        const missing = `missing-${uid()}`
        await log.admin.createTopic({ name: topic, partitions: 1 })
        await rejectsWith(log.producer().send([{ topic, value: 'ok' }, { topic: missing, value: 'x' }]), 'TRIB_LOG_UNKNOWN_TOPIC', [missing])
        assert.deepEqual(await log.offsets.endOffsets(topic), [0], 'no record of the failed call was appended')
        await rejectsWith(log.admin.describeTopic(missing), 'TRIB_LOG_UNKNOWN_TOPIC', [missing])
        await rejectsWith(log.admin.deleteTopic(missing), 'TRIB_LOG_UNKNOWN_TOPIC', [missing])
        await rejectsWith(log.offsets.endOffsets(missing), 'TRIB_LOG_UNKNOWN_TOPIC', [missing])
        const consumer = log.consumer({ groupId: `g-${uid()}`, topics: [missing] })
        await rejectsWith(consumer.poll({ timeoutMs: 2_000 }), 'TRIB_LOG_UNKNOWN_TOPIC', [missing])
        await consumer.close()
      })

      it('rejects a partition out of range', async () => {
        const topic = `range-${uid()}`
        await log.admin.createTopic({ name: topic, partitions: 2 })
        await rejectsWith(log.producer().send({ topic, value: 'x', partition: 2 }), 'TRIB_LOG_PARTITION_OUT_OF_RANGE', [topic, '2'])
        await rejectsWith(log.producer().send({ topic, value: 'x', partition: -1 }), 'TRIB_LOG_PARTITION_OUT_OF_RANGE', [topic])
        assert.deepEqual(await log.offsets.endOffsets(topic), [0, 0])
      })

      it('rejects creating a topic twice, and invalid topic specs', async () => {
        const topic = `twice-${uid()}`
        await log.admin.createTopic({ name: topic, partitions: 1 })
        await rejectsWith(log.admin.createTopic({ name: topic, partitions: 1 }), 'TRIB_LOG_TOPIC_EXISTS', [topic])
        await rejectsWith(log.admin.createTopic({ name: `zero-${uid()}`, partitions: 0 }), 'TRIB_INVALID_ARGUMENT', ['partitions'])
        await rejectsWith(log.admin.createTopic({ name: 'bad name!', partitions: 1 }), 'TRIB_INVALID_ARGUMENT', ['bad name!'])
      })

      it('rejects a commit for a partition the member does not own, applying none of it', async () => {
        const topic = `owned-${uid()}`
        const other = `other-${uid()}`
        const group = `owned-${uid()}`
        await log.admin.createTopic({ name: topic, partitions: 2 })
        await log.admin.createTopic({ name: other, partitions: 1 })
        const consumer = log.consumer({ groupId: group, topics: [topic] })
        await pollUntil(consumer, () => consumer.assignment().length === 2, 30_000, 'assignment')
        await rejectsWith(
          consumer.commit([
            { topic, partition: 0, offset: 0 },
            { topic: other, partition: 0, offset: 0 },
          ]),
          'TRIB_LOG_NOT_ASSIGNED',
          [other],
        )
        assert.deepEqual(await log.offsets.committed(group, topic), [], 'the valid part of the call was not applied either')
        await consumer.close()
      })

      it('rejects a commit from a member whose partitions were revoked', async () => {
        const topic = `revoked-${uid()}`
        const group = `revoked-${uid()}`
        await log.admin.createTopic({ name: topic, partitions: 2 })
        const a = log.consumer({ groupId: group, topics: [topic] })
        await pollUntil(a, () => a.assignment().length === 2, 30_000, 'assignment')
        const b = log.consumer({ groupId: group, topics: [topic] })
        const deadline = Date.now() + 60_000
        while (a.assignment().length !== 1 || b.assignment().length !== 1) {
          assert.ok(Date.now() < deadline, 'no 1+1 split')
          await Promise.all([a.poll({ timeoutMs: 250 }), b.poll({ timeoutMs: 250 })])
        }
        const lost = b.assignment()[0]
        await rejectsWith(a.commit([{ ...lost, offset: 0 }]), 'TRIB_LOG_NOT_ASSIGNED', [`${topic}`])
        await Promise.all([a.close(), b.close()])
      })
    })
  })
}

/** Reads a topic from its start up to `end` (exclusive) with a throwaway group. */
async function readUntilEnd(log: Log, topic: string, end: number): Promise<Record[]> {
  const consumer = log.consumer({ groupId: `compact-reader-${uid()}`, topics: [topic] })
  try {
    return await pollUntil(consumer, (r) => r.length > 0 && r[r.length - 1].offset >= end - 1, 30_000, `records up to offset ${end - 1}`)
  } finally {
    await consumer.close()
  }
}
