import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { Monitor, monitorRoutes } from '../../src/monitor/index.ts'
import { buildHttpApp, startHttpServer, type HttpServer, type RouteModule } from '../../src/server/index.ts'
import { captureLogger, testConfig } from './helpers.ts'

function fixture(): Monitor {
  const monitor = new Monitor(testConfig({ local: { log: 'memory:' } }), { logger: captureLogger().logger })
  const now = Date.now()
  monitor.storage.setBrokerOffsets('local', 'orders', [100], now - 1000)
  monitor.storage.addCommit('local', { group: 'billing', topic: 'orders', partition: 0, offset: 90, order: 1, timestamp: now - 500 }, now)
  return monitor
}

/** Another module on the same server: its own routes, a JSON body, a thrown error. */
const otherModule: RouteModule = (app: FastifyInstance) => {
  app.post('/pipelines', (req) => ({ got: req.body }))
  app.get('/pipelines/boom', () => {
    throw new Error('pipeline exploded')
  })
}

describe('monitorRoutes on the shared server', () => {
  let monitor: Monitor
  let app: FastifyInstance
  before(async () => {
    monitor = fixture()
    app = await buildHttpApp([monitorRoutes(monitor), otherModule])
  })
  after(async () => {
    await app.close()
    await monitor.stop()
  })

  it('serves Burrow’s routes, /burrow/admin and the dashboard', async () => {
    const status = await app.inject({ url: '/v3/kafka/local/consumer/billing/lag' })
    assert.equal(status.statusCode, 200)
    assert.equal(status.json().status.group, 'billing')
    assert.equal((await app.inject({ url: '/burrow/admin' })).body, 'GOOD')
    assert.match((await app.inject({ url: '/' })).body, /<title>Tributary monitor<\/title>/)
  })

  it('leaves /metrics to the server unless asked for it', async () => {
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 404)
    const withMetrics = await buildHttpApp([monitorRoutes(monitor, { metrics: true, dashboard: false })])
    try {
      assert.match((await withMetrics.inject({ url: '/metrics' })).body, /burrow_kafka_consumer_lag_total/)
      assert.equal((await withMetrics.inject({ url: '/' })).statusCode, 404, 'dashboard: false')
    } finally {
      await withMetrics.close()
    }
  })

  it('keeps its not-found handler, error handler and JSON parser to its own routes', async () => {
    const v3Missing = await app.inject({ url: '/v3/nothing' })
    assert.equal(v3Missing.statusCode, 404)
    assert.equal(v3Missing.json().error, true, 'Burrow’s answer under /v3')
    const otherMissing = await app.inject({ url: '/pipelines/nope/more' })
    assert.equal(otherMissing.statusCode, 404)
    assert.equal(otherMissing.json().message, 'Route GET:/pipelines/nope/more not found', 'fastify’s own answer elsewhere')
    const boom = await app.inject({ url: '/pipelines/boom' })
    assert.deepEqual([boom.statusCode, boom.json().error], [500, 'Internal Server Error'], 'fastify’s error handler, not Burrow’s envelope')
    const bad = await app.inject({ method: 'POST', url: '/pipelines', headers: { 'content-type': 'application/json' }, payload: '' })
    assert.equal(bad.statusCode, 400, 'an empty JSON body is an error for other modules (the monitor alone accepts it)')
    const posted = await app.inject({ method: 'POST', url: '/pipelines', payload: { a: 1 } })
    assert.deepEqual(posted.json(), { got: { a: 1 } })
  })

  it('answers 249-character group names over a real listening server', async () => {
    const long = 'g'.repeat(249)
    const now = Date.now()
    monitor.storage.addCommit('local', { group: long, topic: 'orders', partition: 0, offset: 95, order: 2, timestamp: now }, now)
    let server: HttpServer | undefined
    try {
      server = await startHttpServer({ port: 0, routes: [monitorRoutes(monitor)] })
      const res = await fetch(`${server.url}/v3/kafka/local/consumer/${long}/lag`)
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { status: { group: string } }).status.group, long)
    } finally {
      await server?.close()
    }
  })
})
