/**
 * End to end with the builtin connectors (generator, file, tributary-log): the same pipelines over
 * the memory, file and Kafka logs, and a kill -9 of a child running a pipeline. Skipped while the
 * builtin connectors are not registered.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { z } from 'zod'
import { loadPipelineFiles, parsePipelineYaml } from '../../src/pipeline/config.ts'
import { errorRecord, type ProcessorPlugin } from '../../src/pipeline/processor.ts'
import { recordFromJson } from '../../src/pipeline/record.ts'
import { PluginRegistry } from '../../src/pipeline/registry.ts'
import { PipelineRunner } from '../../src/pipeline/runner.ts'
import { testMemoryPlugin, testStores } from './helpers.ts'

const builtins = new PluginRegistry()
const missing = ['generator', 'file', 'tributary-log'].filter((n) => !builtins.connector(n))
const skip = missing.length > 0 ? `needs the builtin connectors ${missing.join(', ')}` : false

/** Nacks records whose position (a generator record number) ends in `suffix`. */
const nackBySuffix: ProcessorPlugin<{ suffix: string }> = {
  name: 'test.nack-suffix',
  summary: 'nacks positions ending in suffix',
  settings: z.object({ suffix: z.string() }),
  create: ({ suffix }) => ({ process: (rs) => rs.map((r) => (r.position.toString().endsWith(suffix) ? errorRecord(new Error(`no ${r.position.toString()}`)) : r)) }),
}

const registry = new PluginRegistry({ connectors: [testMemoryPlugin], processors: [nackBySuffix] })
const dirs: string[] = []
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'trib-e2e-'))
  dirs.push(d)
  return d
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const kafka = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'

describe('pipelines over every log (conformance)', { skip }, () => {
  for (const backend of ['memory', 'file', 'kafka'] as const) {
    it(`generator → nack some → tributary-log, DLQ to a topic; read back by a second pipeline (${backend})`, async () => {
      const dir = tmp()
      const tag = `${backend}${Date.now()}`
      const url = backend === 'memory' ? `memory:e2e-${tag}` : backend === 'file' ? `file:${path.join(dir, 'log')}` : `kafka://${kafka}`
      const records = 1_000
      const yaml = `version: "2.2"
pipelines:
  - id: produce-${tag}
    connectors:
      - { id: gen, type: source, plugin: builtin:generator, settings: { format.type: structured, format.options.id: int, recordCount: "${records}", sdk.batch.size: "64" } }
      - { id: out, type: destination, plugin: tributary-log, settings: { url: "${url}", topic: out-${tag} } }
    processors:
      - { id: nack, plugin: test.nack-suffix, settings: { suffix: "7" } }
    dead-letter-queue: { plugin: tributary-log, settings: { url: "${url}", topic: dlq-${tag} }, window-size: 0 }
  - id: consume-${tag}
    connectors:
      - { id: in, type: source, plugin: tributary-log, settings: { url: "${url}", topics: "out-${tag},dlq-${tag}", readFromBeginning: "true" } }
      - { id: mem, type: destination, plugin: test-memory, settings: { store: e2e-${tag} } }
`
      const [producer, consumer] = parsePipelineYaml(yaml, 'e2e.yaml', registry).pipelines.map((s) => new PipelineRunner(s, { stateDir: path.join(dir, 'state'), backoff: { initialMs: 100 } }))
      producer.start()
      await producer.waitFor((r) => r.counters.acked === records || r.state === 'degraded', 60_000)
      assert.equal(producer.counters.dlq, 100)
      assert.equal(producer.counters.written, 900)
      consumer.start()
      try {
        await consumer.waitFor((r) => r.counters.acked === records || r.state === 'degraded', 60_000)
        const got = testStores.get(`e2e-${tag}`)!.destination!.written
        const out = got.filter((r) => r.metadata['opencdc.collection'] === `out-${tag}`)
        const dlq = got.filter((r) => r.metadata['opencdc.collection'] === `dlq-${tag}`)
        assert.equal(out.length, 900)
        assert.equal(dlq.length, 100)
        const dead = dlq.map((r) => JSON.parse(String(r.payload.after)) as { position: string; metadata: Record<string, string> })
        const numbers = dead.map((d) => Number(Buffer.from(d.position, 'base64').toString())).sort((a, b) => a - b)
        assert.deepEqual(numbers, Array.from({ length: 100 }, (_, i) => i * 10 + 7))
      } finally {
        await consumer.stop()
        await producer.stop()
      }
    })
  }
})

describe('examples/pipelines', { skip: skip || (!builtins.processor('field.set') && 'needs the builtin processors') }, () => {
  it('every example file loads with the builtin plugins', () => {
    const { pipelines, warnings } = loadPipelineFiles(path.resolve(import.meta.dirname, '../../examples/pipelines'), builtins)
    assert.deepEqual(pipelines.map((p) => p.id).sort(), ['dead-letter-queue', 'generator-to-file', 'kafka-to-file', 'log-to-log'])
    assert.deepEqual(warnings, [])
  })
})

describe('kill -9 of a child running a pipeline', { skip }, () => {
  it('after a restart every generated record is in the file at least once; nothing at or before the stored position is duplicated', async () => {
    const dir = tmp()
    const records = 20_000
    const out = path.join(dir, 'out.jsonl')
    const file = path.join(dir, 'kill.yaml')
    fs.writeFileSync(
      file,
      `version: "2.2"
pipelines:
  - id: kill
    connectors:
      - { id: gen, type: source, plugin: builtin:generator, settings: { format.type: structured, format.options.id: int, recordCount: "${records}", rate: "4000", sdk.batch.size: "200" } }
      - { id: file, type: destination, plugin: builtin:file, settings: { path: "${out}" } }
`,
    )
    const state = path.join(dir, 'state')
    const positionFile = path.join(state, 'positions', `${encodeURIComponent('kill:gen')}.position`)
    const main = path.resolve(import.meta.dirname, '../../src/cli/main.ts')
    const start = () => spawn(process.execPath, [main, 'run', file, '--state-dir', state, '--address', '127.0.0.1:0', '--no-progress'], { stdio: 'ignore', env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' } })
    const stored = (): number => (fs.existsSync(positionFile) ? Number(fs.readFileSync(positionFile, 'utf8')) : 0)
    const waitFor = async (check: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 40_000
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    const first = start()
    const firstExit = new Promise((r) => first.on('exit', r))
    await waitFor(() => stored() >= 3_000, 'progress before the kill')
    first.kill('SIGKILL')
    await firstExit
    const ackedAtKill = stored()
    assert.ok(ackedAtKill < records, `killed before the end (${ackedAtKill})`)
    const positions = (): number[] =>
      fs
        .readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => Number(recordFromJson(l).position.toString()))
    const second = start()
    const secondExit = new Promise<number | null>((r) => second.on('exit', r))
    try {
      await waitFor(() => stored() === records, 'the restarted pipeline to finish')
    } finally {
      second.kill('SIGTERM')
    }
    assert.equal(await secondExit, 0)
    const all = positions()
    const seen = new Map<number, number>()
    for (const p of all) seen.set(p, (seen.get(p) ?? 0) + 1)
    for (let i = 1; i <= records; i++) assert.ok(seen.has(i), `record ${i} is in the file`)
    const duplicatedEarly = [...seen].filter(([p, c]) => c > 1 && p <= ackedAtKill)
    assert.deepEqual(duplicatedEarly, [], 'records acknowledged before the kill are not written again')
  })
})
