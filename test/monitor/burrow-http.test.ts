/**
 * The monitor's HTTP answers are Burrow 1.9's (core/internal/httpserver with httprouter 1.3), not
 * only on the happy paths: every case here is what Burrow answers for the same request. Each runs
 * through fastify's inject and through a real listening server.
 */
import assert from 'node:assert/strict'
import os from 'node:os'
import { after, before, describe, it } from 'node:test'
import { Monitor } from '../../src/monitor/index.ts'
import { captureLogger, testConfig } from './helpers.ts'

interface Answer {
  status: number
  headers: { [name: string]: string }
  text: string
  json(): any
}

const LONG_GROUP = 'g'.repeat(249)
const LONG_TOPIC = 't'.repeat(249)

function fixture(): Monitor {
  const monitor = new Monitor(
    testConfig(
      { local: { log: 'memory:' }, prod: { servers: ['127.0.0.1:1'], 'offset-refresh': 10, 'topic-refresh': 60, 'client-id': 'lagchecker', 'group-allowlist': '^app-' } },
      { notifiers: { ops: { 'class-name': 'http', 'url-open': 'http://alerts.local/{{.Group}}', threshold: 'ERR' }, quiet: { 'class-name': 'log' } } },
    ),
    { logger: captureLogger().logger },
  )
  const s = monitor.storage
  const now = Date.now()
  s.setBrokerOffsets('local', 'orders', [100, 50, 30, 20], now - 2000)
  s.setBrokerOffsets('local', LONG_TOPIC, [5], now - 2000)
  s.addCommit('local', { group: 'billing', topic: 'orders', partition: 0, offset: 90, order: 1, timestamp: now - 1000 }, now)
  s.addCommit('local', { group: 'billing', topic: 'orders', partition: 1, offset: 50, order: 2, timestamp: now - 1000 }, now)
  s.addCommit('local', { group: LONG_GROUP, topic: LONG_TOPIC, partition: 0, offset: 4, order: 3, timestamp: now - 1000 }, now)
  return monitor
}

/** Runs each check twice: through inject and over a real connection. */
const transports: { name: string; request: (m: Monitor, base: string, method: string, url: string, body?: string) => Promise<Answer> }[] = [
  {
    name: 'inject',
    request: async (m, _base, method, url, body) => {
      const res = await m.api().inject({ method: method as 'GET', url, payload: body, headers: body ? { 'content-type': 'application/json' } : {} })
      const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)]))
      return { status: res.statusCode, headers, text: res.body, json: () => JSON.parse(res.body) }
    },
  },
  {
    name: 'real server',
    request: async (_m, base, method, url, body) => {
      const res = await fetch(base + url, { method, body, redirect: 'manual', headers: body ? { 'content-type': 'application/json' } : {} })
      const text = await res.text()
      return { status: res.status, headers: Object.fromEntries(res.headers.entries()), text, json: () => JSON.parse(text) }
    },
  },
]

for (const transport of transports) {
  describe(`Burrow’s HTTP behaviour (${transport.name})`, () => {
    let monitor: Monitor
    let base = ''
    const call = (method: string, url: string, body?: string) => transport.request(monitor, base, method, url, body)
    const get = (url: string) => call('GET', url)

    before(async () => {
      monitor = fixture()
      if (transport.name === 'real server') base = (await monitor.listen('127.0.0.1', 0)).url
    })
    after(async () => {
      await monitor.stop()
    })

    it('answers /status and /lag of an unknown group with 404, `error: false` and a NOTFOUND status', async () => {
      for (const path of ['/v3/kafka/local/consumer/nope/status', '/v3/kafka/local/consumer/nope/lag', '/v3/kafka/nocluster/consumer/nope/lag']) {
        const res = await get(path)
        assert.equal(res.status, 404, path)
        assert.equal(res.headers['content-type'], 'application/json')
        const cluster = path.split('/')[3]
        assert.deepEqual(res.json(), {
          error: false,
          message: 'consumer status returned',
          status: { cluster, group: 'nope', status: 'NOTFOUND', complete: 1, partitions: [], partition_count: 0, maxlag: null, totallag: 0 },
          request: { url: path, host: os.hostname() },
        })
      }
    })

    it('answers DELETE of a group or group topic with 200 “consumer group removed”, known or not', async () => {
      const m = fixture()
      try {
        const del = (url: string) => (transport.name === 'inject' ? m.api().inject({ method: 'DELETE', url }).then((r) => ({ status: r.statusCode, json: () => r.json() })) : call('DELETE', url))
        for (const url of ['/v3/kafka/local/consumer/nope', '/v3/kafka/nocluster/consumer/nope', '/v3/kafka/local/consumer/billing/topic/nope']) {
          const res = await del(url)
          assert.deepEqual([res.status, res.json().error, res.json().message], [200, false, 'consumer group removed'], url)
        }
        if (transport.name === 'inject') {
          assert.equal((await m.api().inject({ url: '/v3/kafka/local/consumer/billing' })).statusCode, 200, 'deleting a topic the group lacks keeps the group')
          assert.equal((await del('/v3/kafka/local/consumer/billing/topic/orders')).status, 200)
          assert.equal((await m.api().inject({ url: '/v3/kafka/local/consumer/billing' })).statusCode, 404, 'its last topic gone, the group is gone')
        }
      } finally {
        await m.stop()
      }
    })

    it('lists no consumers (200) for an unknown topic, and 404 “cluster not found” for an unknown cluster', async () => {
      const none = await get('/v3/kafka/local/topic/nope/consumers')
      assert.deepEqual([none.status, none.json().consumers, none.json().message], [200, [], 'consumers of topic returned'])
      const noCluster = await get('/v3/kafka/nocluster/topic/orders/consumers')
      assert.deepEqual([noCluster.status, noCluster.json().message], [404, 'cluster not found'])
    })

    it('shows partitions a group never committed with `offsets: []`', async () => {
      const res = await get('/v3/kafka/local/consumer/billing')
      const orders = res.json().topics.orders
      assert.equal(orders.length, 4)
      assert.deepEqual(orders[2], { offsets: [], owner: '', client_id: '', 'current-lag': 0 })
      assert.deepEqual(orders[0].offsets.slice(0, 3), [null, null, null], 'a committed partition pads its ring with nulls')
      const lag = (await get('/v3/kafka/local/consumer/billing/lag')).json().status
      assert.deepEqual(
        lag.partitions.slice(2).map((p: any) => [p.partition, p.status, p.complete, p.start, p.current_lag]),
        [
          [2, 'OK', 0, null, 0],
          [3, 'OK', 0, null, 0],
        ],
      )
    })

    it('describes a cluster with Burrow’s five module fields, and 404 “cluster module not found”', async () => {
      const res = await get('/v3/kafka/prod')
      assert.equal(res.json().message, 'cluster module detail returned')
      assert.deepEqual(res.json().module, {
        'class-name': 'kafka',
        servers: ['127.0.0.1:1'],
        'client-profile': { name: '', 'client-id': 'lagchecker', 'kafka-version': '', tls: null, sasl: null },
        'topic-refresh': 60,
        'offset-refresh': 10,
      })
      assert.deepEqual(Object.keys(res.json()), ['error', 'message', 'module', 'request'])
      const missing = await get('/v3/kafka/nope')
      assert.deepEqual([missing.status, missing.json()], [404, { error: true, message: 'cluster module not found', request: { url: '/v3/kafka/nope', host: os.hostname() } }])
    })

    it('answers 405 with an Allow header for a known path with another method, and OPTIONS with 200', async () => {
      const post = await call('POST', '/v3/kafka/local/consumer/billing')
      assert.deepEqual([post.status, post.headers.allow, post.text], [405, 'DELETE, GET, OPTIONS', 'Method Not Allowed\n'])
      assert.match(post.headers['content-type'], /^text\/plain/)
      const head = await call('HEAD', '/v3/kafka')
      assert.deepEqual([head.status, head.headers.allow], [405, 'GET, OPTIONS'], 'httprouter 1.3 has no implicit HEAD')
      const del = await call('DELETE', '/burrow/admin')
      assert.deepEqual([del.status, del.headers.allow], [405, 'GET, OPTIONS'])
      const options = await call('OPTIONS', '/v3/admin/loglevel')
      assert.deepEqual([options.status, options.headers.allow, options.text], [200, 'GET, OPTIONS, POST', ''])
      const unknownOptions = await call('OPTIONS', '/v3/nothing')
      assert.equal(unknownOptions.status, 404)
    })

    it('redirects a trailing slash or a mis-cased path like httprouter: 301 for GET, 307 otherwise', async () => {
      const slash = await get('/v3/kafka/local/consumer/?x=1')
      assert.deepEqual([slash.status, slash.headers.location], [301, '/v3/kafka/local/consumer?x=1'])
      const root = await get('/v3/kafka/')
      assert.deepEqual([root.status, root.headers.location], [301, '/v3/kafka'])
      const del = await call('DELETE', '/v3/kafka/local/consumer/billing/')
      assert.deepEqual([del.status, del.headers.location], [307, '/v3/kafka/local/consumer/billing'])
      const cased = await get('/V3/Kafka/local/TOPIC')
      assert.deepEqual([cased.status, cased.headers.location], [301, '/v3/kafka/local/topic'])
      const dotted = await get('/v3//kafka/./local/../local/topic')
      assert.deepEqual([dotted.status, dotted.headers.location], [301, '/v3/kafka/local/topic'])
    })

    it('answers unknown paths with Burrow’s catch-all 404', async () => {
      for (const path of ['/v3/nothing', '/nothing/at/all', '/burrow/other', '/v3/kafka/local/consumer/billing/extra/parts']) {
        const res = await get(path)
        assert.deepEqual([res.status, res.text], [404, '{"error":true,"message":"invalid request type","result":{}}\n'], path)
        assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
      }
    })

    it('serves group and topic names of 249 characters', async () => {
      const lag = await get(`/v3/kafka/local/consumer/${LONG_GROUP}/lag`)
      assert.deepEqual([lag.status, lag.json().status.group], [200, LONG_GROUP])
      const consumers = await get(`/v3/kafka/local/topic/${LONG_TOPIC}/consumers`)
      assert.deepEqual([consumers.status, consumers.json().consumers], [200, [LONG_GROUP]])
      const del = await call('DELETE', `/v3/kafka/local/consumer/${LONG_GROUP}/topic/${LONG_TOPIC}`)
      assert.equal(del.status, 200)
    })

    it('serves Burrow’s read-only /v3/config routes', async () => {
      const main = (await get('/v3/config')).json()
      assert.equal(main.message, 'main config returned')
      assert.deepEqual(Object.keys(main), ['error', 'message', 'request', 'general', 'logging', 'zookeeper', 'httpserver'])
      assert.equal(main.httpserver.default.address, '127.0.0.1:0')
      const lists: [string, string[]][] = [
        ['storage', ['default']],
        ['evaluator', ['default']],
        ['cluster', ['local', 'prod']],
        ['consumer', ['local', 'prod']],
        ['notifier', ['ops', 'quiet']],
      ]
      for (const [kind, modules] of lists) {
        const body = (await get(`/v3/config/${kind}`)).json()
        assert.deepEqual([body.message, body.coordinator, body.modules], ['module list returned', kind, modules], kind)
        const missing = await get(`/v3/config/${kind}/nope`)
        assert.deepEqual([missing.status, missing.json().message], [404, `${kind} module not found`], kind)
      }
      assert.deepEqual((await get('/v3/config/storage/default')).json().module, { 'class-name': 'inmemory', intervals: 4, 'min-distance': 0, 'group-allowlist': '', 'expire-group': 3600 })
      assert.deepEqual((await get('/v3/config/evaluator/default')).json().module, { 'class-name': 'caching', 'expire-cache': 0 })
      assert.equal((await get('/v3/config/cluster/prod')).json().message, 'cluster module detail returned')
      const consumer = (await get('/v3/config/consumer/prod')).json().module
      assert.deepEqual([consumer.cluster, consumer['group-allowlist'], consumer['offsets-topic']], ['prod', '^app-', '__consumer_offsets'])
      const ops = (await get('/v3/config/notifier/ops')).json()
      assert.deepEqual([ops.message, ops.module['class-name'], ops.module['url-open'], ops.module.threshold], ['notifier module detail returned', 'http', 'http://alerts.local/{{.Group}}', 3])
      const write = await call('POST', '/v3/config/storage')
      assert.equal(write.status, 405, 'config is read-only')
    })

    it('reads and sets the log level, with Burrow’s errors', async () => {
      assert.deepEqual((await get('/v3/admin/loglevel')).json().level, 'warn')
      const set = await call('POST', '/v3/admin/loglevel', '{"level":"debug"}')
      assert.deepEqual([set.status, set.json().message], [200, 'set log level'])
      assert.equal((await get('/v3/admin/loglevel')).json().level, 'debug')
      const unknown = await call('POST', '/v3/admin/loglevel', '{"level":"loud"}')
      assert.deepEqual([unknown.status, unknown.json().message], [404, 'unknown log level'])
      const garbage = await call('POST', '/v3/admin/loglevel', 'not json')
      assert.deepEqual([garbage.status, garbage.json().message], [400, 'could not decode message body'])
      await call('POST', '/v3/admin/loglevel', '{"level":"warn"}')
    })

    it('answers /burrow/admin and /burrow/admin/ready', async () => {
      assert.deepEqual([(await get('/burrow/admin')).status, (await get('/burrow/admin')).text], [200, 'GOOD'])
      const ready = await get('/burrow/admin/ready')
      assert.deepEqual([ready.status, ready.text], [503, 'STARTING'], 'a monitor that was never started is not ready')
    })
  })
}
