/**
 * The pipelined, idempotent sender behind the Kafka producer: per-partition record batches, up to
 * `maxInFlightRequests` Produce requests in flight per broker, and retries that keep order.
 *
 * How records travel:
 * 1. {@link Sender.append} adds a record to its partition's open batch. A batch is sealed when the
 *    next record would take it past `batchSize`, when it has waited `lingerMs`, or on flush; sealing
 *    gives it the partition's next sequence numbers (Kafka's idempotence: the broker writes a
 *    batch only if its first sequence follows the last one it wrote for this producer id).
 * 2. The drain takes, per broker, the first sealed batch of each partition the broker leads (one
 *    batch per partition per request, as the protocol wants) into a Produce request, while fewer
 *    than `maxInFlightRequests` requests are in flight on that broker's connection. One connection
 *    per broker and the broker's in-order handling keep each partition's batches in order.
 * 3. A response acknowledges batches (offsets = base offset + index) or fails them:
 *    - retriable errors (leader moved, connection lost, timeouts): the batch goes back to the front
 *      of its partition's queue in sequence order, with the same sequence numbers. Its partition
 *      sends nothing more until every earlier request came back, so the broker sees the sequences
 *      in order again; batches behind it get OUT_OF_ORDER_SEQUENCE_NUMBER and are retried likewise.
 *      A batch the broker had already written comes back acknowledged with its original offset.
 *    - errors retrying cannot fix (record too large, not authorised): the batch fails, the
 *      sequences of the partition's later batches move down by its record count (the broker never
 *      took it), and those later batches, refused as out of order, are resent with them.
 *    - OUT_OF_ORDER_SEQUENCE_NUMBER with no earlier failure, UNKNOWN_PRODUCER_ID, or a batch that
 *      timed out after being sent (written or not, nobody knows): the producer takes a new producer
 *      id once nothing is in flight and renumbers every unacknowledged batch from 0, as Java's
 *      producer bumps its epoch. Only the first of these fails its batch; the others are resent.
 *    - DUPLICATE_SEQUENCE_NUMBER: written before (Java counts it as success); offsets unknown (-1).
 * 4. A batch not acknowledged within `deliveryTimeoutMs` of its first record fails.
 *
 * @example
 * ```ts
 * const sender = new Sender(settings, pool, metadataClient, { batchSize: 16_384, lingerMs: 0, maxInFlightRequests: 5, deliveryTimeoutMs: 120_000 })
 * sender.append('clicks', 0, { key, value }, owner, 0)
 * ```
 * @module
 */
import { ProtocolError, type Base, type Connection, type ConnectionPool } from '@platformatic/kafka'
import { Counter } from 'prom-client'
import { TributaryError } from '../../core/errors.ts'
import { metric, metricsRegistry } from '../../core/metrics.ts'
import type { RecordMetadata } from '../../core/record.ts'
import { describe, isRetriable, toTributaryError } from './errors.ts'
import { lookupTopics } from './metadata.ts'
import { encodeProduceRequest, parseProduceResponse, PRODUCE_MAX_VERSION, PRODUCE_MIN_VERSION, type ProduceResponse, type TopicRecords } from './produce-request.ts'
import { encodeRecordBatch, type BatchMessage } from './record-batch.ts'
import { callApi, getApi } from './rpc.ts'
import type { KafkaSettings } from './settings.ts'

/** Bytes a record costs in a batch beyond key, value and headers (length, attributes, deltas). */
export const RECORD_OVERHEAD = 24
/** Bytes of a record batch's header. */
const BATCH_OVERHEAD = 61
/**
 * Upper bound of one Produce request's record bytes (a single larger batch still goes, alone): four
 * partitions' full batches of the default size fit. The broker takes requests up to
 * `socket.request.max.bytes` (100 MiB by default); memory is bounded by the producer's buffer.
 */
const MAX_REQUEST_RECORD_BYTES = 4 * 1024 * 1024 + 4096
const PRODUCE_KEY = 0
const ACKS_ALL = -1
/** How long metadata is trusted before a send looks again (new partitions, moved leaders). */
const METADATA_MAX_AGE_MS = 5_000

/** Error codes of the Produce response that the sender treats specially. */
const NONE = 0
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45
const DUPLICATE_SEQUENCE_NUMBER = 46
const UNKNOWN_PRODUCER_ID = 59

const retriedBatches = metric(
  'tributary_kafka_producer_retried_batches_total',
  () =>
    new Counter({
      name: 'tributary_kafka_producer_retried_batches_total',
      help: 'Record batches Kafka producers of this process sent again (same sequence numbers) after a retriable failure',
      registers: [metricsRegistry],
    }),
)

/** Settings of a {@link Sender}. */
export interface SenderOptions {
  readonly batchSize: number
  readonly lingerMs: number
  readonly maxInFlightRequests: number
  readonly deliveryTimeoutMs: number
}

/**
 * Whoever waits for records: told once per record, in no particular order, that it was written
 * (with its offset) or failed.
 */
export interface RecordOwner {
  acknowledged(index: number, meta: RecordMetadata): void
  failed(index: number, error: TributaryError): void
}

/** What the sender knows of a topic: partitions and their leaders. */
export interface TopicInfo {
  readonly partitionsCount: number
  readonly leaders: readonly number[]
  readonly fetchedAt: number
}

interface Batch {
  readonly tp: PartitionState
  readonly messages: BatchMessage[]
  readonly owners: RecordOwner[]
  readonly indices: number[]
  bytes: number
  /** First sequence number; -1 until sealed. */
  sequence: number
  readonly created: number
  attempts: number
  retryAt: number
  /** Sent at least once: the broker may have written it. */
  sent: boolean
  lastError: TributaryError | undefined
  /** Flushes waiting for this batch. */
  waiters: (() => void)[] | undefined
}

interface PartitionState {
  readonly topic: string
  readonly partition: number
  nextSequence: number
  open: Batch | undefined
  /** Sealed batches waiting to be sent (or resent), in sequence order. */
  readonly queue: Batch[]
  /** Sent batches waiting for their response, in sequence order. */
  readonly inflight: Batch[]
  /** The broker the in-flight batches went to. */
  node: number
  /** A batch of this partition failed: later ones may come back out of order and are resent. */
  recovering: boolean
  /**
   * The broker acknowledged a batch of this producer id here. Until it has, only one batch is in
   * flight: a broker without state for the producer accepts any first sequence, so a later batch
   * could be written before an earlier one that failed (say, the leader was not ready yet).
   */
  confirmed: boolean
}

interface NodeState {
  inflight: number
  connecting: boolean
  retryAt: number
}

/** The pipelined idempotent sender. One per producer. */
export class Sender {
  readonly #settings: KafkaSettings
  readonly #pool: ConnectionPool
  readonly #client: Base
  readonly #options: SenderOptions
  readonly #partitions = new Map<string, PartitionState[]>()
  /** The partition of the last append (records of a call often go to few partitions in runs). */
  #lastPartition: PartitionState | undefined
  /** Partitions with sealed batches or an open one, in no order. */
  readonly #active = new Set<PartitionState>()
  readonly #topics = new Map<string, TopicInfo>()
  readonly #brokers = new Map<number, { host: string; port: number }>()
  readonly #nodes = new Map<number, NodeState>()
  #producerId: bigint | undefined
  #producerEpoch = 0
  #produceVersion = 0
  /** Set while a new producer id is needed: nothing is sent until it is there. */
  #resetPending = false
  #resetting = false
  #initializing: Promise<void> | undefined
  #flushing = 0
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity
  #immediate: NodeJS.Immediate | undefined
  #refreshing: Promise<void> | undefined
  /** Batches not yet acknowledged or failed. */
  readonly #unsettled = new Set<Batch>()
  #closed = false

  constructor(settings: KafkaSettings, pool: ConnectionPool, client: Base, options: SenderOptions) {
    this.#settings = settings
    this.#pool = pool
    this.#client = client
    this.#options = options
  }

  /** The topic's partitions and leaders, from the cache or the broker (undefined: no such topic). */
  topic(name: string): TopicInfo | undefined {
    const info = this.#topics.get(name)
    return info !== undefined && Date.now() - info.fetchedAt < METADATA_MAX_AGE_MS ? info : undefined
  }

  /** Looks topics up (bypassing the cache); returns the names the broker does not know. */
  async lookup(topics: readonly string[], forceUpdate = false): Promise<Set<string>> {
    const { found, unknown } = await lookupTopics(this.#client, topics, this.#settings, 'send', forceUpdate)
    const metadata = await this.#client.metadata({ topics: [], retries: 0 })
    for (const [id, broker] of metadata.brokers) this.#brokers.set(id, { host: broker.host, port: broker.port })
    const now = Date.now()
    for (const [name, meta] of found) {
      this.#topics.set(name, { partitionsCount: meta.partitionsCount, leaders: meta.partitions.map((p) => p.leader), fetchedAt: now })
    }
    for (const name of unknown) this.#topics.delete(name)
    return unknown
  }

  /** Adds one record to its partition's open batch (the topic must have been looked up). */
  append(topic: string, partition: number, message: BatchMessage, size: number, owner: RecordOwner, index: number): void {
    let tp = this.#lastPartition
    if (tp === undefined || tp.partition !== partition || tp.topic !== topic) tp = this.#lastPartition = this.#partition(topic, partition)
    let batch = tp.open
    if (batch !== undefined && batch.messages.length > 0 && batch.bytes + size > this.#options.batchSize) {
      this.#seal(tp)
      batch = undefined
    }
    if (batch === undefined) {
      batch = { tp, messages: [], owners: [], indices: [], bytes: BATCH_OVERHEAD, sequence: -1, created: Date.now(), attempts: 0, retryAt: 0, sent: false, lastError: undefined, waiters: undefined }
      tp.open = batch
      this.#unsettled.add(batch)
      this.#active.add(tp)
    }
    batch.messages.push(message)
    batch.owners.push(owner)
    batch.indices.push(index)
    batch.bytes += size
    if (batch.bytes >= this.#options.batchSize) this.#seal(tp)
  }

  /** Produce requests in flight, all brokers together. */
  get inFlightRequests(): number {
    let n = 0
    for (const node of this.#nodes.values()) n += node.inflight
    return n
  }

  /** Makes the drain run soon: at once when batches are sealed, else when the oldest open batch's linger ends. */
  schedule(): void {
    if (this.#immediate !== undefined) return
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined
      this.#drain()
    })
  }

  /** Resolves when every record appended so far is acknowledged or failed (open batches go at once). */
  async flush(): Promise<void> {
    if (this.#unsettled.size === 0) return
    this.#flushing++
    try {
      await new Promise<void>((resolve) => {
        let left = this.#unsettled.size
        const one = (): void => {
          if (--left === 0) resolve()
        }
        for (const batch of this.#unsettled) (batch.waiters ??= []).push(one)
        this.#drain()
      })
    } finally {
      this.#flushing--
    }
  }

  /** Flushes, then stops timers (the pool is the caller's to close). */
  async close(): Promise<void> {
    await this.flush()
    this.#closed = true
    clearTimeout(this.#timer)
    if (this.#immediate !== undefined) clearImmediate(this.#immediate)
  }

  #partition(topic: string, partition: number): PartitionState {
    let list = this.#partitions.get(topic)
    if (list === undefined) this.#partitions.set(topic, (list = []))
    let tp = list[partition]
    if (tp === undefined) {
      tp = { topic, partition, nextSequence: 0, open: undefined, queue: [], inflight: [], node: -1, recovering: false, confirmed: false }
      list[partition] = tp
    }
    return tp
  }

  #seal(tp: PartitionState): void {
    const batch = tp.open
    if (batch === undefined) return
    tp.open = undefined
    batch.sequence = tp.nextSequence
    tp.nextSequence += batch.messages.length
    tp.queue.push(batch)
  }

  /** Seals what is due, then sends what may go. Safe to call any time; never throws. */
  #drain(): void {
    if (this.#closed && this.#unsettled.size === 0) return
    const now = Date.now()
    const linger = this.#options.lingerMs
    let wakeAt = Infinity
    // Seal open batches whose linger is over, fail batches past their delivery timeout.
    for (const tp of this.#active) {
      const open = tp.open
      if (open !== undefined) {
        if (this.#flushing > 0 || linger === 0 || now - open.created >= linger) this.#seal(tp)
        else wakeAt = Math.min(wakeAt, open.created + linger)
      }
      while (tp.queue.length > 0 && now - tp.queue[0].created >= this.#options.deliveryTimeoutMs && !this.#resetting) {
        const batch = tp.queue[0]
        const cause = batch.lastError ? `: ${batch.lastError.message}` : ''
        const error = this.#batchError(batch, 'TRIB_TIMEOUT', `not acknowledged within deliveryTimeoutMs (${this.#options.deliveryTimeoutMs} ms)${cause}`, batch.lastError, true)
        // Never sent: the broker never saw it. Sent: it may be written, so a new producer id follows.
        if (batch.sent) this.#fail(batch, error)
        else this.#failAndRewind(batch, error)
      }
      if (tp.queue.length === 0 && tp.inflight.length === 0 && tp.open === undefined) this.#active.delete(tp)
    }
    if (this.#resetPending) {
      this.#maybeReset()
    } else if (this.#producerId === undefined) {
      if (this.#active.size > 0) this.#initProducer()
    } else {
      wakeAt = Math.min(wakeAt, this.#sendReady(now))
    }
    if (wakeAt !== Infinity) this.#wakeAt(wakeAt)
  }

  /** Sends requests to every broker that has room; returns when it should look again (retry backoff). */
  #sendReady(now: number): number {
    let wakeAt = Infinity
    // Per broker: the partitions it leads that have a batch that may go now.
    const ready = new Map<number, PartitionState[]>()
    let stale = false
    for (const tp of this.#active) {
      if (tp.queue.length === 0) continue
      const head = tp.queue[0]
      if (head.retryAt > now) {
        wakeAt = Math.min(wakeAt, head.retryAt)
        continue
      }
      const leader = this.#topics.get(tp.topic)?.leaders[tp.partition] ?? -1
      if (leader < 0 || !this.#brokers.has(leader)) {
        stale = true
        continue
      }
      // Order: while batches are in flight elsewhere, or a failure is being sorted out, wait.
      if (tp.inflight.length > 0 && (tp.node !== leader || tp.recovering || !tp.confirmed)) continue
      let list = ready.get(leader)
      if (list === undefined) ready.set(leader, (list = []))
      list.push(tp)
    }
    if (stale) this.#refresh()
    for (const [nodeId, partitions] of ready) {
      const node = this.#node(nodeId)
      if (node.connecting) continue
      if (node.retryAt > now) {
        wakeAt = Math.min(wakeAt, node.retryAt)
        continue
      }
      const broker = this.#brokers.get(nodeId)!
      const connection = this.#pool.getEstablishedConnection(broker)
      if (connection === undefined || !connection.isConnected()) {
        node.connecting = true
        this.#pool.get(broker, (err) => {
          node.connecting = false
          if (err) {
            node.retryAt = Date.now() + 100
            this.#settings.logger.debug({ err: describe(err), broker }, 'producer: connecting to the leader failed; retrying')
            this.#refresh()
            // Batches waiting for this broker fail only by their delivery timeout.
            for (const tp of partitions) if (tp.queue[0] !== undefined) tp.queue[0].lastError = toTributaryError(err, { op: 'send', brokers: this.#settings.brokers })
          }
          this.#drain()
        })
        continue
      }
      let start = 0
      while (node.inflight < this.#options.maxInFlightRequests) {
        const batches: Batch[] = []
        let bytes = 0
        for (let i = 0; i < partitions.length; i++) {
          const tp = partitions[(start + i) % partitions.length]
          const head = tp.queue[0]
          if (head === undefined || (tp.inflight.length > 0 && (tp.node !== nodeId || tp.recovering || !tp.confirmed))) continue
          if (batches.length > 0 && bytes + head.bytes > MAX_REQUEST_RECORD_BYTES) continue
          batches.push(head)
          bytes += head.bytes
        }
        if (batches.length === 0) break
        start++
        this.#sendRequest(nodeId, node, connection, batches)
      }
    }
    return wakeAt
  }

  #sendRequest(nodeId: number, node: NodeState, connection: Connection, batches: Batch[]): void {
    const producerId = this.#producerId!
    const epoch = this.#producerEpoch
    const topics: { topic: string; partitions: { partition: number; records: Buffer }[] }[] = []
    const byTopic = new Map<string, { partition: number; records: Buffer }[]>()
    for (const batch of batches) {
      const tp = batch.tp
      tp.queue.shift()
      tp.inflight.push(batch)
      tp.node = nodeId
      tp.recovering = false
      batch.attempts++
      batch.sent = true
      const records = encodeRecordBatch(batch.messages, { producerId, producerEpoch: epoch, firstSequence: batch.sequence })
      let list = byTopic.get(tp.topic)
      if (list === undefined) {
        byTopic.set(tp.topic, (list = []))
        topics.push({ topic: tp.topic, partitions: list })
      }
      list.push({ partition: tp.partition, records })
    }
    node.inflight++
    const body = encodeProduceRequest(ACKS_ALL, this.#settings.requestTimeoutMs, topics as TopicRecords[])
    connection.send(PRODUCE_KEY, this.#produceVersion, () => body, parseProduceResponse, true, true, (err: Error | null, response: unknown) => {
      node.inflight--
      this.#onResponse(batches, err, response as ProduceResponse | undefined)
      this.#drain()
    })
  }

  #onResponse(batches: Batch[], err: Error | null, response: ProduceResponse | undefined): void {
    if (err || response === undefined) {
      const error = toTributaryError(err, { op: 'send', brokers: this.#settings.brokers, security: this.#settings.security })
      const retriable = isRetriable(err) || error.retriable
      this.#refresh()
      for (const batch of batches) {
        if (retriable) this.#retry(batch, error)
        else this.#failAndRewind(batch, this.#batchError(batch, error.code, error.message, error, false))
      }
      return
    }
    for (const batch of batches) {
      const { topic, partition } = batch.tp
      const result = response.get(topic)?.get(partition)
      if (result === undefined) {
        this.#failAndRewind(batch, this.#batchError(batch, 'TRIB_LOG_KAFKA', 'the broker did not answer for this partition', undefined, false))
        continue
      }
      const code = result.errorCode
      if (code === NONE) this.#acknowledge(batch, result.baseOffset)
      else if (code === DUPLICATE_SEQUENCE_NUMBER) this.#acknowledge(batch, -1)
      else if (code === OUT_OF_ORDER_SEQUENCE_NUMBER && (batch.tp.recovering || this.#resetPending)) this.#retry(batch, this.#brokerError(batch, code, result.errorMessage))
      else if (code === OUT_OF_ORDER_SEQUENCE_NUMBER) {
        // The broker expected other numbers, and no earlier failure explains why.
        this.#fail(batch, this.#brokerError(batch, code, result.errorMessage))
        this.#requestReset()
      } else if (code === UNKNOWN_PRODUCER_ID) {
        this.#retry(batch, this.#brokerError(batch, code, result.errorMessage))
        this.#requestReset()
      } else {
        const protocol = new ProtocolError(code, result.errorMessage)
        const error = this.#brokerError(batch, code, result.errorMessage, protocol)
        if ((protocol as { hasStaleMetadata?: boolean }).hasStaleMetadata) this.#refresh()
        if ((protocol as { canRetry?: boolean }).canRetry) this.#retry(batch, error)
        else this.#failAndRewind(batch, error)
      }
    }
  }

  #acknowledge(batch: Batch, baseOffset: number): void {
    this.#remove(batch)
    batch.tp.confirmed = true
    const { topic, partition } = batch.tp
    for (let i = 0; i < batch.owners.length; i++) {
      batch.owners[i].acknowledged(batch.indices[i], { topic, partition, offset: baseOffset < 0 ? -1 : baseOffset + i })
    }
    this.#settled(batch)
  }

  /** Puts a batch back at its place in its partition's queue, same sequence numbers, after a backoff. */
  #retry(batch: Batch, error: TributaryError): void {
    retriedBatches.inc()
    const tp = batch.tp
    const at = tp.inflight.indexOf(batch)
    if (at >= 0) tp.inflight.splice(at, 1)
    tp.recovering = true
    batch.lastError = error
    batch.retryAt = Date.now() + Math.min(50 * 2 ** Math.max(0, batch.attempts - 1), 1_000)
    let i = 0
    while (i < tp.queue.length && tp.queue[i].sequence < batch.sequence) i++
    tp.queue.splice(i, 0, batch)
    this.#active.add(tp)
  }

  /** Fails a batch the broker did not write, and numbers its partition's later batches as if it never was. */
  #failAndRewind(batch: Batch, error: TributaryError): void {
    const tp = batch.tp
    this.#fail(batch, error)
    const count = batch.messages.length
    for (const later of tp.inflight) if (later.sequence > batch.sequence) later.sequence -= count
    for (const later of tp.queue) if (later.sequence > batch.sequence) later.sequence -= count
    tp.nextSequence -= count
    tp.recovering = true
  }

  /** Fails a batch's records. A batch that timed out after being sent may be written: new producer id. */
  #fail(batch: Batch, error: TributaryError): void {
    this.#remove(batch)
    if (batch.sent && error.code === 'TRIB_TIMEOUT') this.#requestReset()
    for (let i = 0; i < batch.owners.length; i++) batch.owners[i].failed(batch.indices[i], error)
    this.#settled(batch)
  }

  #remove(batch: Batch): void {
    const tp = batch.tp
    let at = tp.inflight.indexOf(batch)
    if (at >= 0) tp.inflight.splice(at, 1)
    at = tp.queue.indexOf(batch)
    if (at >= 0) tp.queue.splice(at, 1)
  }

  #settled(batch: Batch): void {
    this.#unsettled.delete(batch)
    const waiters = batch.waiters
    if (waiters !== undefined) for (const one of waiters) one()
  }

  #batchError(batch: Batch, code: TributaryError['code'], reason: string, cause: unknown, retriable: boolean): TributaryError {
    const { topic, partition } = batch.tp
    return new TributaryError(code, `send to ${topic} partition ${partition}: ${reason}`, {
      cause,
      retriable,
      details: { op: 'send', topic, partition, records: batch.messages.length },
    })
  }

  #brokerError(batch: Batch, code: number, message: string | null, protocol = new ProtocolError(code, message)): TributaryError {
    const mapped = toTributaryError(protocol, { op: 'send', topic: batch.tp.topic, brokers: this.#settings.brokers })
    return this.#batchError(batch, mapped.code, `the broker refused the batch of ${batch.messages.length} records: ${describe(protocol)}`, protocol, mapped.retriable)
  }

  #node(id: number): NodeState {
    let node = this.#nodes.get(id)
    if (node === undefined) this.#nodes.set(id, (node = { inflight: 0, connecting: false, retryAt: 0 }))
    return node
  }

  #wakeAt(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#timerAt = Infinity
      this.#drain()
    }, Math.max(0, at - Date.now()))
  }

  /** Refreshes leaders of the topics with batches; fails queued batches of topics that are gone. */
  #refresh(): void {
    if (this.#refreshing !== undefined) return
    const topics = new Set<string>()
    for (const tp of this.#active) topics.add(tp.topic)
    if (topics.size === 0) return
    this.#client.clearMetadata()
    this.#refreshing = this.lookup([...topics], true)
      .then(
        (unknown) => {
          for (const tp of this.#active) {
            if (!unknown.has(tp.topic)) continue
            for (const batch of [...tp.queue]) {
              this.#fail(batch, this.#batchError(batch, 'TRIB_LOG_UNKNOWN_TOPIC', `topic ${tp.topic} does not exist any more`, undefined, false))
            }
          }
        },
        (err: unknown) => this.#settings.logger.debug({ err: describe(err) }, 'producer: metadata refresh failed; retrying'),
      )
      .finally(() => {
        // Let the next refresh wait a little (a leader election takes a moment).
        setTimeout(() => {
          this.#refreshing = undefined
          this.#drain()
        }, 50).unref()
        this.#drain()
      })
  }

  /** A new producer id once nothing is in flight. */
  #requestReset(): void {
    this.#resetPending = true
  }

  #maybeReset(): void {
    if (this.#resetting) return
    for (const node of this.#nodes.values()) if (node.inflight > 0) return
    this.#resetting = true
    this.#producerId = undefined
    this.#initProducer()
  }

  /** Asks for a producer id (and the Produce version); on a reset renumbers every unacknowledged batch from 0. */
  #initProducer(): void {
    if (this.#initializing !== undefined) return
    this.#initializing = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          const api = await getApi(this.#client, 'Produce')
          if (api.version < PRODUCE_MIN_VERSION || api.version > PRODUCE_MAX_VERSION) {
            throw new TributaryError('TRIB_LOG_KAFKA', `send: the broker's Produce versions do not include ${PRODUCE_MIN_VERSION}..${PRODUCE_MAX_VERSION} (Kafka 2.4 or newer is needed)`)
          }
          this.#produceVersion = api.version
          const connection = await new Promise<Connection>((resolve, reject) => {
            const brokers = [...this.#brokers.values()]
            this.#pool.getFirstAvailable(brokers, (err: Error | null, c?: Connection) => (err || !c ? reject(err) : resolve(c)))
          })
          const response = await callApi<{ producerId: bigint; producerEpoch: number; errorCode?: number }>(this.#client, connection, 'InitProducerId', null, this.#settings.requestTimeoutMs, -1n, -1)
          this.#producerEpoch = response.producerEpoch
          if (this.#resetting) {
            for (const list of this.#partitions.values()) {
              for (const tp of list) {
                if (tp === undefined) continue
                let next = 0
                for (const batch of tp.queue) {
                  batch.sequence = next
                  next += batch.messages.length
                }
                tp.nextSequence = next
                tp.recovering = false
                tp.confirmed = false
              }
            }
          }
          this.#producerId = response.producerId
          return
        } catch (err) {
          if (err instanceof TributaryError || !isRetriable(err) || attempt >= 20) {
            const error = err instanceof TributaryError ? err : toTributaryError(err, { op: 'send', brokers: this.#settings.brokers, security: this.#settings.security })
            for (const tp of [...this.#active]) {
              if (tp.open !== undefined) this.#seal(tp)
              for (const batch of [...tp.queue]) this.#fail(batch, this.#batchError(batch, error.code, `no producer id: ${error.message}`, error, error.retriable))
            }
            return
          }
          this.#settings.logger.debug({ err: describe(err), attempt }, 'producer: InitProducerId failed; retrying')
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1_000)))
        }
      }
    })().finally(() => {
      this.#initializing = undefined
      if (this.#resetting) {
        this.#resetting = false
        this.#resetPending = false
      }
      this.#drain()
    })
  }
}

