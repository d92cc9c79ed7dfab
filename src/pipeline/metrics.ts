/**
 * Prometheus metrics of the pipeline runtime, under Conduit's metric names where Conduit has one
 * (`conduit_pipeline_execution_duration_seconds`, `conduit_connector_execution_duration_seconds`,
 * `conduit_connector_bytes`, `conduit_processor_execution_duration_seconds`, `conduit_dlq_bytes`,
 * `conduit_dlq_execution_duration_seconds`, `conduit_pipeline_status`, `conduit_pipelines`), in the core
 * registry. Durations and bytes are observed once per batch, not per record (Conduit observes per
 * record); bytes count raw key and payload bytes (structured data is not serialised to be measured).
 * The runtime's own counters are `tributary_pipeline_records{pipeline_name,counter}`.
 *
 * @example
 * ```ts
 * const observer = pipelineObserver('orders')   // a WorkerObserver
 * new Worker({ ..., observer })
 * ```
 * @module
 */
import { Gauge, Histogram } from 'prom-client'
import { metric, metricsRegistry } from '../core/metrics.ts'
import type { PipelineRecord } from './record.ts'
import type { PipelineCounters, WorkerObserver } from './worker.ts'

const DURATION_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60]
const BYTE_BUCKETS = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216]

function histogram(name: string, help: string, labelNames: string[], buckets: number[]): Histogram {
  return metric(name, () => new Histogram({ name, help, labelNames, buckets, registers: [metricsRegistry] }))
}

const pipelineDuration = (): Histogram => histogram('conduit_pipeline_execution_duration_seconds', 'Time a batch of records spent in a pipeline, from read to source ack (per batch).', ['pipeline_name'], DURATION_BUCKETS)
const connectorDuration = (): Histogram =>
  histogram('conduit_connector_execution_duration_seconds', 'Time spent reading or writing a batch, per pipeline, plugin and connector type.', ['pipeline_name', 'plugin', 'type'], DURATION_BUCKETS)
const connectorBytes = (): Histogram => histogram('conduit_connector_bytes', 'Raw bytes of key and payload per batch a connector read or wrote.', ['pipeline_name', 'plugin', 'type'], BYTE_BUCKETS)
const processorDuration = (): Histogram => histogram('conduit_processor_execution_duration_seconds', 'Time spent processing a batch, per pipeline and processor.', ['pipeline_name', 'processor'], DURATION_BUCKETS)
const dlqDuration = (): Histogram => histogram('conduit_dlq_execution_duration_seconds', 'Time spent writing nacked records to the DLQ, per pipeline and plugin.', ['pipeline_name', 'plugin'], DURATION_BUCKETS)
const dlqBytes = (): Histogram => histogram('conduit_dlq_bytes', 'Records written to the DLQ per write (Tributary counts records here, not bytes).', ['pipeline_name', 'plugin'], [1, 10, 100, 1000, 10_000])

/** The numeric value of each state in `conduit_pipeline_status` (Conduit: running 1, stopped 2, degraded 3, recovering 4). */
export const STATUS_VALUES = { running: 1, stopped: 2, degraded: 3, recovering: 4 } as const

function rawBytes(records: readonly PipelineRecord[]): number {
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as PipelineRecord
    const key = r.key
    const { before, after } = r.payload
    if (key !== null && Buffer.isBuffer(key)) bytes += key.byteLength
    if (after !== null && Buffer.isBuffer(after)) bytes += after.byteLength
    if (before !== null && Buffer.isBuffer(before)) bytes += before.byteLength
  }
  return bytes
}

/** A {@link WorkerObserver} feeding the Conduit-named metrics for `pipeline`. */
export function pipelineObserver(pipeline: string, dlqPlugin = 'unknown'): WorkerObserver {
  const pd = pipelineDuration()
  const cd = connectorDuration()
  const cb = connectorBytes()
  const prd = processorDuration()
  const dd = dlqDuration()
  const db = dlqBytes()
  // The bytes of batches read, by their first record: a destination writing the same batch (no
  // processors) reuses the count instead of walking the records again.
  const readBytes = new WeakMap<PipelineRecord, number>()
  return {
    sourceRead(task, records, seconds) {
      cd.observe({ pipeline_name: pipeline, plugin: task.plugin, type: 'source' }, seconds)
      const bytes = task.lastRead?.records === records ? task.lastRead.rawBytes : rawBytes(records)
      if (records.length > 0) readBytes.set(records[0] as PipelineRecord, bytes)
      if (bytes > 0) cb.observe({ pipeline_name: pipeline, plugin: task.plugin, type: 'source' }, bytes)
    },
    processed(task, _records, seconds) {
      prd.observe({ pipeline_name: pipeline, processor: task.plugin }, seconds)
    },
    written(task, records, seconds, asRead) {
      cd.observe({ pipeline_name: pipeline, plugin: task.plugin, type: 'destination' }, seconds)
      const bytes = (asRead === true && records.length > 0 ? readBytes.get(records[0] as PipelineRecord) : undefined) ?? rawBytes(records)
      if (bytes > 0) cb.observe({ pipeline_name: pipeline, plugin: task.plugin, type: 'destination' }, bytes)
    },
    dlqWritten(records, seconds) {
      dd.observe({ pipeline_name: pipeline, plugin: dlqPlugin }, seconds)
      db.observe({ pipeline_name: pipeline, plugin: dlqPlugin }, records)
    },
    acked(_positions, seconds) {
      pd.observe({ pipeline_name: pipeline }, seconds)
    },
  }
}

/** What the state gauges read: each pipeline's state and counters. */
export interface PipelineMetricsSource {
  pipelines(): Iterable<{ id: string; state: keyof typeof STATUS_VALUES; counters: PipelineCounters }>
}

const sources = new Set<PipelineMetricsSource>()

/** Registers `source` for the state and counter gauges (until the returned function is called). */
export function registerPipelineMetrics(source: PipelineMetricsSource): () => void {
  sources.add(source)
  metric('conduit_pipeline_status', () =>
    new Gauge({
      name: 'conduit_pipeline_status',
      help: 'State of the pipeline (1 running, 2 stopped, 3 degraded, 4 recovering).',
      labelNames: ['pipeline_name'],
      registers: [metricsRegistry],
      collect() {
        this.reset()
        for (const s of sources) for (const p of s.pipelines()) this.set({ pipeline_name: p.id }, STATUS_VALUES[p.state])
      },
    }),
  )
  metric('conduit_pipelines', () =>
    new Gauge({
      name: 'conduit_pipelines',
      help: 'Number of pipelines by status.',
      labelNames: ['status'],
      registers: [metricsRegistry],
      collect() {
        this.reset()
        for (const status of Object.keys(STATUS_VALUES)) this.set({ status }, 0)
        for (const s of sources) for (const p of s.pipelines()) this.inc({ status: p.state })
      },
    }),
  )
  metric('tributary_pipeline_records', () =>
    new Gauge({
      name: 'tributary_pipeline_records',
      help: 'Pipeline counters since the process started: read, written, filtered, nacked, dlq, acked, in_flight.',
      labelNames: ['pipeline_name', 'counter'],
      registers: [metricsRegistry],
      collect() {
        this.reset()
        for (const s of sources) {
          for (const p of s.pipelines()) {
            const c = p.counters
            for (const [k, v] of [['read', c.read], ['written', c.written], ['filtered', c.filtered], ['nacked', c.nacked], ['dlq', c.dlq], ['acked', c.acked], ['in_flight', c.inFlight]] as const) {
              this.set({ pipeline_name: p.id, counter: k }, v)
            }
          }
        }
      },
    }),
  )
  return () => sources.delete(source)
}
