import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isTributaryError } from '../../../src/core/index.ts'
import { openLog, type Log } from '../../../src/log/index.ts'
import { conduitRecordJson, kafkaConnector } from '../../../src/pipeline/connectors/index.ts'
import { createRecord, type PipelineRecord, type Source } from '../../../src/pipeline/index.ts'
import { capturingLogger, context, settingErrors, settingsOf, signal, uid } from './helpers.ts'

const servers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'

async function readN(s: Source, n: number): Promise<PipelineRecord[]> {
  const out: PipelineRecord[] = []
  while (out.length < n) out.push(...(await s.read(signal())))
  return out
}

async function withKafka(fn: (log: Log) => Promise<void>): Promise<void> {
  const log = await openLog(`kafka://${servers}`)
  try {
    await fn(log)
  } finally {
    await log.close()
  }
}

describe('kafka connector (Conduit settings on the Kafka backend)', () => {
  it('a Conduit source config reads as Conduit does; the group travels in the position; a restart resumes after the last ack', async () => {
    await withKafka(async (log) => {
      const topic = `conduit-src-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 1 })
      try {
        await log.producer().send(Array.from({ length: 6 }, (_, i) => ({ topic, key: `k${i}`, value: `{"n":${i}}`, timestamp: 1_700_000_000_000 })))
        // As a Conduit pipeline file writes it: strings, no groupID, the legacy `topic`.
        const settings = settingsOf(kafkaConnector, { servers, topic, readFromBeginning: 'true', clientID: 'conduit-test', commitOffsetsDelay: '1s', commitOffsetsSize: '10' })
        const first = kafkaConnector.source!(settings, context())
        await first.open(signal())
        const records = await readN(first, 6)
        const position = JSON.parse(records[0].position.toString()) as { GroupID: string; Topic: string; Partition: number; Offset: number }
        assert.match(position.GroupID, /^[0-9a-f-]{36}$/, 'a new random group, as Conduit')
        assert.deepEqual({ ...position, GroupID: 'g' }, { GroupID: 'g', Topic: topic, Partition: 0, Offset: 0 })
        assert.equal((records[0].key as Buffer).toString(), 'k0')
        assert.equal((records[0].payload.after as Buffer).toString(), '{"n":0}', 'payload.after is the raw value')
        assert.deepEqual(Object.keys(records[0].metadata).sort(), ['opencdc.collection', 'opencdc.createdAt', 'opencdc.readAt'])
        assert.equal(records[0].metadata['opencdc.collection'], topic)
        assert.equal(records[0].metadata['opencdc.createdAt'], '1700000000000000000')
        await first.ack(records.slice(0, 2).map((r) => r.position))
        await first.teardown()
        assert.deepEqual(await log.offsets.committed(position.GroupID, topic), [{ topic, partition: 0, offset: 2 }])

        const second = kafkaConnector.source!(settings, context({ lastPosition: records[1].position }))
        await second.open(signal())
        const rest = await readN(second, 4)
        assert.deepEqual(rest.map((r) => (r.key as Buffer).toString()), ['k2', 'k3', 'k4', 'k5'], 'the group came from the stored position')
        await second.teardown()

        const changed = kafkaConnector.source!(settingsOf(kafkaConnector, { servers, topics: topic, groupID: 'another' }), context({ lastPosition: records[1].position }))
        await assert.rejects(changed.open(signal()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_POSITION') && /"groupID" is "another"/.test(err.message))
      } finally {
        await log.admin.deleteTopic(topic).catch(() => undefined)
      }
    })
  })

  it('readFromBeginning false (the default): a new group starts at the end', async () => {
    await withKafka(async (log) => {
      const topic = `conduit-latest-${uid()}`
      await log.admin.createTopic({ name: topic, partitions: 1 })
      try {
        await log.producer().send({ topic, value: 'old' })
        const s = kafkaConnector.source!(settingsOf(kafkaConnector, { servers, topics: topic, groupID: `g-${uid()}` }), context())
        await s.open(signal())
        const stop = new AbortController()
        const first = s.read(stop.signal)
        // The group has joined once the first poll has an assignment; produce until the source sees a record.
        let got: PipelineRecord[] = []
        const producing = (async () => {
          for (let i = 0; got.length === 0 && i < 200; i++) {
            await log.producer().send({ topic, value: `new-${i}` })
            await new Promise((r) => setTimeout(r, 50))
          }
        })()
        got = await first
        await producing
        assert.ok(got.length > 0)
        assert.ok(got.every((r) => (r.payload.after as Buffer).toString().startsWith('new-')), 'the record written before the group existed is skipped')
        await s.teardown()
      } finally {
        await log.admin.deleteTopic(topic).catch(() => undefined)
      }
    })
  })

  it('the destination writes the OpenCDC JSON record as the value (Conduit\'s default format) and the key bytes, to a fixed topic', async () => {
    await withKafka(async (log) => {
      const topic = `conduit-dst-${uid()}`
      const { logger, lines } = capturingLogger('warn')
      const dest = kafkaConnector.destination!(settingsOf(kafkaConnector, { servers, topic, acks: 'one', compression: 'gzip', deliveryTimeout: '5s', batchBytes: '1000000' }), context({ logger }))
      try {
        assert.ok(lines.some((l) => /"acks" is one/.test(String(l.msg))), 'acks=one is warned about')
        assert.ok(lines.some((l) => /"compression" gzip is ignored/.test(String(l.msg))), 'compression is warned about')
        await dest.open(signal())
        const record = createRecord({ position: Buffer.from('9'), key: { id: 1 } as never, after: { b: 2, a: 1 } as never, metadata: { 'opencdc.collection': 'c' } })
        const acks = await dest.write([record], signal())
        assert.equal(acks[0].error, undefined)
        const reader = log.reader({ topic })
        let got: { key: string | undefined; value: string | undefined } | undefined
        while (got === undefined) for (const r of await reader.poll({ timeoutMs: 500 })) got = { key: r.key?.toString(), value: r.value?.toString() }
        await reader.close()
        assert.deepEqual(got, { key: '{"id":1}', value: conduitRecordJson(record) })
      } finally {
        await dest.teardown()
        await log.admin.deleteTopic(topic).catch(() => undefined)
      }
    })
  })

  it('unreachable servers fail open with an error naming "servers"', async () => {
    const s = kafkaConnector.source!(settingsOf(kafkaConnector, { servers: '127.0.0.1:1', topics: 'x', connectTimeout: '300ms' }), context())
    await assert.rejects(s.open(signal()), (err) => isTributaryError(err, 'TRIB_LOG_BROKER_UNREACHABLE') && /^kafka: "servers" \(kafka:\/\/127\.0\.0\.1:1\)/.test(err.message))
    const d = kafkaConnector.destination!(settingsOf(kafkaConnector, { servers: '127.0.0.1:1', topic: 'x', connectTimeout: '300ms' }), context())
    await assert.rejects(d.open(signal()), (err) => isTributaryError(err, 'TRIB_LOG_BROKER_UNREACHABLE') && /"servers"/.test(err.message))
  })

  it('bad settings name the setting', () => {
    assert.match(settingErrors(kafkaConnector, { topics: 'a' }).join('\n'), /^servers: "servers" is required/m)
    assert.match(settingErrors(kafkaConnector, { servers: 'broker' }).join('\n'), /servers: .*"broker", which is not host:port/)
    assert.match(settingErrors(kafkaConnector, { servers, acks: 'two' }).join('\n'), /acks: "acks" is "two"; use one of none, one, all/)
    assert.match(settingErrors(kafkaConnector, { servers, compression: 'brotli' }).join('\n'), /compression: /)
    assert.match(settingErrors(kafkaConnector, { servers, saslMechanism: 'PLAIN' }).join('\n'), /saslMechanism: .*not supported/)
    assert.match(settingErrors(kafkaConnector, { servers, commitOffsetsDelay: '5' }).join('\n'), /commitOffsetsDelay: .*missing unit/)
    assert.match(settingErrors(kafkaConnector, { servers, topic: 'a b' }).join('\n'), /topic: .*neither a valid topic name/)
    assert.throws(() => kafkaConnector.source!(settingsOf(kafkaConnector, { servers }), context()), (err) => isTributaryError(err, 'TRIB_CONNECTOR_SETTINGS') && /"topics" is required/.test(err.message))
  })
})
