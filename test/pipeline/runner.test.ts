import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { z } from 'zod'
import { parsePipelineYaml } from '../../src/pipeline/config.ts'
import type { ConnectorPlugin } from '../../src/pipeline/connector.ts'
import { pipelineRoutes } from '../../src/pipeline/http-routes.ts'
import { PluginRegistry } from '../../src/pipeline/registry.ts'
import { PipelineRunner } from '../../src/pipeline/runner.ts'
import { PipelineService } from '../../src/pipeline/service.ts'
import { startHttpServer } from '../../src/server/index.ts'
import { MemoryDestination, n, testArrayPlugin, testMemoryPlugin, testNackPlugin, testStores } from './helpers.ts'

const dlqFails = { on: false }
const failingDlqPlugin: ConnectorPlugin<object> = {
  name: 'test-flaky-dlq',
  summary: 'a DLQ destination that can be down',
  settings: z.object({}),
  destination: () => new MemoryDestination({ down: () => dlqFails.on }),
}

/** A destination whose writes never finish until their signal aborts. */
const hangingPlugin: ConnectorPlugin<object> = {
  name: 'test-hang',
  summary: 'writes hang until aborted',
  settings: z.object({}),
  destination: () => ({
    open: async () => {},
    write: (_records, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('write aborted')), { once: true })),
    teardown: async () => {},
  }),
}

const registry = new PluginRegistry({ builtins: false, connectors: [testArrayPlugin, testMemoryPlugin, failingDlqPlugin, hangingPlugin], processors: [testNackPlugin] })
const stateDirs: string[] = []
const tmp = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-run-'))
  stateDirs.push(dir)
  return dir
}
after(() => {
  for (const d of stateDirs) fs.rmSync(d, { recursive: true, force: true })
})

let seq = 0
function spec(opts: { count: number; batch?: number; bad?: string; dlq?: string; window?: number; threshold?: number }): { yaml: string; store: string } {
  const store = `r${++seq}`
  const processors = opts.bad ? `    processors:\n      - { id: nacker, plugin: test.nack, settings: { bad: "${opts.bad}" } }\n` : ''
  const yaml = `version: "2.2"
pipelines:
  - id: ${store}
    connectors:
      - { id: src, type: source, plugin: test-array, settings: { store: ${store}, count: ${opts.count}, batch: ${opts.batch ?? 10} } }
      - { id: dst, type: destination, plugin: test-memory, settings: { store: ${store}-dst } }
${processors}    dead-letter-queue:
      plugin: ${opts.dlq ?? 'test-memory'}
      settings: ${opts.dlq ? '{}' : `{ store: ${store}-dlq }`}
      window-size: ${opts.window ?? 0}
      window-nack-threshold: ${opts.threshold ?? 0}
`
  return { yaml, store }
}

function runner(yaml: string, options: ConstructorParameters<typeof PipelineRunner>[1] = {}): PipelineRunner {
  const [p] = parsePipelineYaml(yaml, 't.yaml', registry).pipelines
  return new PipelineRunner(p, { stateDir: tmp(), backoff: { initialMs: 30 }, metrics: false, ...options })
}

describe('PipelineRunner', () => {
  it('runs a pipeline to the end and stops gracefully, storing the last acked position', async () => {
    const { yaml, store } = spec({ count: 95 })
    const r = runner(yaml)
    r.start()
    await r.waitFor((x) => x.counters.acked === 95)
    assert.equal(r.state, 'running')
    await r.stop()
    assert.equal(r.state, 'stopped')
    assert.equal(testStores.get(`${store}-dst`)?.destination?.written.length, 95)
    assert.equal(r.positions.load(`${store}:src`)?.toString(), 'p94')
    assert.deepEqual({ ...r.counters }, { read: 95, written: 95, filtered: 0, nacked: 0, dlq: 0, acked: 95, inFlight: 0 })
  })

  it('restarts from the stored position: the source gets it as lastPosition', async () => {
    const { yaml, store } = spec({ count: 30 })
    const stateDir = tmp()
    const first = runner(yaml, { stateDir })
    first.start()
    await first.waitFor((x) => x.counters.acked === 30)
    await first.stop()
    testStores.get(store)!.records!.push(...[30, 31, 32].map((i) => ({ ...testStores.get(store)!.records![0], position: Buffer.from(`p${i}`), payload: { before: null, after: { n: i } } })))
    const second = runner(yaml, { stateDir })
    second.start()
    await second.waitFor((x) => x.counters.acked === 3)
    await second.stop()
    assert.deepEqual(testStores.get(`${store}-dst`)?.destination?.written.map(n), [30, 31, 32], 'only what came after the stored position')
  })

  it('a destination that is down, then back: recovering with backoff, then progress from the last acked position', async () => {
    const { yaml, store } = spec({ count: 50 })
    testStores.set(`${store}-dst:down`, {})
    const r = runner(yaml, { backoff: { initialMs: 20, factor: 2 } })
    r.start()
    await r.waitFor((x) => x.status().restarts >= 3)
    const down = r.status()
    assert.equal(down.lastError?.message, 'destination is down')
    assert.equal(down.lastError?.fatal, false)
    assert.equal(r.counters.acked, 0)
    testStores.delete(`${store}-dst:down`)
    await r.waitFor((x) => x.counters.acked === 50)
    assert.equal(r.state, 'running')
    await r.stop()
    assert.deepEqual(testStores.get(`${store}-dst`)?.destination?.written.map(n), Array.from({ length: 50 }, (_, i) => i))
  })

  it('backoff defaults to Conduit\'s: the first restart waits 1 s (stop interrupts the wait)', async () => {
    const { yaml, store } = spec({ count: 5 })
    testStores.set(`${store}-dst:down`, {})
    const r = runner(yaml, { backoff: undefined })
    r.start()
    await r.waitFor('recovering')
    const wait = r.status().nextRestartMs ?? 0
    assert.ok(wait > 800 && wait <= 1000, String(wait))
    await r.stop()
    assert.equal(r.state, 'stopped')
    testStores.delete(`${store}-dst:down`)
  })

  it('first nack under the default DLQ window (1, threshold 0) restarts with the original error and meets the record again', async () => {
    const { yaml } = spec({ count: 20, bad: '12', window: 1, threshold: 0 })
    const r = runner(yaml)
    r.start()
    await r.waitFor((x) => x.status().restarts >= 2)
    assert.equal(r.lastError?.message, 'bad record 12')
    assert.equal(r.counters.acked, 12, 'acked up to the nacked record, never past it')
    await r.stop()
  })

  it('a failing DLQ write: degraded, fatal TRIB_PIPELINE_DLQ, nothing acked past the last record safely written', async () => {
    dlqFails.on = true
    try {
      const { yaml, store } = spec({ count: 40, bad: '17', dlq: 'test-flaky-dlq' })
      const r = runner(yaml)
      r.start()
      await r.waitFor('degraded')
      assert.equal(r.lastError?.code, 'TRIB_PIPELINE_DLQ')
      assert.equal(r.lastError?.fatal, true)
      assert.equal(r.positions.load(`${store}:src`)?.toString(), 'p16')
      assert.equal(r.counters.acked, 17)
      await r.stop()
      assert.equal(r.state, 'degraded', 'stays degraded')
    } finally {
      dlqFails.on = false
    }
  })

  it('the nack threshold exceeded (threshold > 0) is fatal: degraded with TRIB_PIPELINE_NACK', async () => {
    const { yaml, store } = spec({ count: 30, bad: '3,4,5', window: 10, threshold: 2 })
    const r = runner(yaml)
    r.start()
    await r.waitFor('degraded')
    assert.equal(r.lastError?.code, 'TRIB_PIPELINE_NACK')
    assert.equal(testStores.get(`${store}-dlq`)?.destination?.written.length, 2)
    assert.equal(r.counters.acked, 5)
  })
})

describe('PipelineRunner.abort', () => {
  it('stops at once when a write hangs: the write sees the abort, nothing is acked, the state is stopped', async () => {
    const { yaml, store } = spec({ count: 10 })
    const r = runner(yaml.replace(`plugin: test-memory, settings: { store: ${store}-dst }`, 'plugin: test-hang, settings: {}'))
    r.start()
    await r.waitFor((x) => x.state === 'running' && x.counters.read > 0)
    const graceful = r.stop()
    const raced = await Promise.race([graceful.then(() => 'stopped'), new Promise((res) => setTimeout(() => res('still waiting'), 100))])
    assert.equal(raced, 'still waiting', 'a graceful stop waits for the batch in flight')
    await r.abort()
    await graceful
    assert.equal(r.state, 'stopped')
    assert.equal(r.counters.acked, 0)
    assert.equal(r.positions.load(`${store}:src`), null)
  })
})

describe('PipelineService over HTTP', () => {
  it('serves /v1/pipelines and /v1/pipelines/:id as JSON, and /metrics with Conduit names', async () => {
    const a = spec({ count: 25 })
    const b = spec({ count: 10, bad: '3', window: 0 })
    const specs = [...parsePipelineYaml(a.yaml, 'a.yaml', registry).pipelines, ...parsePipelineYaml(b.yaml, 'b.yaml', registry).pipelines]
    const service = new PipelineService(specs, { stateDir: tmp() })
    service.start()
    const server = await startHttpServer({ port: 0, routes: [pipelineRoutes(service, { metrics: true })] })
    try {
      await service.get(a.store)!.waitFor((x) => x.counters.acked === 25)
      await service.get(b.store)!.waitFor((x) => x.counters.acked === 10)
      const list = (await (await fetch(`${server.url}/v1/pipelines`)).json()) as { pipelines: { id: string; state: string }[] }
      assert.deepEqual(list.pipelines.map((p) => [p.id, p.state]), [[a.store, 'running'], [b.store, 'running']])
      const one = await fetch(`${server.url}/v1/pipelines/${b.store}`)
      assert.equal(one.status, 200)
      const body = (await one.json()) as { counters: Record<string, number>; source: { plugin: string }; dlq: { windowSize: number }; lastError: unknown }
      assert.deepEqual(body.counters, { read: 10, written: 9, filtered: 0, nacked: 1, dlq: 1, acked: 10, inFlight: 0 })
      assert.equal(body.source.plugin, 'test-array')
      assert.equal(body.lastError, null)
      const missing = await fetch(`${server.url}/v1/pipelines/nope`)
      assert.equal(missing.status, 404)
      assert.match(((await missing.json()) as { error: string }).error, /no pipeline "nope"/)
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      assert.match(metrics, new RegExp(`conduit_pipeline_status\\{pipeline_name="${a.store}"\\} 1`))
      assert.match(metrics, /conduit_pipeline_execution_duration_seconds_count\{pipeline_name="r\d+"\} \d+/)
      assert.match(metrics, /conduit_connector_execution_duration_seconds_count\{pipeline_name="r\d+",plugin="test-array",type="source"\}/)
      assert.match(metrics, /conduit_dlq_execution_duration_seconds_count/)
      assert.match(metrics, new RegExp(`tributary_pipeline_records\\{pipeline_name="${b.store}",counter="dlq"\\} 1`))
    } finally {
      await server.close()
      await service.close()
    }
    assert.deepEqual(service.list().map((p) => p.state), ['stopped', 'stopped'])
  })
})
