import assert from 'node:assert/strict'
import os from 'node:os'
import { after, before, describe, it } from 'node:test'
import { Monitor } from '../../src/monitor/index.ts'
import { api, captureLogger, testConfig } from './helpers.ts'

/** A monitor that is not started: its storage is filled by hand, so every answer is known. */
function fixture(): Monitor {
  const monitor = new Monitor(testConfig({ local: { log: 'memory:' }, other: { servers: ['127.0.0.1:1'] } }), { logger: captureLogger().logger })
  const s = monitor.storage
  const now = Date.now()
  s.setBrokerOffsets('local', 'orders', [100, 50], now - 3000)
  s.setBrokerOffsets('local', 'refunds', [10], now - 3000)
  // billing: orders/0 falls behind (WARN), orders/1 caught up.
  ;[
    [60, 70],
    [70, 80],
    [80, 100],
  ].forEach(([offset, hwm], i) => {
    s.setBrokerOffsets('local', 'orders', [hwm, 50], now - 3000 + i * 1000)
    s.addCommit('local', { group: 'billing', topic: 'orders', partition: 0, offset, order: i, timestamp: now - 3000 + i * 1000 }, now)
  })
  s.addCommit('local', { group: 'billing', topic: 'orders', partition: 1, offset: 50, order: 10, timestamp: now - 1000 }, now)
  s.setOwners('local', 'billing', [{ clientId: 'billing-app', clientHost: '/10.0.0.7', assignment: [{ topic: 'orders', partitions: [0, 1] }] }])
  s.addCommit('local', { group: 'audit', topic: 'refunds', partition: 0, offset: 10, order: 11, timestamp: now - 500 }, now)
  return monitor
}

describe('HTTP API v3', () => {
  let monitor: Monitor
  before(() => {
    monitor = fixture()
  })
  after(async () => {
    await monitor.stop()
  })

  it('wraps every answer in Burrow’s envelope', async () => {
    const { code, body } = await api(monitor, '/v3/kafka')
    assert.equal(code, 200)
    assert.deepEqual(body, { error: false, message: 'cluster list returned', clusters: ['local', 'other'], request: { url: '/v3/kafka', host: os.hostname() } })
  })

  it('describes a cluster module, and answers 404 for an unknown cluster', async () => {
    assert.equal((await api(monitor, '/v3/kafka/local')).body.module['class-name'], 'embedded')
    assert.equal((await api(monitor, '/v3/kafka/other')).body.module['class-name'], 'kafka')
    const module = await api(monitor, '/v3/kafka/nope')
    assert.deepEqual([module.code, module.body.error, module.body.message], [404, true, 'cluster module not found'])
    for (const path of ['/v3/kafka/nope/topic', '/v3/kafka/nope/consumer', '/v3/kafka/nope/topic/orders/consumers']) {
      const { code, body } = await api(monitor, path)
      assert.equal(code, 404, path)
      assert.deepEqual([body.error, body.message, body.request.url], [true, 'cluster not found', path])
    }
  })

  it('lists topics, their offsets and their consumers', async () => {
    assert.deepEqual((await api(monitor, '/v3/kafka/local/topic')).body.topics, ['orders', 'refunds'])
    const offsets = await api(monitor, '/v3/kafka/local/topic/orders')
    assert.deepEqual([offsets.body.message, offsets.body.offsets], ['topic offsets returned', [100, 50]])
    assert.deepEqual((await api(monitor, '/v3/kafka/local/topic/orders/consumers')).body.consumers, ['billing'])
    const missing = await api(monitor, '/v3/kafka/local/topic/nope')
    assert.deepEqual([missing.code, missing.body.message], [404, 'cluster or topic not found'])
    const noConsumers = await api(monitor, '/v3/kafka/local/topic/nope/consumers')
    assert.deepEqual([noConsumers.code, noConsumers.body.consumers], [200, []], 'Burrow: an unknown topic has no consumers')
  })

  it('lists consumers and details one: offsets padded with nulls to `intervals`, owner, client_id, current-lag', async () => {
    assert.deepEqual((await api(monitor, '/v3/kafka/local/consumer')).body.consumers, ['audit', 'billing'])
    const { body } = await api(monitor, '/v3/kafka/local/consumer/billing')
    assert.equal(body.message, 'consumer detail returned')
    const [p0, p1] = body.topics.orders
    assert.equal(p0.offsets.length, 4)
    assert.equal(p0.offsets[0], null)
    assert.deepEqual(Object.keys(p0.offsets[1]).sort(), ['lag', 'observedAt', 'offset', 'timestamp'])
    assert.deepEqual(p0.offsets.slice(1).map((o: { offset: number; lag: number }) => [o.offset, o.lag]), [
      [60, 10],
      [70, 10],
      [80, 20],
    ])
    assert.deepEqual([p0.owner, p0.client_id, p0['current-lag']], ['/10.0.0.7', 'billing-app', 20])
    assert.deepEqual([p1.offsets.filter(Boolean).length, p1['current-lag']], [1, 0])
  })

  it('evaluates a group: /lag lists all partitions, /status only those not OK', async () => {
    const lag = (await api(monitor, '/v3/kafka/local/consumer/billing/lag')).body
    assert.equal(lag.message, 'consumer status returned')
    const s = lag.status
    assert.deepEqual([s.cluster, s.group, s.status, s.partition_count, s.totallag, s.complete], ['local', 'billing', 'WARN', 2, 20, 0])
    assert.deepEqual(s.partitions.map((p: { partition: number; status: string }) => [p.partition, p.status]), [
      [0, 'WARN'],
      [1, 'OK'],
    ])
    assert.deepEqual(Object.keys(s.partitions[0]).sort(), ['client_id', 'complete', 'current_lag', 'end', 'owner', 'partition', 'start', 'status', 'topic'])
    assert.deepEqual([s.partitions[0].start.offset, s.partitions[0].end.offset, s.partitions[0].complete], [60, 80, 0.75])
    assert.deepEqual([s.maxlag.topic, s.maxlag.partition, s.maxlag.current_lag], ['orders', 0, 20])
    const status = (await api(monitor, '/v3/kafka/local/consumer/billing/status')).body.status
    assert.deepEqual(status.partitions.map((p: { partition: number }) => p.partition), [0])
    assert.equal(status.partition_count, 2)
  })

  it('answers 404 for unknown groups, in Burrow’s words', async () => {
    const detail = await api(monitor, '/v3/kafka/local/consumer/nope')
    assert.deepEqual([detail.code, detail.body.error, detail.body.message], [404, true, 'cluster or consumer not found'])
    for (const path of ['/v3/kafka/local/consumer/nope/status', '/v3/kafka/local/consumer/nope/lag', '/v3/kafka/nope/consumer/billing/lag']) {
      const { code, body } = await api(monitor, path)
      assert.deepEqual([code, body.error, body.message, body.status.status], [404, false, 'consumer status returned', 'NOTFOUND'], path)
    }
    const { code, body } = await api(monitor, '/v3/nothing/here')
    assert.deepEqual([code, body], [404, '{"error":true,"message":"invalid request type","result":{}}\n'])
  })

  it('deletes a group’s topic and a group', async () => {
    const m = fixture()
    try {
      assert.equal((await api(m, '/v3/kafka/local/consumer/billing/topic/orders', 'DELETE')).code, 200)
      assert.equal((await api(m, '/v3/kafka/local/consumer/billing', 'GET')).code, 404, 'orders was its only topic')
      const withHeader = await m.api().inject({ method: 'DELETE', url: '/v3/kafka/local/consumer/nope', headers: { 'content-type': 'application/json' } })
      assert.equal(withHeader.statusCode, 200, 'an empty JSON body is accepted, and an unknown group “removed”, as Burrow does')
      const removed = await api(m, '/v3/kafka/local/consumer/audit', 'DELETE')
      assert.deepEqual([removed.code, removed.body.error, removed.body.message], [200, false, 'consumer group removed'])
      assert.equal((await api(m, '/v3/kafka/local/consumer/audit/lag')).code, 404)
      assert.equal((await api(m, '/v3/kafka/local/consumer/audit', 'DELETE')).code, 200, 'Burrow answers 200 for a group that is not there')
    } finally {
      await m.stop()
    }
  })

  it('answers /burrow/admin with GOOD and /metrics with Burrow’s metric names', async () => {
    const admin = await monitor.api().inject({ url: '/burrow/admin' })
    assert.deepEqual([admin.statusCode, admin.body], [200, 'GOOD'])
    const metrics = await monitor.api().inject({ url: '/metrics' })
    assert.match(String(metrics.headers['content-type']), /^text\/plain/)
    const text = metrics.body
    for (const line of [
      'burrow_kafka_consumer_lag_total{cluster="local",consumer_group="billing"} 20',
      'burrow_kafka_consumer_status{cluster="local",consumer_group="billing"} 2',
      'burrow_kafka_topic_partition_status{cluster="local",consumer_group="billing",topic="orders",partition="0"} 2',
      'burrow_kafka_consumer_current_offset{cluster="local",consumer_group="billing",topic="orders",partition="0"} 80',
      'burrow_kafka_consumer_partition_lag{cluster="local",consumer_group="billing",topic="orders",partition="0"} 20',
      'burrow_kafka_topic_partition_offset{cluster="local",topic="orders",partition="0"} 100',
    ]) {
      assert.ok(text.includes(line), `metrics include ${line}`)
    }
  })

  it('drops the series of a deleted group from /metrics', async () => {
    const m = fixture()
    try {
      assert.match((await m.api().inject({ url: '/metrics' })).body, /consumer_group="audit"/)
      await api(m, '/v3/kafka/local/consumer/audit', 'DELETE')
      assert.doesNotMatch((await m.api().inject({ url: '/metrics' })).body, /consumer_group="audit"/)
    } finally {
      await m.stop()
    }
  })

  it('serves the same answers over a real HTTP connection', async () => {
    const m = fixture()
    try {
      const { url, port } = await m.listen('127.0.0.1', 0)
      assert.ok(port > 0)
      const res = await fetch(`${url}/v3/kafka/local/consumer/billing/status`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /application\/json/)
      const body = (await res.json()) as { status: { status: string } }
      assert.equal(body.status.status, 'WARN')
      const missing = await fetch(`${url}/v3/kafka/local/consumer/nope/status`)
      assert.equal(missing.status, 404)
      assert.equal(((await missing.json()) as { status: { status: string } }).status.status, 'NOTFOUND')
      assert.equal(await (await fetch(`${url}/burrow/admin`)).text(), 'GOOD')
      assert.match(await (await fetch(`${url}/`)).text(), /<title>Tributary monitor<\/title>/)
    } finally {
      await m.stop()
    }
  })
})
