import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/index.ts'
import { openLog, type Log } from '../../../src/log/index.ts'
import { conduitRecordJson, registerLog, tributaryLogConnector } from '../../../src/pipeline/connectors/index.ts'
import { acquireLog, decodeLogPosition } from '../../../src/pipeline/connectors/tributary-log/plugin.ts'
import { createRecord, type PipelineRecord, type Source } from '../../../src/pipeline/index.ts'
import { context, settingErrors, settingsOf, signal, tempDir, uid } from './helpers.ts'

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'
const backends = [
  { name: 'memory', url: () => `memory:${uid()}` },
  { name: 'file', url: () => `file:${tempDir('trib-log-')}` },
  { name: 'kafka', url: () => `kafka://${brokers}` },
]

function source(url: string, topics: string, groupID: string, lastPosition?: Buffer): Source {
  return tributaryLogConnector.source!(settingsOf(tributaryLogConnector, { url, topics, groupID }), context({ lastPosition }))
}

async function readN(s: Source, n: number): Promise<PipelineRecord[]> {
  const out: PipelineRecord[] = []
  while (out.length < n) out.push(...(await s.read(signal())))
  return out
}

async function committed(log: Log, group: string, topic: string): Promise<Map<number, number>> {
  return new Map((await log.offsets.committed(group, topic)).map((o) => [o.partition, o.offset]))
}

for (const backend of backends) {
  describe(`tributary-log connector on the ${backend.name} log`, () => {
    it('source: records shaped as Conduit\'s Kafka source; offsets committed only on ack; a restart resumes at the first unacked record', async () => {
      const url = backend.url()
      const lease = await acquireLog(url)
      const log = lease.log
      const topic = `conn-in-${uid()}`
      const group = `conn-g-${uid()}`
      try {
        await log.admin.createTopic({ name: topic, partitions: 1 })
        await log.producer().send(Array.from({ length: 10 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}`, timestamp: 1_700_000_000_000 + i, headers: { trace: `t${i}` } })))

        const first = source(url, topic, group)
        await first.open(signal())
        const records = await readN(first, 10)
        assert.deepEqual(records.map((r) => (r.payload.after as Buffer).toString()), Array.from({ length: 10 }, (_, i) => `v${i}`))
        const r0 = records[0]
        assert.equal(r0.operation, 'create')
        assert.equal((r0.key as Buffer).toString(), 'k0')
        assert.equal(r0.payload.before, null)
        assert.equal(r0.metadata['opencdc.collection'], topic)
        assert.equal(r0.metadata['opencdc.createdAt'], '1700000000000000000')
        assert.equal(r0.metadata['kafka.header.trace'], 't0')
        assert.match(r0.metadata['opencdc.readAt'], /^\d{19}$/)
        assert.deepEqual(JSON.parse(r0.position.toString()), { GroupID: group, Topic: topic, Partition: 0, Offset: 0 })

        assert.deepEqual(await committed(log, group, topic), new Map(), 'nothing committed before an ack')
        await first.ack(records.slice(0, 4).map((r) => r.position))
        assert.deepEqual(await committed(log, group, topic), new Map([[0, 4]]), 'the offset after the last acked record')
        await first.teardown()

        const second = source(url, topic, group, records[3].position)
        await second.open(signal())
        const again = await readN(second, 6)
        assert.deepEqual(again.map((r) => decodeLogPosition(r.position).offset), [4, 5, 6, 7, 8, 9], 'resumes at the first unacked record')
        await second.teardown()
        assert.deepEqual(await committed(log, group, topic), new Map([[0, 4]]), 'reading without acking commits nothing')

        const third = source(url, topic, group)
        await third.open(signal())
        const once = await readN(third, 6)
        assert.equal(decodeLogPosition(once[0].position).offset, 4)
        await third.ack(once.map((r) => r.position))
        assert.deepEqual(await committed(log, group, topic), new Map([[0, 10]]))
        await third.teardown()
      } finally {
        await log.admin.deleteTopic(topic).catch(() => undefined)
        await lease.release()
      }
    })

    it('destination: key bytes, payload.after as the value, kafka.header.* metadata as headers; created topic; opencdc/json on request', async () => {
      const url = backend.url()
      const lease = await acquireLog(url)
      const log = lease.log
      const topic = `conn-out-${uid()}`
      try {
        const dest = tributaryLogConnector.destination!(settingsOf(tributaryLogConnector, { url, topic, partitions: '2' }), context())
        await dest.open(signal())
        assert.equal((await log.admin.describeTopic(topic)).partitions, 2, 'the topic was created')
        const records = [
          createRecord({ position: Buffer.from('1'), key: 'user-1', after: { name: 'ann', age: 3 } as never, metadata: { 'kafka.header.trace': 'abc', other: 'x' } }),
          createRecord({ position: Buffer.from('2'), key: { id: 2 } as never, after: 'raw bytes' }),
          createRecord({ position: Buffer.from('3'), operation: 'delete', key: 'user-1', before: 'gone' }),
        ]
        const acks = await dest.write(records, signal())
        assert.deepEqual(acks.map((a) => [a.position.toString(), a.error]), [['1', undefined], ['2', undefined], ['3', undefined]])
        await dest.teardown()

        const reader = log.reader({ topic })
        const got: Array<{ key: string | undefined; value: string | null; headers: string[][] }> = []
        while (got.length < 3) for (const r of await reader.poll({ timeoutMs: 500 })) got.push({ key: r.key?.toString(), value: r.value === null || r.value.length === 0 ? null : r.value.toString(), headers: r.headers.map(([k, v]) => [k, v.toString()]) })
        await reader.close()
        const byValue = new Map(got.map((g) => [g.value, g]))
        assert.deepEqual(byValue.get('{"age":3,"name":"ann"}'), { key: 'user-1', value: '{"age":3,"name":"ann"}', headers: [['trace', 'abc']] })
        assert.deepEqual(byValue.get('raw bytes'), { key: '{"id":2}', value: 'raw bytes', headers: [] })
        assert.deepEqual(byValue.get(null), { key: 'user-1', value: null, headers: [] }, 'a delete without after is a tombstone')

        const jsonTopic = `conn-json-${uid()}`
        const jsonDest = tributaryLogConnector.destination!(settingsOf(tributaryLogConnector, { url, topic: jsonTopic, 'sdk.record.format': 'opencdc/json' }), context())
        await jsonDest.open(signal())
        await jsonDest.write([records[0]], signal())
        await jsonDest.teardown()
        const jsonReader = log.reader({ topic: jsonTopic })
        let value: string | undefined
        while (value === undefined) for (const r of await jsonReader.poll({ timeoutMs: 500 })) value = r.value?.toString()
        await jsonReader.close()
        assert.equal(value, conduitRecordJson(records[0]))
        await log.admin.deleteTopic(jsonTopic).catch(() => undefined)
      } finally {
        await log.admin.deleteTopic(topic).catch(() => undefined)
        await lease.release()
      }
    })
  })
}

for (const backend of backends.filter((b) => b.name !== 'file')) {
  describe(`tributary-log source rebalances on the ${backend.name} log`, () => {
    it('acks for records of revoked partitions commit nothing, and a partition that comes back is not re-read', async () => {
      const url = backend.url()
      const lease = await acquireLog(url)
      const log = lease.log
      const topic = `two-${uid()}`
      const group = `g-${uid()}`
      try {
        await log.admin.createTopic({ name: topic, partitions: 2 })
        await log.producer().send(Array.from({ length: 20 }, (_, i) => ({ topic, partition: i % 2, value: `v${i}` })))
        const a = source(url, topic, group)
        await a.open(signal())
        const fromA = await readN(a, 20)
        const b = source(url, topic, group)
        await b.open(signal())
        const stopA = new AbortController()
        const aPolling = (async () => {
          // A must keep polling to give up a partition; it has nothing new, as it continues after what it read.
          const got: PipelineRecord[] = []
          while (!stopA.signal.aborted) got.push(...(await a.read(stopA.signal)))
          return got
        })()
        const fromB = await readN(b, 10)
        const bPartition = decodeLogPosition(fromB[0].position).partition
        assert.ok(fromB.every((r) => decodeLogPosition(r.position).partition === bPartition), 'B got one partition')
        stopA.abort()
        assert.deepEqual(await aPolling, [], 'A read nothing twice')
        await a.ack(fromA.map((r) => r.position))
        const afterStale = await committed(log, group, topic)
        assert.equal(afterStale.get(bPartition), undefined, "A's late acks did not commit B's partition")

        await log.producer().send([
          { topic, partition: 0, value: 'new0' },
          { topic, partition: 1, value: 'new1' },
        ])
        const next = await readN(a, 1)
        assert.deepEqual(next.map((r) => decodeLogPosition(r.position)), [{ groupId: group, topic, partition: 1 - bPartition, offset: 10 }], 'A continues at offset 10 of its partition')
        await a.ack(next.map((r) => r.position))
        assert.equal((await committed(log, group, topic)).get(1 - bPartition), 11)
        await a.teardown()
        await b.teardown()
      } finally {
        await log.admin.deleteTopic(topic).catch(() => undefined)
        await lease.release()
      }
    })
  })
}

describe('tributary-log connector', () => {
  it('the default topic is the record\'s opencdc.collection; a record without one is nacked on its own', async () => {
    const url = `memory:${uid()}`
    const lease = await acquireLog(url)
    try {
      const dest = tributaryLogConnector.destination!(settingsOf(tributaryLogConnector, { url }), context())
      await dest.open(signal())
      const acks = await dest.write(
        [
          createRecord({ position: Buffer.from('a'), after: 'to users', metadata: { 'opencdc.collection': 'users' } }),
          createRecord({ position: Buffer.from('b'), after: 'nowhere' }),
          createRecord({ position: Buffer.from('c'), after: 'to orders', metadata: { 'opencdc.collection': 'orders' } }),
        ],
        signal(),
      )
      assert.equal(acks[0].error, undefined)
      assert.match(String(acks[1].error?.message), /opencdc\.collection/)
      assert.equal(acks[2].error, undefined)
      assert.deepEqual(await lease.log.offsets.endOffsets('users'), [1])
      assert.deepEqual(await lease.log.offsets.endOffsets('orders'), [1])
      await lease.log.admin.deleteTopic('users')
      const again = () => dest.write([createRecord({ position: Buffer.from('d'), after: 'again', metadata: { 'opencdc.collection': 'users' } })], signal())
      await assert.rejects(again(), (err) => isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC'), 'a batch to a deleted topic fails as a whole')
      assert.equal((await again())[0].error, undefined, 'the retry creates the topic again')
      assert.deepEqual(await lease.log.offsets.endOffsets('users'), [1])
      await dest.teardown()
    } finally {
      await lease.release()
    }
  })

  it('connectors naming one URL share one log, closed when the last lets go', async () => {
    const url = `memory:${uid()}`
    const first = await acquireLog(url)
    const second = await acquireLog(url)
    assert.equal(first.log, second.log)
    await first.log.admin.createTopic({ name: 'shared', partitions: 1 })
    await first.release()
    assert.deepEqual(await second.log.admin.listTopics(), ['shared'], 'still open while used')
    await second.release()
    assert.throws(() => second.log.producer(), (err) => isTributaryError(err, 'TRIB_CLOSED'), 'closed after the last release')
    const dir = tempDir('trib-key-')
    const a = await acquireLog(`file:${dir}`)
    const b = await acquireLog(`file://${path.relative(process.cwd(), dir)}`)
    assert.equal(a.log, b.log, 'one directory, one log, however the URL spells it')
    await a.release()
    await b.release()
    const fresh = await acquireLog(url)
    assert.notEqual(fresh.log, first.log, 'a later use opens a new log')
    await fresh.release()
  })

  it('an open Log handed over with registerLog is used, and not closed by the connectors', async () => {
    const own = await acquireLog('memory:')
    const unregister = registerLog('memory:app', own.log)
    try {
      await own.log.admin.createTopic({ name: 'handed', partitions: 1 })
      await own.log.producer().send({ topic: 'handed', value: 'hello' })
      const s = source('memory:app', 'handed', 'g1')
      await s.open(signal())
      assert.equal(((await readN(s, 1))[0].payload.after as Buffer).toString(), 'hello')
      await s.teardown()
      assert.deepEqual(await own.log.admin.listTopics(), ['handed'], 'the log is still open')
      assert.throws(() => registerLog('memory:app', own.log), (err) => isTributaryError(err, 'TRIB_INVALID_ARGUMENT'))
    } finally {
      unregister()
      await own.release()
    }
  })

  it('bad settings and bad places are errors naming the setting', async () => {
    assert.match(settingErrors(tributaryLogConnector, { topics: 'a' }).join('\n'), /^url: "url" is required/m)
    assert.match(settingErrors(tributaryLogConnector, { url: 'memory:', topic: 'no spaces allowed' }).join('\n'), /topic: .*neither a valid topic name/)
    assert.match(settingErrors(tributaryLogConnector, { url: 'memory:', readFromBeginning: 'yes' }).join('\n'), /readFromBeginning: .*not a boolean/)
    assert.throws(
      () => tributaryLogConnector.source!(settingsOf(tributaryLogConnector, { url: 'memory:' }), context()),
      (err) => isTributaryError(err, 'TRIB_CONNECTOR_SETTINGS') && /"topics" is required/.test(err.message),
    )
    const badUrl = source('nats://x', 'a', 'g')
    await assert.rejects(badUrl.open(signal()), (err) => isTributaryError(err, 'TRIB_LOG_BAD_URL') && /"url" \(nats:\/\/x\)/.test(err.message))
    const noTopic = source(`memory:${uid()}`, 'missing', 'g')
    await assert.rejects(noTopic.open(signal()), (err) => isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC') && /topic "missing" of "topics" does not exist/.test(err.message))
    const other = source(`memory:${uid()}`, 'a', 'mine', Buffer.from('{"GroupID":"theirs","Topic":"a","Partition":0,"Offset":1}'))
    await assert.rejects(other.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && /consumer group "theirs" but "groupID" is "mine"/.test(err.message))
  })
})

for (const backend of backends.filter((b) => b.name !== 'memory')) {
  describe(`tributary-log source killed with SIGKILL on the ${backend.name} log`, () => {
    it('a restart resumes right after the last acknowledged record: nothing acked is re-read, nothing unacked is lost', async () => {
      const url = backend.url()
      const topic = `kill-${uid()}`
      const group = `kill-g-${uid()}`
      const setup = await openLog(url)
      await setup.admin.createTopic({ name: topic, partitions: 1 })
      await setup.producer().send(Array.from({ length: 5_000 }, (_, i) => ({ topic, value: String(i) })))
      await setup.close()

      const dir = tempDir('trib-kill-')
      const script = path.join(dir, 'consumer.ts')
      const connectors = path.resolve(import.meta.dirname, '../../../src/pipeline/connectors/index.ts')
      const core = path.resolve(import.meta.dirname, '../../../src/core/index.ts')
      fs.writeFileSync(
        script,
        `import { tributaryLogConnector } from ${JSON.stringify(connectors)}
import { createLogger } from ${JSON.stringify(core)}
const ctx = { pipelineId: 'p', connectorId: 'p:c', lastPosition: null, stateDir: '.', logger: createLogger({ level: 'silent' }) }
const source = tributaryLogConnector.source(tributaryLogConnector.settings.parse({ url: ${JSON.stringify(url)}, topics: ${JSON.stringify(topic)}, groupID: ${JSON.stringify(group)}, 'sdk.batch.size': '100' }), ctx)
const signal = new AbortController().signal
await source.open(signal)
for (;;) {
  const batch = await source.read(signal)
  // Ack the first half of every batch only after the previous half went out: acks stay in order.
  const half = batch.slice(0, Math.ceil(batch.length / 2))
  await source.ack(half.map((r) => r.position))
  await source.ack(batch.slice(half.length).map((r) => r.position))
  process.stdout.write('acked ' + JSON.parse(batch.at(-1).position.toString()).Offset + '\\n')
}
`,
      )
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
      let acked = -1
      child.stdout.on('data', (chunk: Buffer) => {
        const m = /acked (\d+)\n$/.exec(chunk.toString())
        if (m) acked = Number(m[1])
      })
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the child did not ack 1,000 records')), 30_000)
        child.stdout.on('data', () => {
          if (acked >= 1_000) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      child.kill('SIGKILL')
      await new Promise((r) => child.once('exit', r))
      const lastReported = acked

      const lease = await acquireLog(url)
      try {
        const committedAfterKill = (await committed(lease.log, group, topic)).get(0)!
        assert.ok(committedAfterKill >= lastReported + 1, `every reported ack is committed (committed ${committedAfterKill}, reported ${lastReported})`)
        const again = source(url, topic, group)
        await again.open(signal())
        const first = (await again.read(signal()))[0]
        assert.equal(decodeLogPosition(first.position).offset, committedAfterKill, 'the restart reads the first unacknowledged record')
        await again.teardown()
      } finally {
        await lease.log.admin.deleteTopic(topic).catch(() => undefined)
        await lease.release()
      }
    })
  })
}
