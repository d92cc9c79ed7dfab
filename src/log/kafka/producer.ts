/**
 * The Kafka producer: idempotent, `acks=all`, our partitioners, per-record offsets in input order,
 * several requests in flight per broker (see `sender.ts` for batching, sequences and retries).
 *
 * How a send travels:
 * 1. `send` takes room in the producer's buffer (`bufferMemoryBytes`), waiting up to `maxBlockMs`.
 * 2. Calls are accepted in the order they were made. Each is validated on its own (topics exist,
 *    explicit partitions in range, keys and values are bytes) before any of its records is
 *    appended; a bad call is rejected alone. Topic metadata is cached for a few seconds, so a call
 *    to known topics is appended at once, in the caller's tick.
 * 3. Partitions are picked here: keyed records with our murmur2/FNV-1a partitioner (byte-identical
 *    to the embedded log), keyless ones round-robin, explicit ones as given.
 * 4. Records join their partition's open batch, which leaves when full (`batchSize`), after
 *    `lingerMs`, or on flush; up to `maxInFlightRequests` requests are in flight per broker, so a
 *    caller's next call is batched and sent while the previous one is still being acknowledged.
 * 5. The call resolves with every record's offset once all of its batches are acknowledged, or
 *    rejects naming the topic and partition the broker refused (with the records that were written).
 *
 * @example
 * ```ts
 * const producer = log.producer({ partitioner: 'fnv1a', lingerMs: 5 })
 * const [meta] = await producer.send({ topic: 'clicks', key: 'user-1', value: '/home' })
 * meta.offset // the record's offset in meta.partition
 * ```
 * @module
 */
import { ConnectionPool, Producer } from '@platformatic/kafka'
import { Counter, Gauge } from 'prom-client'
import { metric, metricsRegistry } from '../../core/metrics.ts'
import { TributaryError } from '../../core/errors.ts'
import { toBytes, toHeaders, type ProduceRecord, type RecordMetadata } from '../../core/record.ts'
import { resolvePartitioner, type Partitioner } from '../partitioner.ts'
import type { LogProducer, ProducerOptions } from '../types.ts'
import { toTributaryError } from './errors.ts'
import { unknownTopic } from './metadata.ts'
import type { BatchMessage } from './record-batch.ts'
import { RECORD_OVERHEAD, Sender, type RecordOwner, type TopicInfo } from './sender.ts'
import { clientOptions, poolOptions, type KafkaSettings } from './settings.ts'

/**
 * Default of `batchSize`. Java's `batch.size` defaults to 16 KiB; on the bench machine (broker and
 * client sharing two cores) larger batches cost the broker fewer requests per record and produced
 * faster with 64 KiB and 256 KiB than with 16 KiB, for pipelined and for awaited sends alike.
 */
export const DEFAULT_BATCH_SIZE = 262_144
/** Default of `maxInFlightRequests`: Java's `max.in.flight.requests.per.connection`. */
export const DEFAULT_MAX_IN_FLIGHT_REQUESTS = 5
/** Default of `deliveryTimeoutMs`: Java's `delivery.timeout.ms`. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 120_000
/** Largest `batchSize` accepted (Kafka refuses batches above `max.message.bytes`, 1 MiB by default). */
const MAX_BATCH_SIZE = 1024 * 1024

interface PendingCall {
  readonly records: readonly ProduceRecord[]
  /** Bytes this call holds in the buffer until it settles. */
  readonly bytes: number
  readonly resolve: (result: RecordMetadata[]) => void
  readonly reject: (err: unknown) => void
}

const bufferedBytes = metric(
  'tributary_kafka_producer_buffered_bytes',
  () =>
    new Gauge({
      name: 'tributary_kafka_producer_buffered_bytes',
      help: 'Bytes of records all Kafka producers of this process hold while waiting for acknowledgements',
      registers: [metricsRegistry],
    }),
)
const bufferFull = metric(
  'tributary_kafka_producer_buffer_full_total',
  () =>
    new Counter({
      name: 'tributary_kafka_producer_buffer_full_total',
      help: 'Kafka producer sends that failed with TRIB_LOG_BUFFER_FULL (the buffer stayed full for maxBlockMs)',
      registers: [metricsRegistry],
    }),
)

/** One accepted call: collects its records' outcomes and settles once all are known. */
class CallOutcome implements RecordOwner {
  readonly #call: PendingCall
  readonly #results: (RecordMetadata | undefined)[]
  #remaining: number
  #error: TributaryError | undefined

  constructor(call: PendingCall) {
    this.#call = call
    this.#results = new Array(call.records.length)
    this.#remaining = call.records.length
  }

  acknowledged(index: number, meta: RecordMetadata): void {
    this.#results[index] = meta
    if (--this.#remaining === 0) this.#settle()
  }

  failed(_index: number, error: TributaryError): void {
    this.#error ??= error
    if (--this.#remaining === 0) this.#settle()
  }

  #settle(): void {
    if (this.#error === undefined) {
      this.#call.resolve(this.#results as RecordMetadata[])
      return
    }
    const written = this.#results.filter((r): r is RecordMetadata => r !== undefined)
    if (written.length === 0) {
      this.#call.reject(this.#error)
      return
    }
    // Some batches of the call were written before another failed: say which.
    const total = this.#results.length
    let prefix = 0
    while (prefix < total && this.#results[prefix] !== undefined) prefix++
    const which = prefix === written.length ? `the first ${written.length}` : `${written.length}`
    const cause = this.#error
    this.#call.reject(
      new TributaryError(cause.code, `${cause.message} (${which} of the call's ${total} records were written: details.written)`, {
        cause,
        retriable: cause.retriable,
        details: { ...cause.details, written, notWritten: total - written.length },
      }),
    )
  }
}

/** {@link LogProducer} over our pipelined idempotent {@link Sender}. */
export class KafkaProducer implements LogProducer {
  /** Metadata only: topics, partitions, leaders, API versions. */
  readonly #client: Producer
  readonly #pool: ConnectionPool
  readonly #sender: Sender
  readonly #settings: KafkaSettings
  readonly #partitioner: Partitioner
  #pending: PendingCall[] = []
  /** True while the head of `#pending` waits for metadata. */
  #accepting = false
  readonly #roundRobin = new Map<string, number>()
  #closed = false
  readonly #bufferLimit: number
  readonly #maxBlockMs: number
  /** Bytes of records sent but not yet settled. */
  #buffered = 0
  /** Sends waiting for room, in order. */
  readonly #waiting: { bytes: number; admit: () => void }[] = []

  constructor(settings: KafkaSettings, options: ProducerOptions = {}, onClose: (producer: KafkaProducer) => void = () => {}) {
    const linger = options.lingerMs ?? 0
    if (!Number.isFinite(linger) || linger < 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `producer: lingerMs must be a non-negative number, got ${options.lingerMs}`)
    }
    this.#bufferLimit = options.bufferMemoryBytes ?? DEFAULT_BUFFER_MEMORY_BYTES
    this.#maxBlockMs = options.maxBlockMs ?? DEFAULT_MAX_BLOCK_MS
    if (!Number.isSafeInteger(this.#bufferLimit) || this.#bufferLimit < 1) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `producer: bufferMemoryBytes must be a positive integer, got ${options.bufferMemoryBytes}`)
    }
    if (!Number.isFinite(this.#maxBlockMs) || this.#maxBlockMs < 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `producer: maxBlockMs must be a non-negative number, got ${options.maxBlockMs}`)
    }
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `producer: batchSize must be an integer from 1 to ${MAX_BATCH_SIZE} bytes, got ${options.batchSize}`)
    }
    const maxInFlightRequests = options.maxInFlightRequests ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS
    if (!Number.isSafeInteger(maxInFlightRequests) || maxInFlightRequests < 1 || maxInFlightRequests > 5) {
      // Kafka keeps the last 5 batches per producer and partition to spot duplicates: more in flight
      // would let a retried batch be written twice.
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `producer: maxInFlightRequests must be an integer from 1 to 5, got ${options.maxInFlightRequests}`)
    }
    const deliveryTimeoutMs = options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS
    if (!Number.isFinite(deliveryTimeoutMs) || deliveryTimeoutMs <= 0) {
      throw new TributaryError('TRIB_INVALID_ARGUMENT', `producer: deliveryTimeoutMs must be a positive number, got ${options.deliveryTimeoutMs}`)
    }
    this.#settings = settings
    this.#partitioner = resolvePartitioner(options.partitioner)
    this.#onClose = onClose
    this.#client = new Producer({ ...clientOptions(settings, 'producer'), autocreateTopics: false })
    const base = clientOptions(settings, 'producer')
    this.#pool = new ConnectionPool(base.clientId, { ...poolOptions(settings), maxInflights: maxInFlightRequests + 1 })
    this.#sender = new Sender(settings, this.#pool, this.#client, { batchSize, lingerMs: linger, maxInFlightRequests, deliveryTimeoutMs })
  }

  readonly #onClose: (producer: KafkaProducer) => void

  send(records: ProduceRecord | ProduceRecord[]): Promise<RecordMetadata[]> {
    if (this.#closed) return Promise.reject(new TributaryError('TRIB_CLOSED', 'producer is closed'))
    const list = Array.isArray(records) ? records : [records]
    if (list.length === 0) return Promise.resolve([])
    const bytes = estimateBytes(list)
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const release = (): void => this.#release(bytes)
      const enqueue = (): void => {
        this.#buffered += bytes
        bufferedBytes.inc(bytes)
        this.#pending.push({ records: list, bytes, resolve: (r) => (release(), resolve(r)), reject: (e) => (release(), reject(e)) })
        this.#accept()
      }
      // A call bigger than the whole buffer goes alone, once the buffer is empty.
      if (this.#waiting.length === 0 && (this.#buffered + bytes <= this.#bufferLimit || this.#buffered === 0)) {
        enqueue()
        return
      }
      const waiter = {
        bytes,
        admit: (): void => {
          clearTimeout(timer)
          enqueue()
        },
      }
      const timer = setTimeout(() => {
        const at = this.#waiting.indexOf(waiter)
        if (at >= 0) this.#waiting.splice(at, 1)
        bufferFull.inc()
        reject(
          new TributaryError(
            'TRIB_LOG_BUFFER_FULL',
            `send: the producer buffer (${this.#bufferLimit} bytes, ${this.#buffered} in use) stayed full for ${this.#maxBlockMs} ms (maxBlockMs): the broker is not taking records (tried ${this.#settings.brokers.join(', ')}); nothing of this call (${list.length} records, ${bytes} bytes) was written`,
            { retriable: true, details: { bufferMemoryBytes: this.#bufferLimit, buffered: this.#buffered, maxBlockMs: this.#maxBlockMs, written: [] } },
          ),
        )
        this.#admitWaiting()
      }, this.#maxBlockMs)
      this.#waiting.push(waiter)
    })
  }

  /**
   * Resets this producer's established broker connections as a network failure would, failing the requests in
   * flight (their batches are retried). For tests of the retry path; not part of {@link LogProducer}.
   * @internal
   */
  dropConnections(): number {
    let dropped = 0
    for (const [, connection] of this.#pool) {
      // Established connections only: one still connecting would wait for its connect timeout.
      if (!connection.isConnected()) continue
      ;(connection.socket as { destroy(error?: Error): void }).destroy(Object.assign(new Error('read ECONNRESET (dropped by dropConnections)'), { code: 'ECONNRESET' }))
      dropped++
    }
    return dropped
  }

  /** Produce requests in flight now (for tests). */
  get inFlightRequests(): number {
    return this.#sender.inFlightRequests
  }

  /** Bytes of records waiting for acknowledgement (for tests and metrics). */
  get bufferedBytes(): number {
    return this.#buffered
  }

  #release(bytes: number): void {
    this.#buffered -= bytes
    bufferedBytes.dec(bytes)
    this.#admitWaiting()
  }

  #admitWaiting(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]
      if (this.#buffered + next.bytes > this.#bufferLimit && this.#buffered > 0) return
      this.#waiting.shift()
      next.admit()
    }
  }

  async flush(): Promise<void> {
    // Calls still waiting for metadata are appended first.
    while (this.#pending.length > 0) await new Promise((resolve) => setImmediate(resolve))
    await this.#sender.flush()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      // Sends still waiting for room are admitted as the ones in flight finish (or time out).
      do await this.flush()
      while (this.#waiting.length > 0 || this.#pending.length > 0)
      await this.#sender.close()
    } finally {
      await this.#pool.close().catch((err: unknown) => this.#settings.logger.warn({ err }, 'closing the Kafka producer connections failed'))
      await this.#client.close().catch((err: unknown) => this.#settings.logger.warn({ err }, 'closing the Kafka producer failed'))
      this.#onClose(this)
    }
  }

  /** Appends pending calls in order; a call to topics not in the metadata cache waits for a lookup. */
  #accept(): void {
    if (this.#accepting) return
    let appended = false
    while (this.#pending.length > 0) {
      const call = this.#pending[0]
      const missing = this.#missingTopics(call.records)
      if (missing.length > 0) {
        this.#accepting = true
        this.#sender.lookup(missing).then(
          (unknown) => this.#afterLookup(call, unknown),
          (err: unknown) => this.#afterLookup(call, undefined, err),
        )
        break
      }
      this.#pending.shift()
      appended = this.#appendCall(call) || appended
    }
    if (appended) this.#sender.schedule()
  }

  #afterLookup(call: PendingCall, unknown: Set<string> | undefined, err?: unknown): void {
    this.#accepting = false
    if (this.#pending[0] === call) {
      const name = unknown === undefined ? undefined : call.records.map((r) => r?.topic).find((t) => typeof t === 'string' && unknown.has(t))
      if (err !== undefined) {
        this.#pending.shift()
        call.reject(toTributaryError(err, { op: 'send', brokers: this.#settings.brokers, security: this.#settings.security }))
      } else if (name !== undefined) {
        this.#pending.shift()
        call.reject(unknownTopic('send', name))
      } else if (this.#missingTopics(call.records).length === 0) {
        this.#pending.shift()
        if (this.#appendCall(call)) this.#sender.schedule()
      }
    }
    this.#accept()
  }

  /** Topics of the call that are not in the metadata cache (checked as given; invalid names are the validation's). */
  #missingTopics(records: readonly ProduceRecord[]): string[] {
    let missing: string[] | undefined
    let last: string | undefined
    for (const record of records) {
      const topic = record?.topic
      if (topic === last || typeof topic !== 'string' || topic.length === 0) continue
      last = topic
      if (this.#sender.topic(topic) !== undefined) continue
      missing ??= []
      if (!missing.includes(topic)) missing.push(topic)
    }
    return missing ?? []
  }

  /** Validates a call and appends all its records, or rejects it without appending any. */
  #appendCall(call: PendingCall): boolean {
    const records = call.records
    const n = records.length
    const topics = new Array<string>(n)
    const partitions = new Array<number>(n)
    const messages = new Array<BatchMessage>(n)
    const sizes = new Array<number>(n)
    const roundRobin = new Map<string, number>()
    // Metadata looked up once per run of records to the same topic (most calls have one topic).
    let lastTopic: string | undefined
    let meta: TopicInfo | undefined
    try {
      for (let i = 0; i < n; i++) {
        const record = records[i]
        const topic = record?.topic
        if (topic !== lastTopic) {
          if (typeof topic !== 'string' || topic.length === 0) throw new TributaryError('TRIB_INVALID_ARGUMENT', `send: record ${i} has no topic`)
          meta = this.#sender.topic(topic)
          if (meta === undefined) throw unknownTopic('send', topic)
          lastTopic = topic
        }
        if (meta === undefined) throw unknownTopic('send', topic)
        const count = meta.partitionsCount
        const key = toBytes(record.key)
        const value = record.value === null ? null : toBytes(record.value)
        if (value === null ? record.value !== null : !Buffer.isBuffer(value)) {
          throw new TributaryError('TRIB_INVALID_ARGUMENT', `send: record ${i} to ${topic}: value must be a Buffer, a string or null (a tombstone)`)
        }
        if (key !== null && !Buffer.isBuffer(key)) {
          throw new TributaryError('TRIB_INVALID_ARGUMENT', `send: record ${i} to ${topic}: key must be a Buffer, a string, null or undefined`)
        }
        let partition: number
        if (record.partition !== undefined && record.partition !== null) {
          partition = record.partition
          if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
            throw new TributaryError(
              'TRIB_LOG_PARTITION_OUT_OF_RANGE',
              `send: partition ${partition} of topic ${topic} is out of range (topic has ${count} partitions: 0..${count - 1}); nothing of this call was sent`,
              { details: { topic, partition, partitions: count } },
            )
          }
        } else if (key !== null) {
          partition = this.#partitioner(key, count)
        } else {
          // Round-robin counters move only once the call is accepted.
          const next = roundRobin.get(topic) ?? this.#roundRobin.get(topic) ?? 0
          roundRobin.set(topic, next + 1)
          partition = next % count
        }
        let size = RECORD_OVERHEAD + (key?.length ?? 0) + (value?.length ?? 0)
        const message: BatchMessage = { key, value }
        if (record.timestamp !== undefined) {
          if (!Number.isSafeInteger(record.timestamp) || record.timestamp < 0) {
            throw new TributaryError('TRIB_INVALID_ARGUMENT', `send: record ${i} has an invalid timestamp ${record.timestamp}`)
          }
          message.timestamp = record.timestamp
        }
        if (record.headers !== undefined) {
          const headers = toHeaders(record.headers)
          if (headers.length > 0) {
            // Keys are distinct Buffer objects, so repeated header names survive the Map, in order.
            const map = new Map<Buffer, Buffer>()
            for (const [name, headerValue] of headers) {
              const nameBytes = Buffer.from(name)
              map.set(nameBytes, headerValue)
              size += nameBytes.length + (headerValue?.length ?? 0) + 4
            }
            message.headers = map
          }
        }
        topics[i] = topic
        partitions[i] = partition
        messages[i] = message
        sizes[i] = size
      }
    } catch (err) {
      call.reject(err)
      return false
    }
    for (const [topic, next] of roundRobin) this.#roundRobin.set(topic, next)
    const outcome = new CallOutcome(call)
    for (let i = 0; i < n; i++) this.#sender.append(topics[i], partitions[i], messages[i], sizes[i], outcome, i)
    return true
  }
}

/** Default of `bufferMemoryBytes`: Java's `buffer.memory`. */
export const DEFAULT_BUFFER_MEMORY_BYTES = 32 * 1024 * 1024
/** Default of `maxBlockMs`: Java's `max.block.ms`. */
export const DEFAULT_MAX_BLOCK_MS = 60_000

/** What records of a call weigh in the buffer: keys, values, headers and per-record overhead. */
function estimateBytes(records: readonly ProduceRecord[]): number {
  let bytes = 0
  for (const r of records) {
    bytes += RECORD_OVERHEAD + byteLength(r?.key) + byteLength(r?.value)
    const headers = r?.headers
    if (headers !== undefined && headers !== null) {
      const entries = Array.isArray(headers) ? headers : Object.entries(headers)
      for (const [name, value] of entries as [string, unknown][]) bytes += Buffer.byteLength(String(name)) + byteLength(value) + 4
    }
  }
  return bytes
}

function byteLength(value: unknown): number {
  if (value === null || value === undefined) return 0
  if (typeof value === 'string') return Buffer.byteLength(value)
  if (value instanceof Uint8Array) return value.byteLength
  return 0
}

