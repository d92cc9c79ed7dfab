/**
 * Runs one configured pipeline: builds its worker from the spec (plugins, processors, DLQ), keeps it
 * running, restarts it with backoff after a non-fatal error, and stops it for good (`degraded`)
 * after a fatal one.
 *
 * States: `running`, `recovering` (waiting to restart after an error), `degraded` (stopped by a
 * fatal error: a failed DLQ write, the nack threshold exceeded, a connector breaking the ack
 * protocol) and `stopped`. The backoff goes 1 s, 2 s, 4 s, … up to 10 min (Conduit's), and starts
 * over once a restarted pipeline acknowledges something.
 *
 * Each source's last acknowledged position is stored in `<stateDir>/positions/` and handed back as
 * `ConnectorContext.lastPosition` at every (re)start. Connectors get `<stateDir>/connectors/<id>`
 * for their own state.
 *
 * @example
 * ```ts
 * const runner = new PipelineRunner(spec, { stateDir: '.tributary/pipelines' })
 * runner.start()
 * // ...
 * await runner.stop()
 * console.log(runner.status())
 * ```
 * @module
 */
import path from 'node:path'
import { Backoff, sleep } from '../core/backoff.ts'
import { isTributaryError } from '../core/errors.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import type { ConnectorContext } from './connector.ts'
import { DeadLetterQueue } from './dlq.ts'
import { asError, isFatal } from './fatal.ts'
import { pipelineObserver } from './metrics.ts'
import { PositionStore } from './position-store.ts'
import { DestinationTask, ProcessorTask, SourceTask } from './tasks.ts'
import { newCounters, Worker, type PipelineCounters, type TaskNode } from './worker.ts'
import type { ConnectorSpec, PipelineSpec, ProcessorSpec } from './config.ts'

/** A pipeline's state. */
export type PipelineState = 'running' | 'stopped' | 'degraded' | 'recovering'

/** Options of a {@link PipelineRunner}. */
export interface PipelineRunnerOptions {
  /** Where positions and connector state live. Default `.tributary/pipelines`. */
  stateDir?: string
  logger?: Logger
  /** Restart backoff: first delay (default 1000 ms), ceiling (default 600000 ms), factor (default 2). */
  backoff?: { initialMs?: number; maxMs?: number; factor?: number }
  maxRetryAttempts?: number
  maxRetryStall?: number
  /** Feed the Conduit-named Prometheus metrics (default true). */
  metrics?: boolean
  /** Read the next batch while one is processed (default true). */
  readAhead?: boolean
  /** Called on every state change. */
  onStateChange?: (runner: PipelineRunner, state: PipelineState) => void
}

/** The last error a pipeline met. */
export interface PipelineErrorInfo {
  readonly message: string
  readonly code?: string
  readonly fatal: boolean
  /** ISO time. */
  readonly at: string
}

/** A pipeline's status as served over HTTP. */
export interface PipelineStatus {
  id: string
  name: string
  description: string
  file: string
  /** The configured status (running or stopped). */
  config: 'running' | 'stopped'
  state: PipelineState
  counters: PipelineCounters
  restarts: number
  /** Milliseconds until the next restart, while recovering. */
  nextRestartMs?: number
  lastError: PipelineErrorInfo | null
  source: { id: string; plugin: string }
  processors: { id: string; plugin: string; workers: number; condition?: string }[]
  destinations: { id: string; plugin: string; processors: { id: string; plugin: string }[] }[]
  dlq: { plugin: string; windowSize: number; windowNackThreshold: number }
}

/** Runs one pipeline with restarts. */
export class PipelineRunner {
  readonly spec: PipelineSpec
  readonly counters: PipelineCounters = newCounters()
  readonly positions: PositionStore
  readonly #options: PipelineRunnerOptions
  readonly #logger: Logger
  readonly #stateDir: string
  readonly #backoff: Backoff
  #state: PipelineState = 'stopped'
  #lastError: PipelineErrorInfo | null = null
  #restarts = 0
  #worker: Worker | undefined
  #loop: Promise<void> | undefined
  #stop = new AbortController()
  #restartAt: number | undefined
  readonly #waiters = new Set<() => void>()

  constructor(spec: PipelineSpec, options: PipelineRunnerOptions = {}) {
    this.spec = spec
    this.#options = options
    this.#stateDir = options.stateDir ?? path.join('.tributary', 'pipelines')
    this.positions = new PositionStore(path.join(this.#stateDir, 'positions'))
    this.#logger = (options.logger ?? createLogger({ name: 'tributary' })).child({ pipeline: spec.id })
    this.#backoff = new Backoff({ initialMs: options.backoff?.initialMs ?? 1_000, maxMs: options.backoff?.maxMs ?? 600_000, factor: options.backoff?.factor ?? 2, jitter: 0 })
  }

  get id(): string {
    return this.spec.id
  }

  get state(): PipelineState {
    return this.#state
  }

  get lastError(): PipelineErrorInfo | null {
    return this.#lastError
  }

  /** Starts the pipeline (no-op when it runs already). */
  start(): void {
    if (this.#loop) return
    this.#stop = new AbortController()
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined
    })
  }

  /** Stops gracefully: the batch in flight finishes and is acknowledged. Resolves when stopped. */
  async stop(): Promise<void> {
    this.#stop.abort()
    await this.#worker?.stop()
    await this.#loop
  }

  /** Stops at once: writes in flight see an aborted signal; nothing more is acknowledged. */
  async abort(): Promise<void> {
    this.#stop.abort()
    await this.#worker?.abort()
    await this.#loop
  }

  /** Resolves when the pipeline is in `state` or `state(runner)` holds (checked on every change and ack, and every 10 ms); rejects after `timeoutMs`. */
  waitFor(state: PipelineState | ((r: PipelineRunner) => boolean), timeoutMs = 30_000): Promise<void> {
    const check = typeof state === 'function' ? () => state(this) : () => this.#state === state
    return new Promise((resolve, reject) => {
      if (check()) return resolve()
      const timer = setTimeout(() => {
        clearInterval(poll)
        this.#waiters.delete(waiter)
        reject(new Error(`pipeline ${this.id}: timed out waiting (state ${this.#state})`))
      }, timeoutMs)
      const waiter = (): void => {
        if (!check()) return
        clearTimeout(timer)
        clearInterval(poll)
        this.#waiters.delete(waiter)
        resolve()
      }
      const poll = setInterval(waiter, 10) // counters move without a callback per batch
      this.#waiters.add(waiter)
    })
  }

  /** Wakes `waitFor` checks that look at counters (call after progress; the worker does not call back per batch). */
  poke(): void {
    for (const w of [...this.#waiters]) w()
  }

  status(): PipelineStatus {
    const s = this.spec
    return {
      id: s.id,
      name: s.name,
      description: s.description,
      file: s.file,
      config: s.status,
      state: this.#state,
      counters: { ...this.counters },
      restarts: this.#restarts,
      ...(this.#state === 'recovering' && this.#restartAt !== undefined ? { nextRestartMs: Math.max(0, this.#restartAt - Date.now()) } : {}),
      lastError: this.#lastError,
      source: { id: s.source.id, plugin: s.source.plugin.name },
      processors: s.processors.map((p) => ({ id: p.id, plugin: p.plugin.name, workers: p.workers, ...(p.conditionSource ? { condition: p.conditionSource } : {}) })),
      destinations: s.destinations.map((d) => ({ id: d.id, plugin: d.plugin.name, processors: d.processors.map((p) => ({ id: p.id, plugin: p.plugin.name })) })),
      dlq: { plugin: s.dlq.plugin.name, windowSize: s.dlq.windowSize, windowNackThreshold: s.dlq.windowNackThreshold },
    }
  }

  #set(state: PipelineState): void {
    if (this.#state === state) return
    this.#state = state
    this.#logger.info({ state }, `pipeline ${this.id} ${state}`)
    this.#options.onStateChange?.(this, state)
    this.poke()
  }

  #context(c: { id: string }, lastPosition: Buffer | null): ConnectorContext {
    return {
      pipelineId: this.id,
      connectorId: c.id,
      lastPosition,
      stateDir: path.join(this.#stateDir, 'connectors', encodeURIComponent(c.id)),
      logger: this.#logger.child({ connector: c.id }),
    }
  }

  #processorTask(p: ProcessorSpec): ProcessorTask {
    const processor = p.plugin.create(p.settings, { pipelineId: this.id, processorId: p.id, logger: this.#logger.child({ processor: p.id }) })
    return new ProcessorTask(p.id, processor, { condition: p.condition, workers: p.workers, plugin: p.plugin.name })
  }

  /** A fresh worker: new plugin instances, the stored source position. */
  #build(): Worker {
    const s = this.spec
    const chain = (processors: readonly ProcessorSpec[], end: TaskNode[]): TaskNode[] => {
      let next = end
      for (let i = processors.length - 1; i >= 0; i--) next = [{ task: this.#processorTask(processors[i]), next }]
      return next
    }
    const destination = (d: ConnectorSpec): TaskNode[] => chain(d.processors, [{ task: new DestinationTask(d.id, d.plugin.destination!(d.settings, this.#context(d, null)), d.plugin.name), next: [] }])
    const branches = s.destinations.flatMap(destination)
    const graph = chain([...s.source.processors, ...s.processors], branches)
    const lastPosition = this.positions.load(s.source.id)
    const source = new SourceTask(s.source.id, s.source.plugin.source!(s.source.settings, this.#context(s.source, lastPosition)), s.source.plugin.name)
    const dlqId = `${this.id}:dlq`
    const dlq = new DeadLetterQueue({
      id: dlqId,
      plugin: s.dlq.plugin.name,
      destination: s.dlq.plugin.destination!(s.dlq.settings, this.#context({ id: dlqId }, null)),
      windowSize: s.dlq.windowSize,
      windowNackThreshold: s.dlq.windowNackThreshold,
      sourceConnectorId: s.source.id,
    })
    return new Worker({
      source,
      graph,
      dlq,
      counters: this.counters,
      observer: this.#options.metrics === false ? undefined : pipelineObserver(this.id, s.dlq.plugin.name),
      onAck: (position) => {
        this.positions.save(s.source.id, position)
        if (this.#backoff.attempt > 0) this.#backoff.reset()
        if (this.#waiters.size > 0) this.poke()
      },
      maxRetryAttempts: this.#options.maxRetryAttempts,
      maxRetryStall: this.#options.maxRetryStall,
      readAhead: this.#options.readAhead,
    })
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal
    while (!signal.aborted) {
      let worker: Worker | undefined
      let error: unknown
      try {
        worker = this.#build()
        this.#worker = worker
        await worker.open(signal)
        if (signal.aborted) break
        this.#set('running')
        await worker.run()
      } catch (err) {
        error = err
      } finally {
        if (worker) {
          await worker.close().catch((err) => {
            this.#logger.warn({ err: asError(err).message }, `pipeline ${this.id}: teardown failed`)
          })
        }
        this.#worker = undefined
        await this.positions.flush().catch((err) => {
          error ??= err
        })
      }
      if (error === undefined || (signal.aborted && !isFatal(error))) break
      const fatal = isFatal(error)
      const e = asError(error)
      this.#lastError = { message: e.message, code: isTributaryError(e) ? e.code : undefined, fatal, at: new Date().toISOString() }
      this.#logger.error({ err: e.message, code: this.#lastError.code, fatal }, `pipeline ${this.id}: ${e.message}`)
      if (fatal) {
        this.#set('degraded')
        return
      }
      const delay = this.#backoff.next()
      this.#restartAt = Date.now() + delay
      this.#set('recovering')
      this.#logger.warn({ delayMs: delay }, `pipeline ${this.id}: restarting in ${delay} ms`)
      try {
        await sleep(delay, signal)
      } catch {
        break
      }
      this.#restarts++
    }
    this.#set('stopped')
  }
}
