/**
 * The pipeline part of `tributary demo`: a Conduit-style pipeline with a dead-letter queue.
 *
 * generator (structured records) → `demo.reject` (a processor registered from code that nacks
 * every record whose number ends in 37) → `tributary-log` destination (topic `demo-pipeline-out` of
 * an embedded file log), with the DLQ on a `file` destination (window 0: every nack goes to the DLQ).
 * The demo waits until every generated record is acknowledged at the source, stops the pipeline,
 * then reads back the topic and the DLQ file and checks that each record is in exactly one of them.
 * @module
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { createLogger } from '../core/logger.ts'
import { openLog } from '../log/index.ts'
import { errorRecord, parsePipelineYaml, PipelineRunner, PluginRegistry, recordFromJson, type ProcessorPlugin } from '../pipeline/index.ts'

/** Options of {@link runDemoPipeline}. */
export interface DemoPipelineOptions {
  /** Records to generate (default 1000). */
  records?: number
  print?: (line: string) => void
  /** Where the log, the DLQ file and the state go (default: a temporary directory, removed afterwards). */
  dir?: string
  timeoutMs?: number
}

/** What the demo pipeline did. */
export interface DemoPipelineResult {
  generated: number
  delivered: number
  deadLettered: { position: string; error: string }[]
}

const TOPIC = 'demo-pipeline-out'

/** Nacks records whose position (the generator's record number) ends in 37. */
const rejectPlugin: ProcessorPlugin<{ suffix: string }> = {
  name: 'demo.reject',
  summary: 'nacks records whose number ends in `suffix`',
  settings: z.object({ suffix: z.string().default('37') }),
  create: ({ suffix }) => ({
    process: (records) => records.map((r) => (r.position.toString().endsWith(suffix) ? errorRecord(new Error(`record ${r.position.toString()} rejected by the demo (number ends in ${suffix})`)) : r)),
  }),
}

/** Runs the demo pipeline and returns what was delivered and what went to the DLQ. */
export async function runDemoPipeline(options: DemoPipelineOptions = {}): Promise<DemoPipelineResult | undefined> {
  const print = options.print ?? ((line: string) => console.log(line))
  const records = options.records ?? 1_000
  const registry = new PluginRegistry().registerProcessor(rejectPlugin)
  const missing = ['generator', 'file', 'tributary-log'].filter((name) => !registry.connector(name))
  if (missing.length > 0) {
    print(`pipeline demo skipped: the builtin connector(s) ${missing.join(', ')} are not registered`)
    return undefined
  }
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-demo-pipeline-'))
  const logUrl = `file:${path.join(dir, 'log')}`
  const dlqFile = path.join(dir, 'dlq.jsonl')
  const yaml = `version: "2.2"
pipelines:
  - id: demo-pipeline
    description: generator → demo.reject → tributary-log, DLQ to a file
    connectors:
      - id: gen
        type: source
        plugin: builtin:generator
        settings: { format.type: structured, format.options.id: int, format.options.name: string, recordCount: "${records}", sdk.batch.size: "100" }
      - id: out
        type: destination
        plugin: tributary-log
        settings: { url: "${logUrl}", topic: ${TOPIC} }
    processors:
      - { id: reject, plugin: demo.reject, settings: { suffix: "37" } }
    dead-letter-queue:
      plugin: builtin:file
      settings: { path: "${dlqFile}" }
      window-size: 0
`
  const [spec] = parsePipelineYaml(yaml, 'demo-pipeline.yaml', registry).pipelines
  const runner = new PipelineRunner(spec, { stateDir: path.join(dir, 'state'), logger: createLogger({ level: process.env.TRIBUTARY_LOG_LEVEL ?? 'warn' }) })
  try {
    print(`pipeline demo-pipeline: generator (${records} records) → demo.reject (nacks numbers ending in 37) → tributary-log ${logUrl} topic ${TOPIC}; DLQ: file ${dlqFile}`)
    runner.start()
    await runner.waitFor((r) => r.counters.acked >= records || r.state === 'degraded', options.timeoutMs ?? 60_000)
    await runner.stop()
    if (runner.counters.acked < records) throw new Error(`demo pipeline: ${runner.state}: ${runner.lastError?.message}`)
    const c = runner.counters
    print(`pipeline demo-pipeline: read ${c.read}, written ${c.written}, nacked ${c.nacked}, to the DLQ ${c.dlq}, acked ${c.acked} positions`)

    const log = await openLog(logUrl, { cleanerIntervalMs: 0 })
    let delivered = 0
    try {
      delivered = (await log.offsets.endOffsets(TOPIC)).reduce((a, b) => a + b, 0)
    } finally {
      await log.close()
    }
    const deadLettered = fs
      .readFileSync(dlqFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const r = recordFromJson(line)
        const original = r.payload.after as { position: string }
        return { position: Buffer.from(original.position, 'base64').toString(), error: r.metadata['conduit.dlq.nack.error'] }
      })
    print(`delivered: ${delivered} records in ${TOPIC}`)
    print(`dead-letter queue: ${deadLettered.length} records: ${deadLettered.map((d) => d.position).join(', ')}`)
    if (deadLettered[0]) print(`  e.g. ${deadLettered[0].position}: conduit.dlq.nack.error = ${JSON.stringify(deadLettered[0].error)}`)
    if (delivered + deadLettered.length !== records) throw new Error(`demo pipeline: ${delivered} delivered + ${deadLettered.length} dead-lettered ≠ ${records} generated`)
    print(`pipeline demo-pipeline: every generated record is delivered or in the DLQ (${delivered} + ${deadLettered.length} = ${records})`)
    return { generated: records, delivered, deadLettered }
  } finally {
    await runner.stop()
    if (!options.dir) fs.rmSync(dir, { recursive: true, force: true })
  }
}
