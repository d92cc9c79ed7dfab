/**
 * `npm run bench -- pipeline [--json] [--case name] [--records N]`: the pipeline runtime end to end,
 * beside a ceiling that does the same work without it.
 *
 * Cases (in {@link pipelineBenchCases}; other areas add theirs with {@link addPipelineBenchCase}):
 * - `generator-file`: builtin generator (structured records) → file destination, counted at the
 *   source acks; ceiling: the same generator's records serialised to the same Conduit-identical
 *   OpenCDC JSON lines by the same encoder the file destination uses (`JsonLinesEncoder`) and
 *   written straight to a file, each batch's write overlapping the next batch's encoding, one fsync
 *   at the end; measured before and after ours, the better pass counts.
 * - `log-log`: `tributary-log` source → `tributary-log` destination on one embedded file log;
 *   ceiling: the log layer's consume → produce → commit loop over the same records.
 * - `kafka-kafka`: the same on the Kafka broker at `KAFKA_BROKERS` (default 127.0.0.1:9092).
 *
 * Each prints one JSON line `{"bench":"pipeline","case",...,"records","perSec","ceilingPerSec","ratio","rssMb"}`.
 * @module
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ProduceRecord } from '../core/record.ts'
import { openLog } from '../log/index.ts'
import { createLogger } from '../core/logger.ts'
import { JsonLinesEncoder, parsePipelineYaml, PipelineRunner, PluginRegistry, type ConnectorContext } from '../pipeline/index.ts'
import { rate, report, type PhaseResult } from './report.ts'

/** Options every case gets. */
export interface PipelineBenchCaseOptions {
  records: number
  /** A scratch directory, removed afterwards. */
  dir: string
}

/** One benchmark case: ours and the ceiling, measured in one run. */
export interface PipelineBenchCase {
  readonly description: string
  readonly defaultRecords: number
  run(options: PipelineBenchCaseOptions): Promise<{ perSec: number; ceilingPerSec: number; [extra: string]: unknown }>
}

/** The cases, by name. */
export const pipelineBenchCases = new Map<string, PipelineBenchCase>()

/** Adds a case (postgres adds `kafka-postgres` and `postgres-cdc`). */
export function addPipelineBenchCase(name: string, c: PipelineBenchCase): void {
  pipelineBenchCases.set(name, c)
}

const quiet = createLogger({ level: 'warn' })

function requirePlugins(...names: string[]): PluginRegistry {
  const registry = new PluginRegistry()
  const missing = names.filter((n) => !registry.connector(n))
  if (missing.length > 0) throw new Error(`this case needs the builtin connector(s) ${missing.join(', ')}, which are not registered`)
  return registry
}

/** Runs a one-pipeline YAML until its source acked `records` positions; returns records/s from start to the last ack. */
export async function timePipeline(yaml: string, stateDir: string, records: number, registry = new PluginRegistry()): Promise<number> {
  const [spec] = parsePipelineYaml(yaml, 'bench.yaml', registry).pipelines
  const runner = new PipelineRunner(spec, { stateDir, logger: quiet })
  const start = process.hrtime.bigint()
  runner.start()
  try {
    await runner.waitFor((r) => r.counters.acked >= records || r.state === 'degraded' || r.state === 'recovering', 600_000)
    const end = process.hrtime.bigint()
    if (runner.counters.acked < records) throw new Error(`pipeline stopped ${runner.state}: ${runner.lastError?.message}`)
    return rate(records, start, end)
  } finally {
    await runner.stop()
  }
}

const context = (dir: string): ConnectorContext => ({ pipelineId: 'bench', connectorId: 'bench:ceiling', lastPosition: null, stateDir: dir, logger: quiet })

/**
 * The generator-file ceiling: the same generator's records encoded by the destination's encoder and
 * written straight to `file` (each batch's write overlapping the next batch's encoding, as the
 * destination writes off the main thread), one fsync at the end. Returns records/s.
 */
async function writeLinesStraight(registry: PluginRegistry, records: number, dir: string, file: string): Promise<number> {
  const plugin = registry.connector('generator')!
  const source = plugin.source!(plugin.settings.parse({ 'format.type': 'structured', 'format.options.id': 'int', 'format.options.name': 'string', 'format.options.score': 'float', 'format.options.active': 'bool', recordCount: String(records) }), context(dir))
  const signal = new AbortController().signal
  await source.open(signal)
  const handle = await fs.promises.open(file, 'w')
  // Two encoders, used in turn: batch k is encoded while batch k-1 is written.
  const encoders = [new JsonLinesEncoder(), new JsonLinesEncoder()]
  const writeAll = async (bytes: Buffer): Promise<void> => {
    for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten
  }
  try {
    const start = process.hrtime.bigint()
    let writing: Promise<void> = Promise.resolve()
    let done = 0
    for (let k = 0; done < records; k++) {
      const batch = await source.read(signal)
      const bytes = (encoders[k % 2] as JsonLinesEncoder).encode(batch) // its previous bytes (batch k-2) are written
      await writing
      writing = writeAll(bytes)
      done += batch.length
    }
    await writing
    await handle.sync()
    return rate(records, start, process.hrtime.bigint())
  } finally {
    await handle.close()
    await source.teardown()
  }
}

addPipelineBenchCase('generator-file', {
  description: 'generator (structured) → file, vs the same records as OpenCDC JSON lines written straight to a file',
  defaultRecords: 1_000_000,
  async run({ records, dir }) {
    const registry = requirePlugins('generator', 'file')
    const settings = `{ format.type: structured, format.options.id: int, format.options.name: string, format.options.score: float, format.options.active: bool, recordCount: "${records}" }`
    const out = path.join(dir, 'out.jsonl')
    const yaml = `version: "2.2"
pipelines:
  - id: bench-generator-file
    connectors:
      - { id: gen, type: source, plugin: builtin:generator, settings: ${settings} }
      - { id: file, type: destination, plugin: builtin:file, settings: { path: "${out}" } }
`
    // The ceiling is measured before and after ours and the better pass counts: on a shared machine
    // one pass alone can land in a busy moment and fall below ours, which no ceiling may.
    const ceilingFile = path.join(dir, 'ceiling.jsonl')
    const before = await writeLinesStraight(registry, records, dir, ceilingFile)
    fs.rmSync(ceilingFile, { force: true })
    const perSec = await timePipeline(yaml, path.join(dir, 'state'), records, registry)
    const written = fs.statSync(out).size
    fs.rmSync(out, { force: true })
    const after = await writeLinesStraight(registry, records, dir, ceilingFile)
    return { perSec, ceilingPerSec: Math.max(before, after), ceilingPasses: [Math.round(before), Math.round(after)], bytes: written }
  },
})

function logCase(kind: 'file' | 'kafka'): PipelineBenchCase {
  return {
    description: kind === 'file' ? 'tributary-log → tributary-log on the embedded file log, vs a consume → produce → commit loop' : 'Kafka → Kafka (tributary-log on kafka://), vs the log layer\'s consume → produce → commit loop',
    defaultRecords: kind === 'file' ? 1_000_000 : 500_000,
    async run({ records, dir }) {
      const registry = requirePlugins('tributary-log')
      const url = kind === 'file' ? `file:${path.join(dir, 'log')}` : `kafka://${process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'}`
      const tag = `${process.pid}-${Date.now()}`
      const topics = { in: `bench-in-${tag}`, out: `bench-out-${tag}`, ceiling: `bench-ceiling-${tag}` }
      const partitions = 4
      let log = await openLog(url, { cleanerIntervalMs: 0 })
      try {
        for (const t of Object.values(topics)) await log.admin.createTopic({ name: t, partitions })
        const producer = log.producer()
        const value = Buffer.alloc(100, 'v')
        for (let i = 0; i < records; ) {
          const batch: ProduceRecord[] = []
          for (let j = 0; j < 10_000 && i < records; j++, i++) batch.push({ topic: topics.in, key: `key-${String(i % 10_000).padStart(12, '0')}`, value })
          await producer.send(batch)
        }
        await producer.close()
      } finally {
        if (kind === 'file') await log.close() // the pipeline's connectors open the directory themselves
      }
      const yaml = `version: "2.2"
pipelines:
  - id: bench-${kind}-log
    connectors:
      - { id: in, type: source, plugin: tributary-log, settings: { url: "${url}", topics: ${topics.in}, readFromBeginning: "true", groupID: bench-${tag} } }
      - { id: out, type: destination, plugin: tributary-log, settings: { url: "${url}", topic: ${topics.out} } }
`
      const perSec = await timePipeline(yaml, path.join(dir, 'state'), records, registry)

      // Ceiling: the same records through the log layer, consume → produce → commit.
      if (kind === 'file') log = await openLog(url, { cleanerIntervalMs: 0 })
      try {
        const consumer = log.consumer({ groupId: `bench-ceiling-${tag}`, topics: [topics.in], autoOffsetReset: 'earliest' })
        const producer = log.producer()
        const start = process.hrtime.bigint()
        let done = 0
        while (done < records) {
          const batch = await consumer.poll({ timeoutMs: 1_000 })
          if (batch.length === 0) continue
          await producer.send(batch.map((r) => ({ topic: topics.ceiling, key: r.key, value: r.value })))
          await consumer.commit()
          done += batch.length
        }
        const end = process.hrtime.bigint()
        await consumer.close()
        await producer.close()
        if (kind === 'kafka') for (const t of Object.values(topics)) await log.admin.deleteTopic(t).catch(() => {})
        return { perSec, ceilingPerSec: rate(records, start, end), partitions }
      } finally {
        await log.close()
      }
    },
  }
}

addPipelineBenchCase('log-log', logCase('file'))
addPipelineBenchCase('kafka-kafka', logCase('kafka'))

/** Options of {@link runPipelineBench}. */
export interface PipelineBenchOptions {
  /** Case names; default every case. */
  cases?: string[]
  /** Records per case; default each case's own. */
  records?: number
  json: boolean
}

/** Runs the cases in order and reports each. */
export async function runPipelineBench(options: PipelineBenchOptions): Promise<PhaseResult[]> {
  const names = options.cases && options.cases.length > 0 ? options.cases : [...pipelineBenchCases.keys()]
  const results: PhaseResult[] = []
  for (const name of names) {
    const c = pipelineBenchCases.get(name)
    if (!c) throw new Error(`no pipeline bench case ${JSON.stringify(name)}; cases: ${[...pipelineBenchCases.keys()].join(', ')}`)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `trib-bench-${name}-`))
    const records = options.records ?? c.defaultRecords
    try {
      const { perSec, ceilingPerSec, ...extra } = await c.run({ records, dir })
      const result: PhaseResult = { bench: 'pipeline', case: name, phase: options.json ? undefined : name, records, perSec, ceilingPerSec, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20), ...extra }
      report(result, options.json)
      if (!options.json) {
        // Figures beyond the headline (where the time goes, other ceilings), one line.
        const figures = Object.entries(extra).filter(([k, v]) => typeof v === 'number' && !['records', 'ratio', 'rssMb'].includes(k))
        if (figures.length > 0) console.log(`${''.padEnd(22)} context: ${figures.map(([k, v]) => `${k} ${(v as number).toLocaleString('en')}`).join(', ')}`)
      }
      results.push(result)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  return results
}
