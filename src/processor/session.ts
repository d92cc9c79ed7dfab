/**
 * One membership of a processor in its consumer group: a consumer, a producer and the partition
 * processors of the partitions assigned to this instance, from join until stop or error.
 *
 * Per poll: records go to their partition processor one at a time; the messages they produced are
 * sent (pipelined, one send per partition); every `commitIntervalMs` the session waits for all sends
 * to be acknowledged, writes each partition's table changes and changelog offset to its store in one
 * transaction, and commits the input offsets. On assignment a partition is paused, its store opened
 * and recovered from the changelog in bulk, joined/lookup views awaited, then resumed. On
 * revocation it is stopped, flushed, committed and its store closed before the rebalance goes on.
 *
 * @example
 * ```ts
 * const session = new Session(host)
 * await session.run(signal) // returns on stop, throws on error (the processor decides to restart)
 * ```
 * @module
 */
import { whenAborted } from '../core/backoff.ts'
import { isTributaryError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Record, TopicPartition, TopicPartitionOffset } from '../core/record.ts'
import type { GroupConsumer, Log, LogProducer } from '../log/types.ts'
import type { GroupGraph } from './graph.ts'
import type { ResolvedProcessorOptions } from './options.ts'
import { PartitionProcessor, type PartitionEnv } from './partition-processor.ts'
import { recoverStores } from './table-reader.ts'
import type { View } from './view.ts'

/** What a session needs from its processor. */
export interface SessionHost {
  readonly log: Log
  readonly graph: GroupGraph
  readonly options: ResolvedProcessorOptions
  readonly logger: Logger
  /** Joined and lookup tables by topic. */
  readonly views: ReadonlyMap<string, View>
  /** All partitions recovered and running (or not). */
  ready(ready: boolean): void
  /** A commit went through (the processor resets its restart backoff). */
  committed(): void
}

const CLOSE_TIMEOUT_MS = 15_000

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms)
    }),
  ])
}

/** A consumer-group membership with its partition processors. */
export class Session {
  readonly partitions = new Map<number, PartitionProcessor>()
  readonly #host: SessionHost
  readonly #env: PartitionEnv
  #consumer: GroupConsumer | undefined
  #producer: LogProducer | undefined
  #inflight: Promise<unknown>[] = []
  #error: unknown
  #wake: AbortController | undefined
  #discard = false
  #joined = false
  #polls = 0
  #lastCommit = Date.now()
  #uncommitted = false
  readonly #recoveries = new Map<number, Promise<void>>()

  constructor(host: SessionHost) {
    this.#host = host
    const views = host.views
    this.#env = {
      nilHandling: host.options.nilHandling,
      badInput: host.options.badInput,
      logger: host.logger,
      tableRead: (table, key, partition) => views.get(table)?.getBytes(key, partition),
    }
  }

  /** Runs until `signal` aborts (then hands everything over cleanly) or an error (then throws it). */
  async run(signal: AbortSignal): Promise<void> {
    const { log, graph, options } = this.#host
    const producer = (this.#producer = log.producer({ partitioner: options.partitioner }))
    const consumer = (this.#consumer = log.consumer({
      groupId: graph.group,
      topics: graph.consumedTopics,
      assignment: 'range',
      autoOffsetReset: options.autoOffsetReset,
      sessionTimeoutMs: options.sessionTimeoutMs,
      maxPollRecords: options.maxPollRecords,
      clientId: options.clientId,
      onAssign: (tps) => this.#assign(tps),
      onRevoke: (tps) => this.#revoke(tps),
      onLost: (tps) => this.#lose(tps),
    }))
    const onAbort = (): void => this.#wake?.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      while (!signal.aborted) {
        this.#throwIfFailed()
        const wake = (this.#wake = new AbortController())
        const records = await consumer.poll({ timeoutMs: Math.min(250, options.commitIntervalMs), signal: wake.signal })
        this.#polls++
        this.#throwIfFailed()
        if (records.length > 0) {
          await this.#process(records)
          this.#uncommitted = true
        }
        this.#send()
        this.#reportReady()
        // Commit on the interval, and at once when caught up (an empty poll) with work pending.
        if (Date.now() - this.#lastCommit >= options.commitIntervalMs || (records.length === 0 && this.#uncommitted)) await this.#commit()
      }
      await this.#commit()
      await withTimeout(consumer.close(), CLOSE_TIMEOUT_MS)
    } catch (err) {
      this.#discard = true
      await withTimeout(consumer.close().catch(() => {}), CLOSE_TIMEOUT_MS)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.#discard = true
      await this.#closePartitions([...this.partitions.values()])
      await withTimeout(producer.close().catch(() => {}), CLOSE_TIMEOUT_MS)
    }
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error
  }

  #fail(err: unknown): void {
    this.#error ??= err
    this.#wake?.abort()
  }

  async #process(records: Record[]): Promise<void> {
    const consumer = this.#consumer as GroupConsumer
    let rewound: Set<string> | undefined
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      const pp = this.partitions.get(record.partition)
      if (pp === undefined || pp.state.state !== 'running') {
        // Fetched before the partition was paused for recovery: read it again once it runs.
        const key = `${record.topic}/${record.partition}`
        if (pp !== undefined && !(rewound ??= new Set()).has(key)) {
          rewound.add(key)
          consumer.seek({ topic: record.topic, partition: record.partition }, record.offset)
        }
        continue
      }
      const pending = pp.process(record)
      if (pending !== undefined) await pending
    }
  }

  /** Sends what the callbacks produced, one pipelined send per partition. */
  #send(): void {
    const producer = this.#producer as LogProducer
    for (const pp of this.partitions.values()) {
      if (!pp.hasOutputs) continue
      const sent = producer.send(pp.takeOutputs()).then((metadata) => pp.acknowledged(metadata))
      sent.catch((err: unknown) => this.#fail(err))
      this.#inflight.push(sent)
    }
  }

  /** Waits for every send, writes the stores, commits the input offsets. */
  async #commit(): Promise<void> {
    this.#send()
    const inflight = this.#inflight
    this.#inflight = []
    await Promise.all(inflight)
    // Partitions lost meanwhile (cut off from the group) are not owned any more: their table writes
    // and offsets are not committed; onLost drops them at the next poll.
    const owned = new Set((this.#consumer as GroupConsumer).assignment().map((tp) => tp.partition))
    const running = [...this.partitions.values()].filter((pp) => pp.state.state === 'running' && owned.has(pp.partition))
    for (const pp of running) pp.commitStore()
    const offsets = running.flatMap((pp) => pp.takeCommitOffsets())
    await this.#commitOffsets(offsets, running)
    this.#lastCommit = Date.now()
    this.#uncommitted = false
    this.#host.committed()
  }

  async #commitOffsets(offsets: TopicPartitionOffset[], pps: PartitionProcessor[]): Promise<void> {
    if (offsets.length === 0) return
    try {
      await (this.#consumer as GroupConsumer).commit(offsets)
      for (const pp of pps) pp.markCommitted(offsets)
      this.#host.options.onCommit(offsets)
    } catch (err) {
      // A rebalance took partitions away meanwhile: their inputs are processed again by the new owner.
      if (isTributaryError(err, 'TRIB_LOG_NOT_ASSIGNED') || isTributaryError(err, 'TRIB_LOG_REBALANCE_IN_PROGRESS')) {
        this.#host.logger.info({ err: err.message }, 'offset commit skipped during a rebalance')
        return
      }
      throw err
    }
  }

  #reportReady(): void {
    if (!this.#joined && (this.partitions.size > 0 || this.#polls >= 4)) this.#joined = true
    let ready = this.#joined
    for (const pp of this.partitions.values()) if (pp.state.state !== 'running') ready = false
    this.#host.ready(ready)
  }

  // ---- rebalances

  #assign(tps: TopicPartition[]): void {
    const { graph, options } = this.#host
    const fresh: PartitionProcessor[] = []
    for (const tp of tps) {
      if (this.partitions.has(tp.partition)) continue
      const pp = new PartitionProcessor(graph, tp.partition, this.#env)
      pp.state.set('recovering')
      this.partitions.set(tp.partition, pp)
      fresh.push(pp)
    }
    if (fresh.length === 0) return
    // Joined tables follow the assignment (goka restores only the assigned partitions of a join).
    // Revoked partitions stay replicated until the next assignment, which usually brings them back.
    const assigned = [...this.partitions.keys()]
    for (const edge of graph.joinTables) this.#host.views.get(edge.topic)?.replicate(assigned)
    const numbers = new Set(fresh.map((pp) => pp.partition))
    ;(this.#consumer as GroupConsumer).pause(tps.filter((tp) => numbers.has(tp.partition)))
    this.#joined = true
    this.#host.ready(false)
    options.onRebalance({ type: 'assigned', partitions: [...numbers].sort((a, b) => a - b) })
    this.#startRecovery(fresh, tps)
  }

  #startRecovery(pps: PartitionProcessor[], tps: TopicPartition[]): void {
    const task = this.#recover(pps, tps).catch((err: unknown) => {
      if (pps.every((pp) => pp.signal.aborted)) return
      this.#fail(err)
    })
    for (const pp of pps) this.#recoveries.set(pp.partition, task)
  }

  async #recover(pps: PartitionProcessor[], tps: TopicPartition[]): Promise<void> {
    const { log, graph, options, views } = this.#host
    const table = graph.groupTableEdge?.topic
    const live = (): PartitionProcessor[] => pps.filter((pp) => !pp.signal.aborted)
    if (table !== undefined) {
      // Opened side by side: verifying an existing LMDB store takes a child process each.
      await Promise.all(
        live().map(async (pp) => {
          const store = await options.storage({ topic: table, partition: pp.partition, role: 'processor' })
          if (pp.signal.aborted) await store.close()
          else pp.attach(store)
        }),
      )
      const targets = live().map((pp) => ({
        partition: pp.partition,
        store: pp.store as NonNullable<PartitionProcessor['store']>,
        progress: (next: number, range: { from: number; to: number }, records: number) => {
          const r = pp.stats.recovery
          if (r.startedAt === undefined) {
            r.startedAt = Date.now()
            r.startOffset = range.from
          }
          r.offset = next
          r.hwm = range.to
          r.records = records
        },
      }))
      const signal = AbortSignal.any(live().map((pp) => pp.signal))
      const reached = await recoverStores(log, table, targets, { signal, clientId: `${options.clientId}-recovery` })
      for (const pp of live()) pp.recovered(reached.get(pp.partition) ?? 0)
    }
    for (const pp of live()) {
      pp.state.set('waiting')
      pp.stats.recovery.finishedAt = Date.now()
    }
    if (views.size > 0) {
      const aborted = whenAborted(AbortSignal.any(pps.map((pp) => pp.signal)))
      await Promise.race([Promise.all([...views.values()].map((v) => v.waitRunning())), aborted])
    }
    const ready = live()
    for (const pp of ready) pp.state.set('running')
    const numbers = new Set(ready.map((pp) => pp.partition))
    if (numbers.size > 0) {
      ;(this.#consumer as GroupConsumer).resume(tps.filter((tp) => numbers.has(tp.partition)))
      this.#reportReady()
      this.#wake?.abort()
    }
  }

  async #revoke(tps: TopicPartition[]): Promise<void> {
    const pps = [...new Set(tps.map((tp) => tp.partition))].flatMap((p) => this.partitions.get(p) ?? [])
    if (pps.length === 0) return
    for (const pp of pps) pp.abort()
    this.#host.ready(false)
    if (!this.#discard && this.#error === undefined) {
      try {
        this.#send()
        await Promise.all(this.#inflight)
        const running = pps.filter((pp) => pp.state.state === 'running')
        for (const pp of running) pp.commitStore()
        await this.#commitOffsets(running.flatMap((pp) => pp.takeCommitOffsets()), running)
      } catch (err) {
        this.#fail(err)
      }
    }
    await this.#closePartitions(pps)
    this.#host.options.onRebalance({ type: 'revoked', partitions: pps.map((pp) => pp.partition).sort((a, b) => a - b) })
  }

  /**
   * The partitions were lost (session expired, removed from the group): another instance may own
   * them already, so nothing of them is committed — neither offsets nor table writes. Their
   * uncommitted work is dropped with the partition processors; if they come back, `#assign`
   * rebuilds them from the stores and the changelog like any new assignment.
   */
  async #lose(tps: TopicPartition[]): Promise<void> {
    const pps = [...new Set(tps.map((tp) => tp.partition))].flatMap((p) => this.partitions.get(p) ?? [])
    if (pps.length === 0) return
    this.#host.ready(false)
    this.#host.logger.warn({ partitions: pps.map((pp) => pp.partition) }, 'partitions lost: their uncommitted work is dropped, not committed')
    await this.#closePartitions(pps)
    this.#host.options.onRebalance({ type: 'lost', partitions: pps.map((pp) => pp.partition).sort((a, b) => a - b) })
  }

  async #closePartitions(pps: PartitionProcessor[]): Promise<void> {
    for (const pp of pps) pp.abort()
    for (const pp of pps) {
      await this.#recoveries.get(pp.partition)
      this.#recoveries.delete(pp.partition)
      pp.discard()
      await pp.close().catch((err: unknown) => this.#host.logger.warn({ err, partition: pp.partition }, 'closing a partition store failed'))
      if (this.partitions.get(pp.partition) === pp) this.partitions.delete(pp.partition)
    }
  }
}
