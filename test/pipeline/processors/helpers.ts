/** Shared test helpers for the builtin processors: build a processor by plugin name, run records through it. */
import assert from 'node:assert/strict'
import { createLogger } from '../../../src/core/logger.ts'
import { isSingleRecord, type PipelineProcessor, type ProcessedRecord, type ProcessorContext } from '../../../src/pipeline/processor.ts'
import { builtinProcessors } from '../../../src/pipeline/processors/index.ts'
import { createRecord, type Data, type Operation, type PipelineRecord } from '../../../src/pipeline/record.ts'

export const quietLogger = createLogger({ level: 'silent' })

export function context(processorId = 'proc'): ProcessorContext {
  return { pipelineId: 'pipeline', processorId, logger: quietLogger }
}

export function plugin(name: string) {
  const p = builtinProcessors.find((b) => b.name === name)
  assert.ok(p, `builtin processor ${name} exists`)
  return p
}

/** Validates `settings` with the plugin's zod schema and creates the processor. */
export function make(name: string, settings: Record<string, unknown> = {}, processorId = name): PipelineProcessor {
  const p = plugin(name)
  return p.create(p.settings.parse(settings), context(processorId))
}

export async function run(processor: PipelineProcessor, records: PipelineRecord[]): Promise<ProcessedRecord[]> {
  return await processor.process(records, new AbortController().signal)
}

/** Runs one record and returns its single outcome. */
export async function runOne(processor: PipelineProcessor, record: PipelineRecord): Promise<ProcessedRecord> {
  const out = await run(processor, [record])
  assert.equal(out.length, 1)
  return out[0] as ProcessedRecord
}

/** Runs one record that must come out as a single record. */
export async function processOne(processor: PipelineProcessor, record: PipelineRecord): Promise<PipelineRecord> {
  const out = await runOne(processor, record)
  assert.ok(isSingleRecord(out), `expected a record, got ${JSON.stringify(out)}`)
  return out
}

/** Runs one record that must be nacked; returns the error. */
export async function processError(processor: PipelineProcessor, record: PipelineRecord): Promise<Error> {
  const out = await runOne(processor, record)
  assert.ok(!isSingleRecord(out) && out.kind === 'error', `expected an error outcome, got ${JSON.stringify(out)}`)
  return out.error
}

export interface RecordSpec {
  position?: string
  operation?: Operation
  metadata?: Record<string, string>
  key?: Data | string
  before?: Data | string
  after?: Data | string
}

/** A record as Conduit's docs write them: strings are raw data, objects structured data. */
export function rec(spec: RecordSpec): PipelineRecord {
  return createRecord({ position: Buffer.from(spec.position ?? 'pos-1'), operation: spec.operation, metadata: spec.metadata, key: spec.key, before: spec.before, after: spec.after })
}

/** A frozen deep copy, to prove processors do not change their input. */
export function frozen(record: PipelineRecord): PipelineRecord {
  const freeze = (v: unknown): unknown => {
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      for (const x of Object.values(v)) freeze(x)
      Object.freeze(v)
    }
    return v
  }
  return freeze(structuredCloneRecord(record)) as PipelineRecord
}

function structuredCloneRecord(r: PipelineRecord): PipelineRecord {
  const copy = (v: unknown): unknown =>
    Buffer.isBuffer(v) ? Buffer.from(v) : Array.isArray(v) ? v.map(copy) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)])) : v
  const data = (d: Data): Data => copy(d) as Data
  return { position: Buffer.from(r.position), operation: r.operation, metadata: { ...r.metadata }, key: data(r.key), payload: { before: data(r.payload.before), after: data(r.payload.after) } }
}
