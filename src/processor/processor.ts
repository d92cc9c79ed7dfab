/**
 * The processor (goka's `Processor`): runs a group graph as a member of the consumer group named
 * after the group, restarting itself after transient errors.
 *
 * States: `idle → starting → recovering → running`, `reconnecting` while it backs off after a
 * transient error (broker down, rebalance storm, timeout), then `stopping → stopped`, or `failed`
 * when a callback threw, called `ctx.fail()`, met undecodable input, or the topics do not fit.
 * Unlike goka, `run` need not be wrapped in a retry loop.
 *
 * @example
 * ```ts
 * const processor = new Processor(log, graph, { storage: lmdbStore({ dir: './state' }) })
 * const done = processor.run()
 * await processor.waitForReady()
 * processor.get('alice') // the group-table value, if this instance holds alice's partition
 * await processor.stop()
 * await done
 * ```
 * @module
 */
import { Backoff, sleep } from '../core/backoff.ts'
import { TributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Log } from '../log/types.ts'
import { isTransient } from './errors.ts'
import type { GroupGraph } from './graph.ts'
import { resolveProcessorOptions, type ProcessorOptions, type ResolvedProcessorOptions } from './options.ts'
import type { PartitionStats } from './partition-processor.ts'
import { Session } from './session.ts'
import { StateSignal, type StateListener } from './signal.ts'
import { prepareTopics } from './topics.ts'
import { View, type ViewStats } from './view.ts'

/** Lifecycle of a processor. */
export type ProcessorState = 'idle' | 'starting' | 'recovering' | 'running' | 'reconnecting' | 'stopping' | 'stopped' | 'failed'

/** Stats of a processor (goka's `ProcessorStats`). */
export interface ProcessorStats {
  readonly group: string
  readonly state: ProcessorState
  /** The partitions this instance holds. */
  readonly partitions: PartitionStats[]
  /** Joined and lookup tables. */
  readonly views: ViewStats[]
  /** Restarts after transient errors. */
  readonly restarts: number
}

/** Runs a {@link GroupGraph} on a {@link Log}. */
export class Processor {
  readonly graph: GroupGraph
  readonly #log: Log
  readonly #options: ResolvedProcessorOptions
  readonly #logger: Logger
  readonly #signal = new StateSignal<ProcessorState>('idle', ['stopped', 'failed'])
  readonly #controller = new AbortController()
  readonly #views = new Map<string, View>()
  readonly #viewRuns: Promise<void>[] = []
  #session: Session | undefined
  #sessionController: AbortController | undefined
  #partitionCount = 0
  #restarts = 0
  #fatal: unknown
  #running: Promise<void> | undefined

  /** Validates the graph and options; nothing connects before {@link run}. */
  constructor(log: Log, graph: GroupGraph, options: ProcessorOptions = {}) {
    if (!log || typeof log.consumer !== 'function') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'Processor: the first argument must be a Log')
    graph.validate()
    this.graph = graph
    this.#log = log
    this.#options = resolveProcessorOptions(graph.group, options)
    this.#logger = this.#options.logger
  }

  get state(): ProcessorState {
    return this.#signal.state
  }

  /** The error the processor failed with. */
  get error(): unknown {
    return this.#signal.error
  }

  /** Calls `listener(state, previous)` on every change; returns a function that unsubscribes. */
  observeStateChanges(listener: StateListener<ProcessorState>): () => void {
    return this.#signal.observe(listener)
  }

  /** Resolves once every assigned partition is recovered and processing; rejects if the processor fails or stops first. */
  waitForReady(): Promise<void> {
    return this.#signal.waitFor('running')
  }

  /**
   * Runs until `stop()` (or `signal`): resolves then, after handing partitions over cleanly.
   * Rejects with the error that stopped it otherwise. Call once.
   */
  run(signal?: AbortSignal): Promise<void> {
    if (this.#running) throw new TributaryError('TRIB_INVALID_ARGUMENT', `processor of group ${this.graph.group} was already started; create a new Processor`)
    if (signal) {
      if (signal.aborted) this.#controller.abort(signal.reason)
      else signal.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true })
    }
    this.#running = this.#run()
    return this.#running
  }

  /** Stops processing, commits, closes stores; resolves when done. Safe to call more than once. */
  async stop(): Promise<void> {
    if (!['idle', 'stopped', 'failed'].includes(this.state)) this.#signal.set('stopping')
    this.#controller.abort(new TributaryError('TRIB_CLOSED', `processor of group ${this.graph.group} stopped`))
    if (!this.#running) {
      this.#signal.set('stopped')
      return
    }
    await this.#running.catch(() => {})
  }

  /**
   * The group-table value of `key`, read from this instance's partition (including writes not yet
   * committed). Throws `TRIB_PROCESSOR_NOT_OWNED` when another instance holds the key's partition or
   * it is still recovering.
   */
  get<S = unknown>(key: string): S | undefined {
    const edge = this.graph.groupTableEdge
    if (!edge) {
      throw new TributaryError('TRIB_PROCESSOR_UNDECLARED', `group ${this.graph.group}: get() without a group table; add persist(codec) to defineGroup`)
    }
    const partition = this.#partitionCount > 0 ? this.#options.partitioner(Buffer.from(key, 'utf8'), this.#partitionCount) : -1
    const pp = this.#session?.partitions.get(partition)
    if (!pp || pp.state.state !== 'running') {
      throw new TributaryError('TRIB_PROCESSOR_NOT_OWNED', `group ${this.graph.group}: key ${JSON.stringify(key)} is in partition ${partition}, which this instance does not hold (or is still recovering)`, {
        retriable: true,
        details: { group: this.graph.group, key, partition },
      })
    }
    const bytes = pp.tableGet(key)
    return bytes === undefined ? undefined : (edge.codec.decode(bytes) as S)
  }

  /** Per-partition stats with input lag, and the joined/lookup views' stats. */
  async stats(): Promise<ProcessorStats> {
    const pps = [...(this.#session?.partitions.values() ?? [])]
    const partitions: PartitionStats[] = pps.map((pp) => structuredClone(pp.stats))
    for (const topic of this.graph.consumedTopics) {
      const ends = await this.#log.offsets.endOffsets(topic).catch(() => undefined)
      if (!ends) continue
      for (const stats of partitions) {
        const input = stats.input[topic]
        if (input && input.lastOffset >= 0) input.lag = Math.max(0, (ends[stats.partition] ?? 0) - input.lastOffset - 1)
      }
    }
    partitions.sort((a, b) => a.partition - b.partition)
    return { group: this.graph.group, state: this.state, partitions, views: [...this.#views.values()].map((v) => v.stats()), restarts: this.#restarts }
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal
    const backoff = new Backoff(this.#options.backoff)
    this.#signal.set('starting')
    try {
      for (;;) {
        if (signal.aborted) break
        const sessionController = new AbortController()
        this.#sessionController = sessionController
        const onAbort = (): void => sessionController.abort(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        try {
          this.#partitionCount = await prepareTopics(this.#log, this.graph, this.#logger)
          this.#startViews()
          this.#throwIfFatal()
          const session = new Session({
            log: this.#log,
            graph: this.graph,
            options: this.#options,
            logger: this.#logger,
            views: this.#views,
            ready: (ready) => {
              if (!signal.aborted) this.#signal.set(ready ? 'running' : 'recovering')
            },
            committed: () => backoff.reset(),
          })
          this.#session = session
          if (this.state !== 'recovering') this.#signal.set('recovering')
          await session.run(sessionController.signal)
          this.#throwIfFatal()
          break
        } catch (err) {
          this.#session = undefined
          const fatal = this.#fatal ?? err
          if (signal.aborted && this.#fatal === undefined) break
          if (this.#fatal !== undefined || !isTransient(fatal)) throw fatal
          this.#restarts++
          const delay = backoff.next()
          this.#logger.warn({ err, delay, restarts: this.#restarts }, 'processor hit a transient error; restarting')
          this.#signal.set('reconnecting')
          await sleep(delay, signal).catch(() => {})
        } finally {
          signal.removeEventListener('abort', onAbort)
          this.#session = undefined
        }
      }
      this.#signal.set('stopping')
      await this.#stopViews()
      this.#signal.set('stopped')
    } catch (err) {
      this.#logger.error({ err }, 'processor failed')
      await this.#stopViews()
      this.#signal.set('failed', err)
      throw err
    }
  }

  #throwIfFatal(): void {
    if (this.#fatal !== undefined) throw this.#fatal
  }

  /** Starts one view per joined or lookup table (once; they reconnect by themselves). */
  #startViews(): void {
    for (const edge of [...this.graph.joinTables, ...this.graph.lookupTables]) {
      if (this.#views.has(edge.topic)) continue
      const view = new View(this.#log, edge.topic, edge.codec, {
        storage: this.#options.viewStorage,
        // A joined table is read at the input's partition: replicate the assigned ones (the session
        // sets them); a lookup table is read anywhere: replicate it all.
        partitions: edge.kind === 'join' ? [] : undefined,
        partitioner: this.#options.partitioner,
        logger: this.#logger.child({ table: edge.topic }),
        clientId: `${this.#options.clientId}-${edge.kind}`,
      })
      this.#views.set(edge.topic, view)
      this.#viewRuns.push(
        view.run().catch((err: unknown) => {
          if (this.#controller.signal.aborted) return
          this.#fatal ??= err
          this.#sessionController?.abort(err)
        }),
      )
    }
  }

  async #stopViews(): Promise<void> {
    await Promise.all([...this.#views.values()].map((v) => v.stop()))
    await Promise.all(this.#viewRuns)
  }
}
