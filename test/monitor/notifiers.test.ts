import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import {
  createNotifier,
  decideNotification,
  Evaluator,
  MonitorMetrics,
  MonitorStorage,
  NotifyCoordinator,
  parseConfig,
  Status,
  type Notifier,
  type NotifierConfig,
  type NotifyRules,
} from '../../src/monitor/index.ts'
import { captureLogger, eventually } from './helpers.ts'

interface Received {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

/** A local HTTP endpoint that records requests and answers with the next scripted status (200 when the script is empty). */
class Endpoint {
  readonly received: Received[] = []
  readonly script: (number | 'hang')[] = []
  readonly #server: http.Server
  readonly #hanging = new Set<http.ServerResponse>()
  url = ''

  constructor() {
    this.#server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => {
        this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
        const next = this.script.shift() ?? 200
        if (next === 'hang') {
          this.#hanging.add(res)
          return
        }
        res.writeHead(next, { 'content-type': 'text/plain' }).end('ok')
      })
    })
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    for (const res of this.#hanging) res.destroy()
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const T0 = 1_700_000_000_000

/** Storage with group `slow` (WARN at T0+2500) and group `fine` (OK). `recover()` makes `slow` OK. */
function world() {
  const storage = new MonitorStorage({ intervals: 3, expireGroupMs: 86_400_000 })
  storage.addCluster('c')
  for (let i = 0; i < 3; i++) {
    storage.setBrokerOffsets('c', 't', [100 + 20 * i], T0 + i * 1000)
    storage.addCommit('c', { group: 'slow', topic: 't', partition: 0, offset: 50 + 10 * i, order: i, timestamp: T0 + i * 1000 }, T0)
    storage.addCommit('c', { group: 'fine', topic: 't', partition: 0, offset: 100 + 20 * i, order: 10 + i, timestamp: T0 + i * 1000 }, T0)
  }
  const evaluator = new Evaluator(storage, { expireCacheMs: 0, allowedLag: 0, minimumComplete: 0 })
  const recover = (): void => {
    storage.addCommit('c', { group: 'slow', topic: 't', partition: 0, offset: 140, order: 3, timestamp: T0 + 3000 }, T0)
  }
  return { storage, evaluator, recover }
}

function notifierConfigs(notifiers: { [name: string]: unknown }): NotifierConfig[] {
  return [...parseConfig({ clusters: { c: { log: 'memory:' } }, notifiers }).notifiers]
}

describe('decideNotification', () => {
  it('follows Burrow’s order: close, threshold, send-once, send-interval', () => {
    const rules: NotifyRules = { threshold: Status.WARN, sendOnce: false, sendClose: true, sendIntervalMs: 1000 }
    const fresh = { lastNotify: 0, sentOpen: false }
    const sent = { lastNotify: 5000, sentOpen: true }
    type Case = [string, typeof rules, number, typeof fresh, boolean, number, string]
    const cases: Case[] = [
      ['new WARN incident', rules, Status.WARN, fresh, false, 5000, 'open'],
      ['OK without incident', rules, Status.OK, fresh, false, 5000, 'skip'],
      ['below threshold', { ...rules, threshold: Status.ERR }, Status.WARN, fresh, false, 5000, 'skip'],
      ['within send-interval', rules, Status.ERR, sent, true, 5500, 'skip'],
      ['send-interval passed', rules, Status.ERR, sent, true, 6000, 'open'],
      ['send-once already sent', { ...rules, sendOnce: true }, Status.ERR, sent, true, 60_000, 'skip'],
      ['recovered: close', rules, Status.OK, sent, true, 5100, 'close'],
      ['recovered, send-close off', { ...rules, sendClose: false }, Status.OK, sent, true, 5100, 'skip'],
      ['recovered, but this notifier never opened it', rules, Status.OK, fresh, true, 5100, 'skip'],
    ]
    for (const [name, r, status, state, incident, now, expected] of cases) {
      assert.equal(decideNotification(r, status as never, { ...state }, incident, now), expected, name)
    }
  })
})

describe('notifiers', { timeout: 60_000 }, () => {
  const endpoint = new Endpoint()
  const notifiers: Notifier[] = []
  before(() => endpoint.start())
  after(async () => {
    for (const n of notifiers) await n.close()
    await endpoint.stop()
  })

  const make = (config: NotifierConfig, logger = captureLogger().logger, metrics = new MonitorMetrics(() => ({ groups: [], topics: [] }))): Notifier => {
    const n = createNotifier(config, { logger, metrics })
    notifiers.push(n)
    return n
  }

  it('sends open notifications with templated URL and body, headers and basic auth; then a close on recovery', async () => {
    endpoint.received.length = 0
    const { evaluator, recover } = world()
    const [config] = notifierConfigs({
      ops: {
        'class-name': 'http',
        interval: 1,
        'url-open': `${endpoint.url}/open/{{.Cluster}}/{{.Group}}`,
        'url-close': `${endpoint.url}/close/{{.ID}}`,
        'send-close': true,
        headers: { 'x-team': 'payments' },
        'basic-auth': { username: 'burrow', password: 's3cret' },
        extras: { region: 'eu' },
      },
    })
    const coordinator = new NotifyCoordinator({ evaluator, notifiers: [make(config)], logger: captureLogger().logger })
    coordinator.tick(T0 + 2500)
    const open = await eventually(() => endpoint.received[0], 'the open notification')
    assert.equal(endpoint.received.length, 1, 'only the WARN group, not the OK one')
    assert.deepEqual([open.method, open.url, open.headers['x-team'], open.headers['content-type']], ['POST', '/open/c/slow', 'payments', 'application/json'])
    assert.equal(open.headers.authorization, `Basic ${Buffer.from('burrow:s3cret').toString('base64')}`)
    const body = JSON.parse(open.body) as { event: string; id: string; group: string; status: string; totallag: number; extras: { region: string }; partitions: object }
    assert.deepEqual([body.event, body.group, body.status, body.totallag, body.extras.region], ['open', 'slow', 'WARN', 70, 'eu'])
    assert.deepEqual(body.partitions, { WARN: 1 })
    const [incident] = coordinator.incidents()
    assert.equal(body.id, incident.id)

    coordinator.tick(T0 + 3000)
    assert.equal(endpoint.received.length, 1, 'not again within the interval')
    recover()
    coordinator.tick(T0 + 3100)
    const close = await eventually(() => endpoint.received[1], 'the close notification')
    assert.deepEqual([close.method, close.url], ['DELETE', `/close/${incident.id}`])
    assert.equal((JSON.parse(close.body) as { event: string; status: string }).status, 'OK')
    assert.deepEqual(coordinator.incidents(), [])
  })

  it('repeats every send-interval unless send-once, and respects threshold and the group lists', async () => {
    endpoint.received.length = 0
    const { evaluator } = world()
    const configs = notifierConfigs({
      every: { 'class-name': 'http', interval: 1, 'url-open': `${endpoint.url}/every` },
      once: { 'class-name': 'http', interval: 1, 'url-open': `${endpoint.url}/once`, 'send-once': true },
      errOnly: { 'class-name': 'http', interval: 1, 'url-open': `${endpoint.url}/err`, threshold: 'ERR' },
      denied: { 'class-name': 'http', interval: 1, 'url-open': `${endpoint.url}/denied`, 'group-denylist': '^sl' },
      allowedOk: { 'class-name': 'http', interval: 1, 'url-open': `${endpoint.url}/ok/{{.Group}}`, threshold: 'OK', 'group-allowlist': '^fine$' },
    })
    const made = configs.map((c) => make(c))
    const coordinator = new NotifyCoordinator({ evaluator, notifiers: made, logger: captureLogger().logger })
    coordinator.tick(T0 + 2500)
    coordinator.tick(T0 + 3600)
    // A tick starts every delivery it decides on before it returns (pending counts them), and the
    // endpoint records a request before answering it: once nothing is pending, every notification
    // the two ticks made has been received, so an extra one would be in the list.
    await eventually(() => (made.every((n) => n.pending === 0) ? true : undefined), 'every delivery to finish')
    assert.deepEqual(endpoint.received.map((r) => r.url).sort(), ['/every', '/every', '/ok/fine', '/ok/fine', '/once'])
  })

  it('retries a failing endpoint with backoff and counts what happened', async () => {
    endpoint.received.length = 0
    endpoint.script.push(500, 503)
    const { evaluator } = world()
    const [config] = notifierConfigs({ flaky: { 'class-name': 'http', 'url-open': `${endpoint.url}/flaky`, retries: 3, backoff: { initial: 0.02, max: 0.05 } } })
    const metrics = new MonitorMetrics(() => ({ groups: [], topics: [] }))
    const notifier = make(config, captureLogger().logger, metrics)
    new NotifyCoordinator({ evaluator, notifiers: [notifier], logger: captureLogger().logger }).tick(T0 + 2500)
    await eventually(() => (notifier.pending === 0 && endpoint.received.length === 3 ? true : undefined), 'three attempts')
    const text = await metrics.registry.metrics()
    assert.match(text, /tributary_monitor_notifications_total\{notifier="flaky",event="open",result="retried"\} 2/)
    assert.match(text, /tributary_monitor_notifications_total\{notifier="flaky",event="open",result="sent"\} 1/)
  })

  it('keeps evaluating while an endpoint is down: retries, logs each failure, then logs the loss', async () => {
    const port = await deadPort()
    const { evaluator } = world()
    const [down, console] = notifierConfigs({
      down: { 'class-name': 'http', 'url-open': `http://127.0.0.1:${port}/x`, retries: 2, backoff: { initial: 0.05, max: 0.1 } },
      console: { 'class-name': 'log', interval: 1 },
    })
    const { logger, lines } = captureLogger('info')
    const metrics = new MonitorMetrics(() => ({ groups: [], topics: [] }))
    const httpNotifier = make(down, logger, metrics)
    const coordinator = new NotifyCoordinator({ evaluator, notifiers: [httpNotifier, make(console, logger, metrics)], logger })
    const started = performance.now()
    coordinator.tick(T0 + 2500)
    const tickMs = performance.now() - started
    assert.ok(tickMs < 50, `a tick does not wait for deliveries (took ${tickMs.toFixed(1)} ms)`)
    assert.equal(httpNotifier.pending, 1, 'the delivery is in flight')
    assert.ok(lines.some((l) => l.notifier === 'console' && l.event === 'open' && l.group === 'slow'), 'the log notifier already notified')
    await eventually(() => (httpNotifier.pending === 0 ? true : undefined), 'the delivery to give up')
    const retries = lines.filter((l) => l.notifier === 'down' && /retrying/.test(String(l.msg)))
    assert.equal(retries.length, 2)
    assert.ok(retries.every((l) => /ECONNREFUSED/.test(String(l.failure))), JSON.stringify(retries[0]))
    const lost = lines.find((l) => l.code === 'TRIB_MONITOR_NOTIFY')
    assert.ok(lost, 'the loss is logged with its code')
    assert.match(String(lost.msg), /notifier down: open notification for c\/slow failed after 3 attempt\(s\)/)
    assert.match(await metrics.registry.metrics(), /tributary_monitor_notifications_total\{notifier="down",event="open",result="failed"\} 1/)
  })

  it('gives up on an endpoint that does not answer within the timeout', async () => {
    endpoint.received.length = 0
    endpoint.script.push('hang')
    const { evaluator } = world()
    const [config] = notifierConfigs({ slowpoke: { 'class-name': 'http', 'url-open': `${endpoint.url}/hang`, timeout: 0.2, retries: 0 } })
    const { logger, lines } = captureLogger()
    const notifier = make(config, logger)
    new NotifyCoordinator({ evaluator, notifiers: [notifier], logger }).tick(T0 + 2500)
    await eventually(() => (notifier.pending === 0 ? true : undefined), 'the timeout')
    assert.match(String(lines.find((l) => l.code === 'TRIB_MONITOR_NOTIFY')?.msg), /no answer within 200 ms/)
  })

  it('cancels pending retries on close', async () => {
    const port = await deadPort()
    const { evaluator } = world()
    const [config] = notifierConfigs({ closing: { 'class-name': 'http', 'url-open': `http://127.0.0.1:${port}/x`, retries: 5, backoff: { initial: 30, max: 30 } } })
    const notifier = createNotifier(config, { logger: captureLogger().logger, metrics: new MonitorMetrics(() => ({ groups: [], topics: [] })) })
    new NotifyCoordinator({ evaluator, notifiers: [notifier], logger: captureLogger().logger }).tick(T0 + 2500)
    await eventually(() => (notifier.pending === 1 ? true : undefined), 'a pending retry')
    const started = performance.now()
    await notifier.close()
    assert.ok(performance.now() - started < 5_000, 'close does not wait out a 30 s backoff')
    assert.equal(notifier.pending, 0)
  })
})
