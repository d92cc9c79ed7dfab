/**
 * A job's driver: `processorCount` processors, each a pipeline (log source as a consumer-group
 * member → the job's map processor → the sink with the retry failure handler; the job's DLQ topic
 * as dead-letter queue), with AresDB's restart policy and status.
 *
 * Guarantees: a processor commits offsets only after the sink saved the batch or, once retries ran
 * out, after the job's DLQ holds it; when the DLQ write fails nothing is committed and the
 * processor stops as `failed`. Rows that cannot be mapped go to the DLQ with their reason.
 *
 * Restart policy (AresDB's, fixed): errors of a processor (a failing consumer, a failed DLQ write,
 * batches dead-lettered after retries) are counted; at `errorThreshold` errors the processor is
 * restarted after `restartInterval` seconds when `restartOnFailure`, else it stops. A processor
 * whose restart fails is retried (AresDB left it dead), and `statusCheckInterval` replaces any
 * processor that is not running and not waiting to restart.
 *
 * @example
 * ```ts
 * const driver = new JobDriver(job, { logUrl: 'kafka://127.0.0.1:9092', sink: (job) => new PostgresSink(job, { url }) })
 * driver.start()
 * driver.status().runningProcessors
 * await driver.stop()
 * ```
 * @module
 */
import path from 'node:path'
import { z } from 'zod'
import { createLogger, type Logger } from '../core/logger.ts'
import type { ConnectorPlugin } from '../pipeline/connector.ts'
import type { ConnectorSpec, PipelineSpec, ProcessorSpec } from '../pipeline/config.ts'
import { tributaryLogConnector } from '../pipeline/connectors/tributary-log/plugin.ts'
import type { ProcessorPlugin } from '../pipeline/processor.ts'
import { PipelineRunner, type PipelineState } from '../pipeline/runner.ts'
import { BatchingSource } from './batching-source.ts'
import type { JobConfig } from './job-config.ts'
import { JobMapProcessor, type RejectKind } from './map-processor.ts'
import { ingestMetrics, watchDriver } from './metrics.ts'
import type { RetryFailureHandler } from './retry-handler.ts'
import { SinkDestination, type IngestSink } from './sinks/sink.ts'

/** Options of a {@link JobDriver}. */
export interface JobDriverOptions {
  /** The log the job reads (`kafka://…`, `file:…`, `memory:…`); default `kafka://<streamConfig.kafkaBroker>`. */
  logUrl?: string
  /** Makes the sink for one processor. */
  sink: (job: JobConfig) => IngestSink
  /** The log of the DLQ topic; default the job's log. */
  dlqUrl?: string
  /** Default `<job>-dlq`. */
  dlqTopic?: string
  /** Where the pipelines keep their state; default `.tributary/ingest/<job>`. */
  stateDir?: string
  /** AresDB's `DEPLOYMENT_NAME` part of the group id; default `$DEPLOYMENT_NAME` or `tributary`. */
  deployment?: string
  /** Which processor ids this instance runs (default all: `0 .. processorCount-1`). */
  processorIds?: readonly number[]
  logger?: Logger
  /** Restart timing override for tests (ms); default `restartInterval` seconds. */
  restartIntervalMs?: number
  /** Status check period override for tests (ms); default `statusCheckInterval` seconds. */
  statusCheckIntervalMs?: number
  /** Makes the retry failure handler of a sink; default AresDB's intervals from the job config (tests pass short ones). */
  retryHandler?: (job: JobConfig) => RetryFailureHandler
  /** Called once per rejected message. */
  onReject?: (reason: RejectKind) => void
  /** Feed the Prometheus metrics (`tributary_ingest_*` and the pipelines' own); default true. */
  metrics?: boolean
}

/** One processor's status, in AresDB's `ProcessorContext` shape (with readable `errors`). */
export interface ProcessorStatus {
  startTime: string
  totalMessages: number
  failedMessages: number
  stopped: boolean
  shutdown: boolean
  errors: { timestamp: number; message: string }[]
  lastUpdated: string
  restartCount: number
  restarting: boolean
  restartTime: number
  state: PipelineState | 'restarting'
}

/** A driver's status, in AresDB's `Driver` JSON shape. */
export interface DriverStatus {
  jobName: string
  aresCluster: string
  topic: string
  version: number
  startTime: string
  totalProcessors: number
  runningProcessors: number
  stoppedProcessors: number
  failedProcessors: number
  restartingProcessors: number
  processorContext: { [id: string]: ProcessorStatus }
}

class ProcessorSlot {
  readonly id: number
  runner: PipelineRunner
  startTime = new Date()
  restartCount = 0
  restarting = false
  restartTime = 0
  errorsSinceRestart = 0
  readonly errors: { timestamp: number; message: string }[] = []
  /** Messages read and failed over earlier runners of this slot. */
  baseTotal = 0
  baseFailed = 0
  restartTimer: NodeJS.Timeout | undefined

  constructor(id: number, runner: PipelineRunner) {
    this.id = id
    this.runner = runner
  }
}

/** Runs one job's processors. */
export class JobDriver {
  readonly job: JobConfig
  readonly #options: JobDriverOptions
  readonly #logger: Logger
  readonly #slots = new Map<number, ProcessorSlot>()
  readonly #startTime = new Date()
  #statusTimer: NodeJS.Timeout | undefined
  #stopped = false
  readonly #metrics: ReturnType<typeof ingestMetrics> | undefined
  #unwatch: (() => void) | undefined

  constructor(job: JobConfig, options: JobDriverOptions) {
    this.job = job
    this.#options = options
    this.#logger = (options.logger ?? createLogger({ name: 'tributary' })).child({ job: job.job })
    this.#metrics = options.metrics === false ? undefined : ingestMetrics()
  }

  /** The job's key in metrics and over HTTP: its name, with `@cluster` when the cluster is set. */
  get key(): string {
    const cluster = this.job.aresTableConfig.cluster
    return cluster ? `${this.job.job}@${cluster}` : this.job.job
  }

  /** The consumer group of the job's processors (AresDB's name). */
  get groupId(): string {
    const deployment = this.#options.deployment ?? process.env.DEPLOYMENT_NAME ?? 'tributary'
    return `ares-subscriber_${deployment}_${this.job.job}_${this.job.aresTableConfig.cluster}_streaming`
  }

  get #logUrl(): string {
    if (this.#options.logUrl) return this.#options.logUrl
    const brokers = this.job.streamConfig.kafkaBroker
    if (!brokers) throw new Error(`job ${this.job.job}: streamConfig.kafkaBroker is not set and no log URL was given`)
    return `kafka://${brokers}`
  }

  #spec(id: number): PipelineSpec {
    const job = this.job
    const stream = job.streamConfig
    const pipelineId = `${job.job}:${id}`
    const logPlugin = tributaryLogConnector as ConnectorPlugin<any>
    const sourceSettings = logPlugin.settings.parse({
      url: this.#logUrl,
      topics: stream.topic,
      groupID: this.groupId,
      readFromBeginning: String(!stream.latestOffset),
      'sdk.batch.size': String(stream.batchSize),
    })
    const dlqSettings = logPlugin.settings.parse({ url: this.#options.dlqUrl ?? this.#logUrl, topic: this.#options.dlqTopic ?? `${job.job}-dlq`, 'sdk.record.format': 'opencdc/json' })
    const onRejectOption = this.#options.onReject
    const metrics = this.#metrics
    const labels = { job: this.key, processor: String(id) }
    const onReject = metrics
      ? (reason: RejectKind): void => {
          metrics.rejected.inc({ ...labels, reason })
          metrics.deadLettered.inc({ ...labels, cause: 'rejected' })
          onRejectOption?.(reason)
        }
      : onRejectOption
    const mapPlugin: ProcessorPlugin<unknown> = {
      name: 'ingest.map',
      summary: `decodes and maps messages of job ${job.job}`,
      settings: z.unknown(),
      create: () => new JobMapProcessor(job, { onReject: onReject ? (reason) => onReject(reason) : undefined }),
    }
    const slotErrors = (message: string): void => this.#recordError(id, message)
    const sinkFactory = this.#options.sink
    const retryFactory = this.#options.retryHandler
    const logger = this.#logger.child({ processor: id })
    const sinkPlugin: ConnectorPlugin<unknown> = {
      name: 'ingest.sink',
      summary: `the sink of job ${job.job}`,
      settings: z.unknown(),
      destination: () => {
        const destination = new SinkDestination(job, sinkFactory(job), logger, retryFactory?.(job))
        const write = destination.write.bind(destination)
        destination.write = async (records, signal) => {
          const acks = await write(records, signal)
          const failed = acks.find((a) => a.error)
          if (failed?.error) slotErrors(failed.error.message)
          if (metrics) {
            const bad = failed ? acks.filter((a) => a.error).length : 0
            if (bad > 0) metrics.deadLettered.inc({ ...labels, cause: 'sink' }, bad)
            if (acks.length > bad) metrics.saved.inc(labels, acks.length - bad)
          }
          return acks
        }
        return destination
      },
    }
    const processor: ProcessorSpec = { id: `${pipelineId}:map`, pluginName: 'ingest.map', plugin: mapPlugin, settings: undefined, workers: 1 }
    // The log source behind AresDB's batcher: a batch is written at batchSize messages or
    // maxBatchDelayMS after its first one.
    const batchedPlugin: ConnectorPlugin<unknown> = {
      name: logPlugin.name,
      summary: logPlugin.summary,
      settings: logPlugin.settings,
      source: (settings, ctx) => new BatchingSource(logPlugin.source!(settings, ctx), stream.batchSize, stream.maxBatchDelayMS),
    }
    const source: ConnectorSpec = { id: `${pipelineId}:source`, type: 'source', name: 'source', pluginName: logPlugin.name, plugin: batchedPlugin, settings: sourceSettings, processors: [] }
    const sink: ConnectorSpec = { id: `${pipelineId}:sink`, type: 'destination', name: 'sink', pluginName: 'ingest.sink', plugin: sinkPlugin, settings: undefined, processors: [] }
    return {
      id: pipelineId,
      name: pipelineId,
      description: `processor ${id} of ingestion job ${job.job} (version ${job.version})`,
      status: 'running',
      file: job.source,
      line: 1,
      source,
      destinations: [sink],
      processors: [processor],
      // The window is off: every rejected row and every batch that ran out of retries goes to the DLQ.
      dlq: { pluginName: logPlugin.name, plugin: logPlugin, settings: dlqSettings, windowSize: 0, windowNackThreshold: 0 },
    }
  }

  #runner(id: number): PipelineRunner {
    const restartMs = this.#options.restartIntervalMs ?? this.job.streamConfig.restartInterval * 1000
    return new PipelineRunner(this.#spec(id), {
      stateDir: path.join(this.#options.stateDir ?? path.join('.tributary', 'ingest', this.job.job), String(id)),
      logger: this.#logger,
      backoff: { initialMs: Math.min(1000, restartMs), maxMs: restartMs, factor: 2 },
      metrics: this.#options.metrics,
      onStateChange: (runner, state) => this.#onState(id, runner, state),
    })
  }

  #onState(id: number, runner: PipelineRunner, state: PipelineState): void {
    const slot = this.#slots.get(id)
    if (!slot || slot.runner !== runner) return
    if ((state === 'recovering' || state === 'degraded') && runner.lastError) this.#recordError(id, runner.lastError.message)
    if (state === 'recovering' && !this.job.streamConfig.restartOnFailure) {
      this.#logger.warn({ processor: id }, `job ${this.job.job}: processor ${id} failed and restartOnFailure is off; it stays stopped`)
      void runner.stop()
    }
  }

  #recordError(id: number, message: string): void {
    const slot = this.#slots.get(id)
    if (!slot) return
    const ring = this.job.streamConfig.errorThreshold * 10
    slot.errors.push({ timestamp: Date.now(), message })
    if (slot.errors.length > ring) slot.errors.splice(0, slot.errors.length - ring)
    slot.errorsSinceRestart++
    if (slot.errorsSinceRestart >= this.job.streamConfig.errorThreshold) {
      slot.errorsSinceRestart = 0
      if (this.job.streamConfig.restartOnFailure) this.restart(id)
      else void slot.runner.stop()
    }
  }

  /** The processor ids this instance runs. */
  get processorIds(): number[] {
    return [...(this.#options.processorIds ?? Array.from({ length: this.job.streamConfig.processorCount }, (_, i) => i))]
  }

  /** Starts every processor (AresDB starts them 500 ms apart; pipelines join the group at once). */
  start(): void {
    this.#stopped = false
    for (const id of this.processorIds) {
      if (this.#slots.has(id)) continue
      const slot = new ProcessorSlot(id, this.#runner(id))
      this.#slots.set(id, slot)
      slot.runner.start()
    }
    const checkMs = this.#options.statusCheckIntervalMs ?? this.job.streamConfig.statusCheckInterval * 1000
    this.#statusTimer ??= setInterval(() => this.#checkStatus(), checkMs)
    this.#statusTimer.unref()
    if (this.#metrics) {
      this.#unwatch?.()
      this.#unwatch = watchDriver({
        key: this.key,
        processors: () => Object.entries(this.status().processorContext).map(([pid, p]) => ({ id: pid, state: p.state, totalMessages: p.totalMessages })),
      })
    }
  }

  /** Replaces processors that are stopped (or failed) and not waiting to restart; AresDB replaced only processors that never started. */
  #checkStatus(): void {
    if (this.#stopped) return
    for (const slot of this.#slots.values()) {
      const state = slot.runner.state
      if (slot.restarting || state === 'running' || state === 'recovering') continue
      if (state === 'stopped' && !this.job.streamConfig.restartOnFailure) continue
      this.#logger.warn({ processor: slot.id, state }, `job ${this.job.job}: processor ${slot.id} is ${state}; replacing it`)
      this.restart(slot.id, 0)
    }
  }

  /**
   * Restarts one processor (or all): stops it (its batch in flight finishes), waits `delayMs`
   * (default `restartInterval`), starts a fresh pipeline. A processor already restarting is left alone.
   */
  restart(id?: number, delayMs?: number): void {
    if (id === undefined) {
      for (const slotId of this.#slots.keys()) this.restart(slotId, delayMs ?? 0)
      return
    }
    const slot = this.#slots.get(id)
    if (!slot || slot.restarting || this.#stopped) return
    slot.restarting = true
    slot.restartCount++
    this.#metrics?.restarts.inc({ job: this.key, processor: String(id) })
    slot.restartTime = Date.now()
    const wait = delayMs ?? this.#options.restartIntervalMs ?? this.job.streamConfig.restartInterval * 1000
    const old = slot.runner
    void old.stop().finally(() => {
      slot.baseTotal += old.counters.read
      slot.baseFailed += old.counters.dlq
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined
        slot.restarting = false
        if (this.#stopped) return
        slot.runner = this.#runner(id)
        slot.startTime = new Date()
        slot.runner.start()
      }, wait)
      slot.restartTimer.unref()
    })
  }

  /** Stops every processor gracefully; resolves when all stopped. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#unwatch?.()
    this.#unwatch = undefined
    if (this.#statusTimer) clearInterval(this.#statusTimer)
    this.#statusTimer = undefined
    const stops: Promise<void>[] = []
    for (const slot of this.#slots.values()) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer)
      slot.restarting = false
      stops.push(slot.runner.stop())
    }
    await Promise.all(stops)
  }

  /** Adds and starts processor `id` (a lease for it was taken); a no-op when it runs here already. */
  addProcessor(id: number): void {
    if (this.#slots.has(id) || this.#stopped) return
    const slot = new ProcessorSlot(id, this.#runner(id))
    this.#slots.set(id, slot)
    slot.runner.start()
  }

  /** Stops and forgets the given processors (their partitions move to other members of the group). */
  async stopProcessors(ids: readonly number[]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        const slot = this.#slots.get(id)
        if (!slot) return
        if (slot.restartTimer) clearTimeout(slot.restartTimer)
        this.#slots.delete(id)
        await slot.runner.stop()
      }),
    )
  }

  /** The driver's status in AresDB's shape. */
  status(): DriverStatus {
    const context: { [id: string]: ProcessorStatus } = {}
    let running = 0
    let stopped = 0
    let failed = 0
    let restarting = 0
    for (const slot of this.#slots.values()) {
      const state = slot.restarting ? 'restarting' : slot.runner.state
      if (state === 'running') running++
      else if (state === 'restarting' || state === 'recovering') restarting++
      else if (state === 'degraded' || (state === 'stopped' && slot.runner.lastError)) failed++
      else stopped++
      context[String(slot.id)] = {
        startTime: slot.startTime.toISOString(),
        totalMessages: slot.baseTotal + slot.runner.counters.read,
        failedMessages: slot.baseFailed + slot.runner.counters.dlq,
        stopped: state === 'stopped' || state === 'degraded',
        shutdown: this.#stopped,
        errors: [...slot.errors],
        lastUpdated: new Date().toISOString(),
        restartCount: slot.restartCount,
        restarting: state === 'restarting' || state === 'recovering',
        restartTime: slot.restartTime,
        state,
      }
    }
    return {
      jobName: this.job.job,
      aresCluster: this.job.aresTableConfig.cluster,
      topic: this.job.streamConfig.topic,
      version: this.job.version,
      startTime: this.#startTime.toISOString(),
      totalProcessors: this.#slots.size,
      runningProcessors: running,
      stoppedProcessors: stopped,
      failedProcessors: failed,
      restartingProcessors: restarting,
      processorContext: context,
    }
  }

  /** Resolves when `check(status)` holds; rejects after `timeoutMs`. */
  async waitFor(check: (s: DriverStatus) => boolean, timeoutMs = 30_000): Promise<DriverStatus> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const s = this.status()
      if (check(s)) return s
      if (Date.now() > deadline) throw new Error(`job ${this.job.job}: timed out waiting; status ${JSON.stringify(s)}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

