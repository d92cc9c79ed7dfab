/**
 * The worker: reads batches from one source and runs them through a graph of processor and
 * destination tasks (Conduit's funnel `Worker`), acknowledging source positions in order.
 *
 * A batch goes through the tasks in sequence. Untainted, it moves on whole. Tainted (a nack or a
 * retry), it is cut into runs handled **in order**: an ack run moves on (and is acked at the source
 * once every destination has it), a nack run goes to the DLQ and is then acked, a retry run is reset
 * and run again on the same task (bounded by `maxRetryAttempts` and `maxRetryStall`). So for
 * `[a, b, c✗, d, e]` the source hears `a, b`, then `c` is written to the DLQ and acked, and only then
 * do `d, e` go on. The graph may fan out: after the shared processors, each branch (its own
 * processors, then a destination) gets its own copy of the batch; a position is acked when every
 * branch is done with it.
 *
 * `stop()` lets the batch in flight finish, then tears the source down; `abort()` also cancels the
 * writes in progress. `close()` tears down everything else.
 *
 * @example
 * ```ts
 * const worker = new Worker({ source: new SourceTask('p:src', source), graph: [{ task: new DestinationTask('p:dst', dest), next: [] }], dlq })
 * await worker.open()
 * const done = worker.run()
 * // ...
 * await worker.stop(); await done; await worker.close()
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import { Batch } from './batch.ts'
import type { DeadLetterQueue } from './dlq.ts'
import { asError } from './fatal.ts'
import { cloneRecord, type PipelineRecord } from './record.ts'
import { DestinationTask, ProcessorTask, type SourceTask } from './tasks.ts'

/** A node of the task graph: a processor or destination task and what follows it. */
export interface TaskNode {
  readonly task: ProcessorTask | DestinationTask
  readonly next: readonly TaskNode[]
}

/** The counters of a running pipeline. */
export interface PipelineCounters {
  /** Records read from the source. */
  read: number
  /** Records acknowledged by destinations without error (summed over destinations). */
  written: number
  /** Records filtered out by processors. */
  filtered: number
  /** Records nacked (by a processor or destination). */
  nacked: number
  /** Records written to the DLQ. */
  dlq: number
  /** Source positions acknowledged. */
  acked: number
  /** Source positions read and not yet acknowledged. */
  inFlight: number
}

/** A fresh set of zero counters. */
export function newCounters(): PipelineCounters {
  return { read: 0, written: 0, filtered: 0, nacked: 0, dlq: 0, acked: 0, inFlight: 0 }
}

/** Hooks for metrics; every call is per batch, never per record. */
export interface WorkerObserver {
  sourceRead?(task: SourceTask, records: readonly PipelineRecord[], seconds: number): void
  processed?(task: ProcessorTask, records: number, seconds: number): void
  /**
   * A destination wrote `records`. `asRead` is true when they are exactly the batch `sourceRead` saw
   * (the same record objects, all of them, no processor on the way), so per-batch figures taken
   * there still hold.
   */
  written?(task: DestinationTask, records: readonly PipelineRecord[], seconds: number, asRead?: boolean): void
  dlqWritten?(records: number, seconds: number): void
  /** Positions acknowledged at the source; `seconds` since the batch was read. */
  acked?(positions: number, seconds: number): void
}

/** Options of a {@link Worker}. */
export interface WorkerOptions {
  source: SourceTask
  /** The nodes the source feeds (one per branch when it fans out). */
  graph: readonly TaskNode[]
  dlq: DeadLetterQueue
  counters?: PipelineCounters
  observer?: WorkerObserver
  /** Called after each source ack with the last position acknowledged. */
  onAck?: (position: Buffer) => void
  /** Retries of one run on one task before `TRIB_PIPELINE_RETRY` (default 10000, as Conduit). */
  maxRetryAttempts?: number
  /** Retries in a row that make no progress before `TRIB_PIPELINE_RETRY` (default 3, as Conduit). */
  maxRetryStall?: number
  /** Read the next batch while the current one is processed (default true). */
  readAhead?: boolean
}

interface Node {
  readonly task: ProcessorTask | DestinationTask
  readonly next: readonly Node[]
  /** Branch (destination) indexes reachable from here. */
  readonly leaves: readonly number[]
  /** True when a processor below may change records shared with other branches. */
  readonly hasProcessors: boolean
}

/** Per read batch: its positions and how far each branch got. */
interface Tracker {
  readonly positions: Buffer[]
  readonly done: number[]
  acked: number
  readonly readAt: number
}

interface RetryState {
  attempts: number
  stalls: number
  lastLength: number
}

type ReadResult = { records: PipelineRecord[]; error?: undefined } | { records?: undefined; error: unknown }

/** Runs one source's records through the task graph. */
export class Worker {
  readonly source: SourceTask
  readonly dlq: DeadLetterQueue
  readonly counters: PipelineCounters
  readonly #graph: readonly Node[]
  readonly #tasks: (ProcessorTask | DestinationTask)[] = []
  readonly #leafCount: number
  /** True when some branch has processors (records may change between source and destination). */
  readonly #hasProcessors: boolean
  readonly #observer: WorkerObserver | undefined
  readonly #onAck: ((position: Buffer) => void) | undefined
  readonly #maxAttempts: number
  readonly #maxStall: number
  readonly #readAhead: boolean
  readonly #readController = new AbortController()
  readonly #writeController = new AbortController()
  #stopping = false
  #running: Promise<void> | undefined
  #sourceDown = false
  #closed = false
  #opened: { source: boolean; tasks: Set<ProcessorTask | DestinationTask>; dlq: boolean } = { source: false, tasks: new Set(), dlq: false }
  #ackChain: Promise<void> = Promise.resolve()
  #ackError: { error: unknown } | undefined

  constructor(options: WorkerOptions) {
    this.source = options.source
    this.dlq = options.dlq
    this.counters = options.counters ?? newCounters()
    this.#observer = options.observer
    this.#onAck = options.onAck
    this.#maxAttempts = options.maxRetryAttempts ?? 10_000
    this.#maxStall = options.maxRetryStall ?? 3
    this.#readAhead = options.readAhead ?? true
    let leaves = 0
    const ids = new Set<string>([this.source.id])
    const build = (node: TaskNode): Node => {
      if (ids.has(node.task.id)) throw new TributaryError('TRIB_INVALID_ARGUMENT', `task id ${node.task.id} is used twice in the pipeline graph`)
      ids.add(node.task.id)
      this.#tasks.push(node.task)
      node.task.counters = this.counters
      if (node.task instanceof DestinationTask) {
        if (node.next.length > 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', `destination ${node.task.id} must be the last task of its branch`)
        return { task: node.task, next: [], leaves: [leaves++], hasProcessors: false }
      }
      if (node.next.length === 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', `processor ${node.task.id} must be followed by a destination`)
      const next = node.next.map(build)
      return { task: node.task, next, leaves: next.flatMap((n) => n.leaves), hasProcessors: true }
    }
    if (options.graph.length === 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', 'a pipeline needs at least one destination')
    this.#graph = options.graph.map(build)
    this.#leafCount = leaves
    this.#hasProcessors = this.#graph.some((n) => n.hasProcessors)
  }

  /** Opens the source, every task and the DLQ. On failure, what was opened is torn down again by `close()`. */
  async open(signal: AbortSignal = this.#writeController.signal): Promise<void> {
    await this.dlq.open(signal)
    this.#opened.dlq = true
    for (const task of this.#tasks) {
      await task.open(signal)
      this.#opened.tasks.add(task)
    }
    await this.source.open(signal)
    this.#opened.source = true
  }

  /** Reads and processes batches until `stop()`; rejects with the error that stopped it. */
  run(): Promise<void> {
    this.#running ??= this.#loop()
    return this.#running
  }

  /** Finishes the batch in flight, then tears the source down. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#readController.abort()
    await this.#running?.catch(() => {})
    await this.#teardownSource()
  }

  /** Stops without waiting for the writes in flight (they see an aborted signal). */
  async abort(): Promise<void> {
    this.#writeController.abort()
    await this.stop()
  }

  /** Tears down the source (if still up), the tasks and the DLQ. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stopping = true
    this.#readController.abort()
    await this.#running?.catch(() => {})
    const errors: unknown[] = []
    await this.#teardownSource().catch((err) => errors.push(err))
    for (const task of this.#opened.tasks) await task.close().catch((err) => errors.push(err))
    if (this.#opened.dlq) await this.dlq.close().catch((err) => errors.push(err))
    this.counters.inFlight = 0
    if (errors.length > 0) throw asError(errors[0])
  }

  async #teardownSource(): Promise<void> {
    if (this.#sourceDown || !this.#opened.source) return
    this.#sourceDown = true
    await this.source.teardown()
  }

  #read(): Promise<ReadResult> {
    const started = performance.now()
    return this.source.read(this.#readController.signal).then(
      (records) => {
        if (records.length > 0) this.#observer?.sourceRead?.(this.source, records, (performance.now() - started) / 1000)
        return { records }
      },
      (error: unknown) => ({ error }),
    )
  }

  async #loop(): Promise<void> {
    let next: Promise<ReadResult> | undefined = this.#read()
    // The last ack of a batch is not awaited by the batch: the source commits it while the next
    // batch is written. At most two batches' acks are outstanding; all are awaited before run() ends.
    let ackedBefore: Promise<void> = Promise.resolve()
    try {
      while (!this.#stopping) {
        const result: ReadResult = await (next ?? this.#read())
        next = undefined
        if (result.records === undefined) {
          if (this.#stopping) break
          throw result.error
        }
        const records = result.records
        if (records.length === 0) {
          if (this.#stopping) break
          await new Promise((resolve) => setTimeout(resolve, 5)) // a source that answers [] without waiting
          continue
        }
        if (this.#stopping) break // read after stop: not processed, not acked
        if (this.#readAhead) next = this.#read()
        await ackedBefore
        this.#throwAckError()
        const previous = this.#ackChain
        await this.#process(records)
        ackedBefore = previous
        this.#throwAckError()
      }
    } finally {
      // A read-ahead still pending sees the aborted signal; its records (if any) are not acked.
      next?.catch(() => {})
      await this.#ackChain.catch(() => {})
    }
    this.#throwAckError()
  }

  #throwAckError(): void {
    if (this.#ackError) throw this.#ackError.error
  }

  async #process(records: PipelineRecord[]): Promise<void> {
    const batch = Batch.fromRecords(records)
    this.counters.read += records.length
    this.counters.inFlight += records.length
    const tracker: Tracker = { positions: batch.positions.slice(), done: new Array(this.#leafCount).fill(0), acked: 0, readAt: performance.now() }
    await this.#forward(this.#graph, batch, tracker)
  }

  /** Sends an ack run on to `nodes` (one, or a fan-out). */
  async #forward(nodes: readonly Node[], batch: Batch, tracker: Tracker): Promise<void> {
    if (nodes.length === 1) return this.#exec(nodes[0], batch, tracker, undefined)
    const results = await Promise.allSettled(nodes.map((node) => this.#exec(node, batch.fork(node.hasProcessors ? cloneRecord : undefined), tracker, undefined)))
    for (const r of results) if (r.status === 'rejected') throw r.reason
  }

  async #exec(node: Node, batch: Batch, tracker: Tracker, retry: RetryState | undefined): Promise<void> {
    const started = performance.now()
    await node.task.do(batch, this.#writeController.signal)
    const seconds = (performance.now() - started) / 1000
    if (node.task instanceof DestinationTask) this.#observer?.written?.(node.task, batch.records, seconds, !this.#hasProcessors && !retry && batch.length === tracker.positions.length)
    else this.#observer?.processed?.(node.task, batch.length, seconds)
    if (!batch.tainted) return this.#after(node, batch, tracker)
    for (const run of batch.runs()) {
      if (run.kind === 'ack') await this.#after(node, run, tracker)
      else if (run.kind === 'nack') await this.#nack(node, run, tracker)
      else await this.#exec(node, run, tracker, this.#nextRetry(node, run, retry))
    }
  }

  /** What follows an ack run at `node`: the next tasks, or (after a destination) completion of its branch. */
  #after(node: Node, run: Batch, tracker: Tracker): Promise<void> {
    if (node.next.length > 0) return this.#forward(node.next, run, tracker)
    this.dlq.ack(run.length)
    return this.#complete(tracker, node.leaves, run.sourcePositionCount())
  }

  async #nack(node: Node, run: Batch, tracker: Tracker): Promise<void> {
    this.counters.nacked += run.length
    const started = performance.now()
    const { written, error } = await this.dlq.write(run, this.#writeController.signal)
    this.counters.dlq += written
    if (written > 0) this.#observer?.dlqWritten?.(written, (performance.now() - started) / 1000)
    let positions = 0
    for (let slot = 0; slot < written; slot++) if (run.positions[slot].length > 0) positions++
    // A nacked piece of a split record: its position is carried by the last piece; if a later piece
    // was not written, the prefix's positions exclude it.
    await this.#complete(tracker, node.leaves, positions)
    if (error) throw error
  }

  #nextRetry(node: Node, run: Batch, previous: RetryState | undefined): RetryState {
    const state = previous ?? { attempts: 0, stalls: 0, lastLength: Number.POSITIVE_INFINITY }
    state.attempts++
    state.stalls = run.length >= state.lastLength ? state.stalls + 1 : 0
    state.lastLength = run.length
    if (state.attempts > this.#maxAttempts) {
      throw new TributaryError('TRIB_PIPELINE_RETRY', `${node.task.id}: ${run.length} record(s) still marked retry after ${this.#maxAttempts} attempts`, { retriable: true })
    }
    if (state.stalls > this.#maxStall) {
      throw new TributaryError('TRIB_PIPELINE_RETRY', `${node.task.id}: retrying ${run.length} record(s) made no progress ${state.stalls} times in a row (limit ${this.#maxStall})`, { retriable: true })
    }
    return state
  }

  /** `count` more positions of the batch are done in each of `leaves`; acks the prefix every branch is done with. */
  #complete(tracker: Tracker, leaves: readonly number[], count: number): Promise<void> {
    if (count === 0) return Promise.resolve()
    for (const leaf of leaves) tracker.done[leaf] += count
    let min = tracker.done[0]
    for (let i = 1; i < tracker.done.length; i++) if (tracker.done[i] < min) min = tracker.done[i]
    if (min <= tracker.acked) return Promise.resolve()
    const from = tracker.acked
    tracker.acked = min
    // Source positions are never empty (SourceTask checks); split pieces only add slots, not positions.
    const positions = from === 0 && min === tracker.positions.length ? tracker.positions : tracker.positions.slice(from, min)
    const chain = this.#ackChain.then(async () => {
      if (this.#ackError) return
      await this.source.ack(positions)
      this.counters.acked += positions.length
      this.counters.inFlight -= positions.length
      this.#observer?.acked?.(positions.length, (performance.now() - tracker.readAt) / 1000)
      this.#onAck?.(positions[positions.length - 1])
    })
    this.#ackChain = chain.catch((error: unknown) => {
      this.#ackError ??= { error }
    })
    // The ack that completes the batch is awaited by the loop (later); one inside a batch is awaited
    // here, so that what follows (a DLQ write, the next run) comes after it, as in Conduit.
    return min === tracker.positions.length ? Promise.resolve() : chain
  }
}
