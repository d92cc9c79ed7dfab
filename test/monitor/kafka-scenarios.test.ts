import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Admin, Producer } from '@platformatic/kafka'
import { openEmbeddedLog, openLog, type GroupConsumer, type Log } from '../../src/log/index.ts'
import { encodeGroupMetadataKey, encodeGroupMetadataValue, encodeOffsetCommitKey, encodeOffsetCommitValue, Monitor } from '../../src/monitor/index.ts'
import { api, captureLogger, eventually, KAFKA_BROKERS, testConfig, uid, waitForCommit, waitForHwm } from './helpers.ts'
import { runScenarios, type ScenarioDriver } from './scenarios.ts'

const clusterConfig = { servers: [KAFKA_BROKERS], 'offset-refresh': 0.1, 'topic-refresh': 1, 'client-id': 'monitor-test' }

runScenarios('kafka', async (): Promise<ScenarioDriver> => {
  const log = await openLog(`kafka://${KAFKA_BROKERS}`)
  const admin = new Admin({ clientId: 'monitor-test-admin', bootstrapBrokers: [KAFKA_BROKERS] })
  const { logger } = captureLogger()
  const cluster = 'kafka'
  const monitors: Monitor[] = []
  const startMonitor = async (overrides: { [section: string]: unknown } = {}): Promise<Monitor> => {
    const monitor = new Monitor(testConfig({ [cluster]: clusterConfig }, overrides), { logger })
    await monitor.start()
    monitors.push(monitor)
    return monitor
  }
  const consumers = new Map<string, GroupConsumer>()
  const member = async (group: string, topic: string): Promise<GroupConsumer> => {
    let consumer = consumers.get(group)
    if (!consumer) {
      consumer = log.consumer({ groupId: group, topics: [topic], sessionTimeoutMs: 30_000, clientId: `client-${group}` })
      consumers.set(group, consumer)
    }
    const deadline = Date.now() + 30_000
    while (consumer.assignment().length === 0 && Date.now() < deadline) await consumer.poll({ timeoutMs: 100 })
    return consumer
  }
  const monitor = await startMonitor()
  return {
    cluster,
    monitor,
    startMonitor,
    createTopic: (topic) => log.admin.createTopic({ name: topic, partitions: 1 }),
    produce: async (topic, count) => {
      await log.producer().send(Array.from({ length: count }, (_, i) => ({ topic, partition: 0, value: `v${i}` })))
    },
    commit: async (group, topic, offset) => {
      const consumer = await member(group, topic)
      await consumer.commit([{ topic, partition: 0, offset }])
    },
    deleteGroup: async (group) => {
      await consumers.get(group)?.close()
      consumers.delete(group)
      await admin.deleteGroups({ groups: [group] })
    },
    close: async () => {
      for (const m of monitors) await m.stop()
      for (const c of consumers.values()) await c.close()
      await admin.close()
      await log.close()
    },
  }
})

describe('monitor on kafka: owners, self-reporting and bad records', { timeout: 120_000 }, () => {
  let log: Log
  before(async () => {
    log = await openLog(`kafka://${KAFKA_BROKERS}`)
  })
  after(async () => {
    await log?.close()
  })

  it('shows the owner host and client id of each partition from the group metadata, and reports its own progress as burrow-<cluster>', async () => {
    const monitor = new Monitor(testConfig({ k: clusterConfig }), { logger: captureLogger().logger })
    await monitor.start()
    const topic = `owned-${uid()}`
    const group = `owners-${uid()}`
    const consumer = log.consumer({ groupId: group, topics: [topic], clientId: 'owner-client' })
    try {
      await log.admin.createTopic({ name: topic, partitions: 2 })
      await log.producer().send([{ topic, partition: 0, value: 'a' }, { topic, partition: 1, value: 'b' }])
      await waitForHwm(monitor, 'k', topic, [1, 1])
      while (consumer.assignment().length < 2) await consumer.poll({ timeoutMs: 100 })
      await consumer.commit([{ topic, partition: 0, offset: 1 }, { topic, partition: 1, offset: 0 }])
      const detail = await eventually(async () => {
        const { code, body } = await api(monitor, `/v3/kafka/k/consumer/${group}`)
        return code === 200 && body.topics[topic]?.every((p: { owner: string }) => p.owner !== '') ? body : undefined
      }, 'owners')
      for (const p of detail.topics[topic]) {
        assert.match(p.owner, /127\.0\.0\.1/)
        assert.match(p.client_id, /owner-client/)
      }
      assert.deepEqual(detail.topics[topic].map((p: { 'current-lag': number }) => p['current-lag']), [0, 1])
      const self = await eventually(async () => {
        const { code, body } = await api(monitor, '/v3/kafka/k/consumer/burrow-k/lag')
        return code === 200 ? body.status : undefined
      }, 'the self-reporting group')
      assert.equal(self.partitions[0].topic, '__consumer_offsets')
      const topics = await api(monitor, '/v3/kafka/k/topic')
      assert.ok(topics.body.topics.includes(topic) && topics.body.topics.includes('__consumer_offsets'))
      const module = await api(monitor, '/v3/kafka/k')
      assert.deepEqual([module.body.module['class-name'], module.body.module.servers], ['kafka', [KAFKA_BROKERS]])
    } finally {
      await consumer.close()
      await monitor.stop()
    }
  })

  it('watches several clusters at once (an embedded log and Kafka), each group under its own cluster', async () => {
    const embedded = openEmbeddedLog({ mode: 'memory', cleanerIntervalMs: 0 })
    const monitor = new Monitor(testConfig({ local: { log: 'memory:', 'offset-refresh': 0.05, 'poll-interval': 0.02 }, k: clusterConfig }), {
      logger: captureLogger().logger,
      logs: { local: embedded },
    })
    const topic = `both-${uid()}`
    const kafkaGroup = `in-kafka-${uid()}`
    const localGroup = `in-embedded-${uid()}`
    const kafkaConsumer = log.consumer({ groupId: kafkaGroup, topics: [topic] })
    const localConsumer = embedded.consumer({ groupId: localGroup, topics: [topic] })
    try {
      await monitor.start()
      assert.deepEqual((await api(monitor, '/v3/kafka')).body.clusters, ['k', 'local'])
      for (const l of [log, embedded]) {
        await l.admin.createTopic({ name: topic, partitions: 1 })
        await l.producer().send([{ topic, partition: 0, value: 'x' }, { topic, partition: 0, value: 'y' }])
      }
      await waitForHwm(monitor, 'k', topic, [2])
      await waitForHwm(monitor, 'local', topic, [2])
      for (const c of [kafkaConsumer, localConsumer]) {
        while (c.assignment().length === 0) await c.poll({ timeoutMs: 100 })
        await c.commit([{ topic, partition: 0, offset: 1 }])
      }
      await waitForCommit(monitor, 'k', kafkaGroup, topic, 0, 1, 1)
      await waitForCommit(monitor, 'local', localGroup, topic, 0, 1, 1)
      assert.ok(!(await api(monitor, '/v3/kafka/local/consumer')).body.consumers.includes(kafkaGroup))
      assert.ok(!(await api(monitor, '/v3/kafka/k/consumer')).body.consumers.includes(localGroup))
      assert.equal((await api(monitor, `/v3/kafka/local/consumer/${kafkaGroup}/lag`)).code, 404)
      assert.equal((await api(monitor, '/v3/kafka/local')).body.module['class-name'], 'embedded')
    } finally {
      await kafkaConsumer.close()
      await localConsumer.close()
      await monitor.stop()
      await embedded.close()
    }
  })

  it('with start-latest, skips the commits already in __consumer_offsets and reads new ones', async () => {
    const topic = `latest-${uid()}`
    const group = `latest-${uid()}`
    await log.admin.createTopic({ name: topic, partitions: 1 })
    await log.producer().send([{ topic, partition: 0, value: 'x' }, { topic, partition: 0, value: 'y' }])
    const consumer = log.consumer({ groupId: group, topics: [topic] })
    const monitor = new Monitor(testConfig({ k: { ...clusterConfig, 'start-latest': true } }), { logger: captureLogger().logger })
    try {
      while (consumer.assignment().length === 0) await consumer.poll({ timeoutMs: 100 })
      await consumer.commit([{ topic, partition: 0, offset: 1 }])
      await monitor.start()
      await waitForHwm(monitor, 'k', topic, [2])
      // New commits are read (repeat: the monitor may still be finding the end of the offsets topic)...
      const detail = await eventually(async () => {
        await consumer.commit([{ topic, partition: 0, offset: 2 }])
        const { code, body } = await api(monitor, `/v3/kafka/k/consumer/${group}`)
        return code === 200 ? body : undefined
      }, 'a new commit', 20_000, 250)
      // ...and the one before the start is not.
      const offsets = detail.topics[topic][0].offsets.filter(Boolean).map((o: { offset: number }) => o.offset)
      assert.ok(offsets.length > 0 && offsets.every((o: number) => o === 2), `only new commits: ${offsets}`)
    } finally {
      await consumer.close()
      await monitor.stop()
    }
  })

  it('counts a malformed offsets record in a metric, warns naming partition and offset, and keeps reading', async () => {
    // Brokers refuse writes to __consumer_offsets, so this test points the source at a topic of its
    // own holding real-format records, with garbage in the middle.
    const offsetsTopic = `offsets-${uid()}`
    await log.admin.createTopic({ name: offsetsTopic, partitions: 1 })
    const producer = new Producer({ clientId: 'monitor-test-producer', bootstrapBrokers: [KAFKA_BROKERS] })
    const { logger, lines } = captureLogger()
    const monitor = new Monitor(testConfig({ k: { ...clusterConfig, 'offsets-topic': offsetsTopic, 'self-group': false } }), { logger })
    try {
      const now = Date.now()
      await producer.send({
        messages: [
          { topic: offsetsTopic, partition: 0, key: encodeOffsetCommitKey('before', offsetsTopic, 0), value: encodeOffsetCommitValue(2, { offset: 1, commitTimestamp: now }) },
          { topic: offsetsTopic, partition: 0, key: Buffer.from([0, 1, 0, 99]), value: Buffer.from('garbage') },
          { topic: offsetsTopic, partition: 0, key: encodeOffsetCommitKey('after', offsetsTopic, 0), value: encodeOffsetCommitValue(4, { offset: 2, commitTimestamp: now, metadata: 'm'.repeat(300) }) },
          {
            topic: offsetsTopic,
            partition: 0,
            key: encodeGroupMetadataKey('after'),
            value: encodeGroupMetadataValue(4, { members: [{ memberId: 'm', clientId: 'flex-client', clientHost: '/10.1.2.3', assignment: [{ topic: offsetsTopic, partitions: [0] }] }] }),
          },
        ],
      })
      await monitor.start()
      await eventually(async () => ((await api(monitor, '/v3/kafka/k/consumer')).body.consumers?.includes('after') ? true : undefined), 'the record after the malformed one')
      assert.deepEqual((await api(monitor, '/v3/kafka/k/consumer')).body.consumers, ['after', 'before'], 'v2 values are decoded too')
      const after = await eventually(async () => {
        const { body } = await api(monitor, '/v3/kafka/k/consumer/after')
        return body.topics?.[offsetsTopic]?.[0]?.owner ? body.topics[offsetsTopic][0] : undefined
      }, 'the owner from flexible (v4) group metadata')
      assert.deepEqual([after.owner, after.client_id], ['/10.1.2.3', 'flex-client'])
      const metrics = (await monitor.api().inject({ url: '/metrics' })).body
      assert.match(metrics, /tributary_monitor_offsets_malformed_total\{cluster="k",partition="0"\} 1/)
      const warning = lines.find((l) => /malformed/.test(String(l.msg)))
      assert.ok(warning, 'a warning was logged')
      assert.equal(warning.partition, 0)
      assert.equal(warning.offset, 1)
      assert.match(String(warning.msg), /partition 0 offset 1/)
    } finally {
      await producer.close()
      await monitor.stop()
    }
  })
})
