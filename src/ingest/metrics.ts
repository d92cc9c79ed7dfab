/**
 * Prometheus metrics of ingestion jobs, in the core registry, labelled by job (`job` or
 * `job@cluster`) and processor id:
 *
 * - `tributary_ingest_rejected_rows_total{job,processor,reason}` — messages that could not become a
 *   row (`not_json`, `not_an_object`, `null_primary_key`, `missing_event_time`, `bad_value`); each
 *   goes to the job's DLQ
 * - `tributary_ingest_saved_rows_total{job,processor}` — rows the sink saved
 * - `tributary_ingest_dead_lettered_rows_total{job,processor,cause}` — rows sent to the DLQ
 *   (`rejected`, or `sink` when the sink still failed after the retry window)
 * - `tributary_ingest_restarts_total{job,processor}` — processor restarts
 * - `tributary_ingest_processors{job,state}` and `tributary_ingest_processor_messages{job,processor}`
 *   — read from the live drivers at scrape time
 *
 * @example
 * ```ts
 * ingestMetrics().saved.inc({ job: 'trips', processor: '0' }, rows.length)
 * ```
 * @module
 */
import { Counter, Gauge } from 'prom-client'
import { metric, metricsRegistry } from '../core/metrics.ts'

/** What a driver reports at scrape time. */
export interface ScrapedDriver {
  key: string
  processors(): { id: string; state: string; totalMessages: number }[]
}

const live = new Set<ScrapedDriver>()

/** Adds a driver to the scrape-time gauges; the returned function removes it. */
export function watchDriver(driver: ScrapedDriver): () => void {
  live.add(driver)
  return () => live.delete(driver)
}

function counter(name: string, help: string, labelNames: string[]): Counter {
  return metric(name, () => new Counter({ name, help, labelNames, registers: [metricsRegistry] }))
}

/** The ingest counters (registered once). */
export function ingestMetrics(): { rejected: Counter; saved: Counter; deadLettered: Counter; restarts: Counter } {
  metric('tributary_ingest_processors', () =>
    new Gauge({
      name: 'tributary_ingest_processors',
      help: 'Processors of each ingestion job on this instance, by state (running, restarting, recovering, degraded, stopped).',
      labelNames: ['job', 'state'],
      registers: [metricsRegistry],
      collect() {
        this.reset()
        for (const d of live) for (const p of d.processors()) this.inc({ job: d.key, state: p.state })
      },
    }),
  )
  metric('tributary_ingest_processor_messages', () =>
    new Gauge({
      name: 'tributary_ingest_processor_messages',
      help: "Messages read by each processor of an ingestion job since its driver started (AresDB's totalMessages).",
      labelNames: ['job', 'processor'],
      registers: [metricsRegistry],
      collect() {
        this.reset()
        for (const d of live) for (const p of d.processors()) this.set({ job: d.key, processor: p.id }, p.totalMessages)
      },
    }),
  )
  return {
    rejected: counter('tributary_ingest_rejected_rows_total', 'Messages of an ingestion job that could not become a row, by reason; each goes to the DLQ.', ['job', 'processor', 'reason']),
    saved: counter('tributary_ingest_saved_rows_total', 'Rows an ingestion job saved to its sink.', ['job', 'processor']),
    deadLettered: counter('tributary_ingest_dead_lettered_rows_total', "Rows sent to an ingestion job's DLQ, by cause (rejected, sink).", ['job', 'processor', 'cause']),
    restarts: counter('tributary_ingest_restarts_total', 'Restarts of ingestion job processors.', ['job', 'processor']),
  }
}
