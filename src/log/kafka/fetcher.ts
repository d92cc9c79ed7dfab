/**
 * Fetching for one group consumer: our own positions per partition, prefetch, seek and pause.
 *
 * platformatic's `MessagesStream` has one position per partition that only moves forward and one
 * pause switch for the whole stream. Reopening streams on every `seek`/`pause` would throw away
 * prefetched data and refetch offsets, and the stream builds a heavier message object per record
 * (header `Map`, commit closure, diagnostics). So this class drives `Consumer.fetch()` (one Fetch
 * request per leader, with platformatic's incremental fetch sessions) and keeps, per partition:
 *
 * - `position`: the offset of the next record `drain` returns (what `position()` and `commit()` use);
 * - `fetchOffset`: the next offset to fetch (ahead of `position` by what is buffered);
 * - buffered chunks of converted records, and `paused`.
 *
 * One fetch per leader is in flight at a time; fetches are sent while the unpaused partitions hold
 * fewer than `prefetchRecords` buffered records in total (and each asks for at most
 * `partitionMaxBytes` per partition), so the next response is usually on its way while the caller
 * processes the previous poll, and memory stays bounded by about `prefetchRecords` plus one response. `seek` drops the partition's buffer and bumps its epoch so that a
 * response already in flight for the old offset is ignored. Paused partitions are left out of
 * fetch requests; their buffered records stay for `resume`. `OFFSET_OUT_OF_RANGE` resets the
 * partition to the earliest or latest offset (`autoOffsetReset`).
 *
 * @example
 * ```ts
 * const fetcher = new Fetcher({ client, pool, settings, autoOffsetReset: 'earliest', prefetchRecords: 10_000, onData: wake })
 * fetcher.assign([{ topic: 't', partition: 0, offset: 42 }])
 * fetcher.kick()
 * const records = fetcher.drain(500)
 * ```
 * @module
 */
import { FetchIsolationLevels, ListOffsetTimestamps, type Consumer, type ConnectionPool } from '@platformatic/kafka'
import { partitionKey, type Record, type TopicPartition } from '../../core/record.ts'
import { apiIds, describe } from './errors.ts'
import type { RawFetchResponse } from './raw-fetch.ts'
import { decodeRecordBatches } from './record-decoder.ts'
import type { KafkaSettings } from './settings.ts'

type FetchResponse = RawFetchResponse

/**
 * The usual prefetch: about two Fetch responses of small records (a response brings up to 1 MiB per
 * partition). Below that, the next Fetch is on its way while the caller works through the previous
 * response; with 10,000 the consumer bench sat idle a fifth of the time waiting for each response.
 */
export const PREFETCH_RECORDS = 50_000

/** A partition to start fetching, at `offset`, or (`offset` undefined) at the reset position. */
export interface StartPosition extends TopicPartition {
  readonly offset: number | undefined
}

/** Options of a {@link Fetcher}. */
export interface FetcherOptions {
  readonly client: Consumer
  /** Connections for Fetch requests only (a long-poll fetch holds its connection). */
  readonly pool: ConnectionPool
  readonly settings: KafkaSettings
  readonly autoOffsetReset: 'earliest' | 'latest'
  /** Fetches are sent while the unpaused partitions buffer fewer records than this, in total. */
  readonly prefetchRecords: number
  /** Called when records arrived or positions changed. */
  readonly onData: () => void
  /** Longest time the broker holds a Fetch with no data (ms). Default 500. */
  readonly maxWaitMs?: number
  /** Largest Fetch response (bytes). Default 50 MiB. */
  readonly maxBytes?: number
  /** Largest amount of one partition in one Fetch response (bytes). Default 1 MiB (the Java client's `max.partition.fetch.bytes`). */
  readonly partitionMaxBytes?: number
}

interface Chunk {
  readonly records: Record[]
  index: number
  /** The fetch position after this chunk (past control batches and compacted gaps). */
  readonly next: number
}

interface PartitionState {
  readonly topic: string
  readonly partition: number
  readonly key: string
  /** Next offset `drain` returns; -1 while unknown (being reset). */
  position: number
  /** Next offset to fetch; -1 while unknown. */
  fetchOffset: number
  chunks: Chunk[]
  buffered: number
  paused: boolean
  /** Bumped by seek/reset/remove: responses for an older epoch are dropped. */
  epoch: number
  /** No fetches before this time (after an error). */
  backoffUntil: number
  resetting: boolean
}

interface RequestedPartition {
  readonly state: PartitionState
  readonly epoch: number
  readonly fetchOffset: number
}

/** Positions, buffers and the fetch loop of one consumer. */
export class Fetcher {
  readonly #o: FetcherOptions
  readonly #states = new Map<string, PartitionState>()
  #order: PartitionState[] = []
  #cursor = 0
  readonly #inflight = new Set<number>()
  #planning = false
  #replan = false
  #closed = false
  #failures = 0

  constructor(options: FetcherOptions) {
    this.#o = options
  }

  /** Replaces the assigned partitions with `positions` (buffers of other partitions are dropped). */
  assign(positions: readonly StartPosition[]): void {
    for (const state of this.#states.values()) state.epoch++
    this.#states.clear()
    const toReset: PartitionState[] = []
    for (const p of positions) {
      const key = partitionKey(p.topic, p.partition)
      const known = p.offset !== undefined && p.offset >= 0
      const state: PartitionState = {
        topic: p.topic,
        partition: p.partition,
        key,
        position: known ? (p.offset as number) : -1,
        fetchOffset: known ? (p.offset as number) : -1,
        chunks: [],
        buffered: 0,
        paused: false,
        epoch: 0,
        backoffUntil: 0,
        resetting: false,
      }
      this.#states.set(key, state)
      if (!known) toReset.push(state)
    }
    this.#order = [...this.#states.values()]
    this.#cursor = 0
    if (toReset.length > 0) void this.#reset(toReset)
  }

  /** Drops every partition (after a revoke). */
  clear(): void {
    this.assign([])
  }

  /** The next offset `drain` returns for the partition, if assigned and known. */
  position(tp: TopicPartition): number | undefined {
    const state = this.#states.get(partitionKey(tp.topic, tp.partition))
    return state === undefined || state.position < 0 ? undefined : state.position
  }

  /** Moves a partition's position; the next `drain` returns records from `offset`. */
  seek(tp: TopicPartition, offset: number): void {
    const state = this.#states.get(partitionKey(tp.topic, tp.partition))
    if (state === undefined) return
    state.epoch++
    state.position = offset
    state.fetchOffset = offset
    state.chunks = []
    state.buffered = 0
    state.resetting = false
    state.backoffUntil = 0
    this.kick()
  }

  pause(tp: TopicPartition): void {
    const state = this.#states.get(partitionKey(tp.topic, tp.partition))
    if (state !== undefined) state.paused = true
  }

  resume(tp: TopicPartition): void {
    const state = this.#states.get(partitionKey(tp.topic, tp.partition))
    if (state !== undefined && state.paused) {
      state.paused = false
      this.kick()
    }
  }

  /** Takes up to `max` buffered records, fairly across unpaused partitions, in offset order per partition. */
  drain(max: number): Record[] {
    const order = this.#order
    const n = order.length
    let out: Record[] = []
    if (n === 0) return out
    const start = this.#cursor % n
    this.#cursor = start + 1
    for (let k = 0; k < n && out.length < max; k++) {
      const state = order[(start + k) % n]
      if (state.paused || state.chunks.length === 0) continue
      while (state.chunks.length > 0 && out.length < max) {
        const chunk = state.chunks[0]
        const records = chunk.records
        const take = Math.min(records.length - chunk.index, max - out.length)
        if (take > 0) {
          if (chunk.index === 0 && take === records.length && out.length === 0) {
            // A whole chunk first: hand its array over (it is dropped from the buffer below) instead of copying.
            out = records
          } else {
            for (let i = chunk.index, end = chunk.index + take; i < end; i++) out.push(records[i])
          }
          chunk.index += take
          state.buffered -= take
          state.position = records[chunk.index - 1].offset + 1
        }
        if (chunk.index >= records.length) {
          state.chunks.shift()
          if (chunk.next > state.position) state.position = chunk.next
        }
      }
    }
    if (out.length > 0) this.kick()
    return out
  }

  /** Sends fetches for every leader without one in flight (when there is a fetchable partition). */
  kick(): void {
    if (this.#closed) return
    if (this.#planning) {
      this.#replan = true
      return
    }
    this.#planning = true
    this.#plan()
      .catch((err: unknown) => {
        this.#failures++
        const level = this.#failures === 1 || this.#failures % 20 === 0 ? 'warn' : 'debug'
        this.#o.settings.logger[level]({ err: describe(err), failures: this.#failures }, 'planning a fetch failed; retrying')
        this.#backoffAll()
      })
      .finally(() => {
        this.#planning = false
        if (this.#replan) {
          this.#replan = false
          this.kick()
        }
      })
  }

  close(): void {
    this.#closed = true
    for (const state of this.#states.values()) state.epoch++
    this.#states.clear()
    this.#order = []
  }

  async #plan(): Promise<void> {
    const now = Date.now()
    const fetchable: PartitionState[] = []
    // Buffer at most about `prefetchRecords` records (plus one response) over all unpaused partitions,
    // not per partition: records are large objects, and a response can bring `partitionMaxBytes` per partition.
    let buffered = 0
    for (const state of this.#order) if (!state.paused) buffered += state.buffered
    if (buffered >= this.#o.prefetchRecords) return
    for (const state of this.#order) {
      if (!state.paused && !state.resetting && state.fetchOffset >= 0 && state.buffered < this.#o.prefetchRecords && state.backoffUntil <= now) {
        fetchable.push(state)
      }
    }
    if (fetchable.length === 0) {
      this.#scheduleBackoffWake(now)
      return
    }
    const topics = [...new Set(fetchable.map((s) => s.topic))]
    const metadata = await this.#o.client.metadata({ topics })
    const byNode = new Map<number, Map<string, RequestedPartition[]>>()
    for (const state of fetchable) {
      const topicMeta = metadata.topics.get(state.topic)
      const leader = topicMeta?.partitions[state.partition]?.leader ?? -1
      if (topicMeta === undefined || leader < 0) {
        state.backoffUntil = now + 200
        this.#o.client.clearMetadata()
        continue
      }
      if (this.#inflight.has(leader)) continue
      let topicsOfNode = byNode.get(leader)
      if (!topicsOfNode) {
        topicsOfNode = new Map()
        byNode.set(leader, topicsOfNode)
      }
      const list = topicsOfNode.get(topicMeta.id) ?? []
      list.push({ state, epoch: state.epoch, fetchOffset: state.fetchOffset })
      topicsOfNode.set(topicMeta.id, list)
    }
    for (const [node, topicsOfNode] of byNode) this.#fetch(node, topicsOfNode)
    this.#scheduleBackoffWake(now)
  }

  #fetch(node: number, topicsOfNode: Map<string, RequestedPartition[]>): void {
    const partitionMaxBytes = this.#o.partitionMaxBytes ?? 1024 * 1024
    const requested = new Map<string, RequestedPartition>()
    const topics = [...topicsOfNode].map(([topicId, list]) => ({
      topicId,
      partitions: list.map((r) => {
        requested.set(r.state.key, r)
        return { partition: r.state.partition, fetchOffset: BigInt(r.fetchOffset), partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }
      }),
    }))
    this.#inflight.add(node)
    this.#o.client.fetch(
      {
        node,
        topics,
        minBytes: 1,
        maxBytes: this.#o.maxBytes ?? 50 * 1024 * 1024,
        maxWaitTime: this.#o.maxWaitMs ?? 500,
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        connectionPool: this.#o.pool,
      },
      // useRawRecordFetch (polling.ts) makes the client answer with raw-record responses.
      ((err: Error | null, response?: FetchResponse) => {
        this.#inflight.delete(node)
        if (this.#closed) return
        let got = false
        try {
          if (err) {
            const partial = (err as { response?: FetchResponse }).response
            if (partial?.responses) got = this.#ingest(partial, requested, topicsOfNode)
            else this.#onFetchError(err, requested)
          } else if (response) {
            got = this.#ingest(response, requested, topicsOfNode)
            this.#failures = 0
          }
        } catch (error) {
          this.#o.settings.logger.error({ err: error }, 'processing a fetch response failed')
          this.#onFetchError(error, requested)
        }
        if (got) this.#o.onData()
        this.kick()
      }) as never,
    )
  }

  /** Converts a fetch response into buffered records. Returns true when something became available. */
  #ingest(response: FetchResponse, requested: Map<string, RequestedPartition>, topicsOfNode: Map<string, RequestedPartition[]>): boolean {
    let got = false
    const toReset: PartitionState[] = []
    for (const topicResponse of response.responses) {
      const list = topicsOfNode.get(topicResponse.topicId)
      const topic = list?.[0]?.state.topic
      if (topic === undefined) continue
      for (const p of topicResponse.partitions) {
        const req = requested.get(partitionKey(topic, p.partitionIndex))
        if (req === undefined) continue
        const state = req.state
        if (state.epoch !== req.epoch || state.fetchOffset !== req.fetchOffset || this.#states.get(state.key) !== state) continue
        if (p.errorCode !== 0) {
          if (p.errorCode === 1 /* OFFSET_OUT_OF_RANGE */) {
            toReset.push(state)
          } else {
            state.backoffUntil = Date.now() + 500
            this.#o.client.clearMetadata()
            this.#o.settings.logger.debug({ topic, partition: p.partitionIndex, errorCode: p.errorCode }, 'fetch error on partition')
          }
          continue
        }
        if (p.recordBytes === null) continue
        const fetchOffset = req.fetchOffset
        const { records, next } = decodeRecordBatches(p.recordBytes, topic, p.partitionIndex, fetchOffset, p.abortedTransactions)
        if (next <= fetchOffset) continue
        state.fetchOffset = next
        if (records.length > 0) {
          state.chunks.push({ records, index: 0, next })
          state.buffered += records.length
          got = true
        } else if (state.chunks.length === 0 && state.position === fetchOffset) {
          // Only control records or a compacted gap: move on without returning anything.
          state.position = next
        } else {
          state.chunks.push({ records, index: 0, next })
        }
      }
    }
    if (toReset.length > 0) void this.#reset(toReset)
    return got
  }

  #onFetchError(err: unknown, requested: Map<string, RequestedPartition>): void {
    this.#failures++
    const backoff = Math.min(100 * 2 ** Math.min(this.#failures, 5), 2_000)
    const until = Date.now() + backoff
    for (const { state } of requested.values()) state.backoffUntil = until
    this.#o.client.clearMetadata()
    const level = this.#failures === 4 || this.#failures % 20 === 0 ? 'warn' : 'debug'
    this.#o.settings.logger[level]({ err: describe(err), kafkaErrors: [...apiIds(err)], backoff }, 'fetch failed; retrying')
  }

  #backoffAll(): void {
    const until = Date.now() + Math.min(100 * 2 ** Math.min(this.#failures, 5), 2_000)
    for (const state of this.#states.values()) state.backoffUntil = until
    this.#scheduleBackoffWake(Date.now())
  }

  #wakeTimer: NodeJS.Timeout | undefined

  /** When partitions wait out a backoff, plans again once the earliest one expires. */
  #scheduleBackoffWake(now: number): void {
    let earliest = Infinity
    for (const state of this.#states.values()) if (state.backoffUntil > now && state.backoffUntil < earliest) earliest = state.backoffUntil
    if (earliest === Infinity || this.#wakeTimer !== undefined) return
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined
      this.kick()
    }, earliest - now)
    this.#wakeTimer.unref()
  }

  /** Looks up the reset offset (earliest or latest) of partitions without a valid position. */
  async #reset(states: PartitionState[]): Promise<void> {
    const pending = states.filter((s) => !s.resetting)
    if (pending.length === 0) return
    for (const s of pending) {
      s.resetting = true
      s.epoch++
      s.chunks = []
      s.buffered = 0
    }
    const epochs = new Map(pending.map((s) => [s, s.epoch]))
    const partitions: { [topic: string]: number[] } = {}
    for (const s of pending) (partitions[s.topic] ??= []).push(s.partition)
    const timestamp = this.#o.autoOffsetReset === 'latest' ? ListOffsetTimestamps.LATEST : ListOffsetTimestamps.EARLIEST
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const offsets = await this.#o.client.listOffsets({ topics: Object.keys(partitions), partitions, timestamp })
        for (const s of pending) {
          if (epochs.get(s) !== s.epoch || this.#states.get(s.key) !== s) continue
          const offset = offsets.get(s.topic)?.[s.partition]
          if (offset === undefined) continue
          s.position = Number(offset)
          s.fetchOffset = Number(offset)
          s.resetting = false
        }
        this.#o.onData()
        this.kick()
        return
      } catch (err) {
        if (pending.every((s) => epochs.get(s) !== s.epoch || this.#states.get(s.key) !== s)) return
        this.#o.settings.logger[attempt > 3 ? 'warn' : 'debug']({ err: describe(err) }, 'looking up reset offsets failed; retrying')
        this.#o.client.clearMetadata()
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 2_000)))
      }
    }
  }
}
