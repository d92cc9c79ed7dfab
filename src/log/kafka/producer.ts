/**
 * The Kafka producer: idempotent, `acks=all`, our partitioners, per-record offsets in input order.
 *
 * How a send travels:
 * 1. `send` queues the call; calls made in the same tick (or within `lingerMs`) are coalesced.
 * 2. The batch of calls is dispatched after the previous one was acknowledged (one dispatch at a
 *    time keeps per-partition order across calls; platformatic's idempotent producer allows one
 *    in-flight request per connection anyway).
 * 3. Each call is validated on its own (topics exist, explicit partitions in range, keys and values
 *    are bytes) before any of its records is handed to platformatic; a bad call is rejected alone.
 * 4. Partitions are picked here, not by platformatic: keyed records with our murmur2/FNV-1a
 *    partitioner (byte-identical to the embedded log), keyless ones round-robin, explicit ones as
 *    given. platformatic would silently wrap an out-of-range partition (`partition % count`).
 * 5. The records are split into requests of at most ~{@link MAX_PARTITION_BATCH_BYTES} per
 *    partition (Kafka rejects record batches above `max.message.bytes`, 1 MiB by default), each one
 *    platformatic `send` (one Produce request per leader, one record batch per partition).
 * 6. Offsets come from each partition's base offset plus the record's index within that batch.
 *
 * @example
 * ```ts
 * const producer = log.producer({ partitioner: 'fnv1a', lingerMs: 5 })
 * const [meta] = await producer.send({ topic: 'clicks', key: 'user-1', value: '/home' })
 * meta.offset // the record's offset in meta.partition
 * ```
 * @module
 */
import { ProduceAcks, type MessageToProduce } from '@platformatic/kafka'
import { Counter, Gauge } from 'prom-client'
import { metric, metricsRegistry } from '../../core/metrics.ts'
import { FastProducer } from './fast-producer.ts'
import { TributaryError } from '../../core/errors.ts'
import { toBytes, toHeaders, type ProduceRecord, type RecordMetadata } from '../../core/record.ts'
import { resolvePartitioner, type Partitioner } from '../partitioner.ts'
import type { LogProducer, ProducerOptions } from '../types.ts'
import { toTributaryError } from './errors.ts'
import { lookupTopics, unknownTopic, type TopicLookup } from './metadata.ts'
import { clientOptions, type KafkaSettings } from './settings.ts'

/** Upper bound of one partition's record batch in one request (bytes, before compression). */
export const MAX_PARTITION_BATCH_BYTES = 900_000
/** Upper bound of one Produce request (bytes). */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024
/** Bytes a record costs beyond key, value and headers (varints, attributes, deltas). */
const RECORD_OVERHEAD = 24

type Message = MessageToProduce<Buffer, Buffer | null, Buffer, Buffer>

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

/** A call that passed validation, with where its records sit in the dispatch's message list. */
interface AcceptedCall {
  readonly call: PendingCall
  readonly first: number
  readonly end: number
  readonly results: RecordMetadata[]
  failed: boolean
}

/** {@link LogProducer} over a platformatic idempotent `Producer`. */
export class KafkaProducer implements LogProducer {
  readonly #client: FastProducer<Buffer, Buffer | null, Buffer, Buffer>
  readonly #settings: KafkaSettings
  readonly #partitioner: Partitioner
  readonly #lingerMs: number
  readonly #onClose: (producer: KafkaProducer) => void
  #pending: PendingCall[] = []
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined
  #chain: Promise<void> = Promise.resolve()
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
    this.#settings = settings
    this.#partitioner = resolvePartitioner(options.partitioner)
    this.#lingerMs = linger
    this.#onClose = onClose
    this.#client = new FastProducer<Buffer, Buffer | null, Buffer, Buffer>({
      ...clientOptions(settings, 'producer'),
      // Ride out a broker restart (~20 s): platformatic retries a failed request as is, with the
      // same sequence numbers, so the broker drops a batch it had already written.
      retries: 20,
      retryDelay: (_client, _op, attempt) => Math.min(100 * 2 ** (attempt - 1), 1_000),
      idempotent: true,
      acks: ProduceAcks.ALL,
      autocreateTopics: false,
    })
  }

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
        this.#schedule()
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
    this.#dispatchPending()
    await this.#chain
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      // Sends still waiting for room are admitted as the ones in flight finish (or time out).
      do await this.flush()
      while (this.#waiting.length > 0 || this.#pending.length > 0)
    } finally {
      await this.#client.close().catch((err: unknown) => this.#settings.logger.warn({ err }, 'closing the Kafka producer failed'))
      this.#onClose(this)
    }
  }

  #schedule(): void {
    if (this.#scheduled !== undefined) return
    if (this.#lingerMs > 0) this.#scheduled = setTimeout(() => this.#dispatchPending(), this.#lingerMs)
    else this.#scheduled = setImmediate(() => this.#dispatchPending())
  }

  #dispatchPending(): void {
    if (this.#scheduled !== undefined) {
      clearTimeout(this.#scheduled as NodeJS.Timeout)
      clearImmediate(this.#scheduled as NodeJS.Immediate)
      this.#scheduled = undefined
    }
    if (this.#pending.length === 0) return
    const calls = this.#pending
    this.#pending = []
    this.#chain = this.#chain.then(() => this.#dispatch(calls))
  }

  /** Validates, partitions and sends a group of calls. Never rejects: outcomes go to each call. */
  async #dispatch(calls: PendingCall[]): Promise<void> {
    const topics = new Set<string>()
    for (const call of calls) for (const record of call.records) topics.add(record?.topic)
    let lookup: TopicLookup
    try {
      const names = [...topics].filter((t): t is string => typeof t === 'string' && t.length > 0)
      lookup = await lookupTopics(this.#client, names, this.#settings, 'send')
    } catch (err) {
      for (const call of calls) call.reject(toTributaryError(err, { op: 'send', brokers: this.#settings.brokers }))
      return
    }
    const messages: Message[] = []
    const accepted: AcceptedCall[] = []
    for (const call of calls) {
      const first = messages.length
      try {
        this.#prepare(call.records, lookup, messages)
      } catch (err) {
        messages.length = first
        call.reject(err)
        continue
      }
      accepted.push({ call, first, end: messages.length, results: new Array(messages.length - first), failed: false })
    }
    if (messages.length > 0) await this.#sendMessages(messages, accepted)
    for (const entry of accepted) if (!entry.failed) entry.call.resolve(entry.results)
  }

  /** Appends the call's records as platformatic messages, or throws without appending any. */
  #prepare(records: readonly ProduceRecord[], lookup: TopicLookup, out: Message[]): void {
    const partitioner = this.#partitioner
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      const topic = record?.topic
      const meta = typeof topic === 'string' ? lookup.found.get(topic) : undefined
      if (meta === undefined) {
        if (typeof topic !== 'string' || topic.length === 0) {
          throw new TributaryError('TRIB_INVALID_ARGUMENT', `send: record ${i} has no topic`)
        }
        throw unknownTopic('send', topic)
      }
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
        partition = partitioner(key, count)
      } else {
        const next = this.#roundRobin.get(topic) ?? 0
        this.#roundRobin.set(topic, next + 1)
        partition = next % count
      }
      const message: Message = { topic, partition, key: key ?? undefined, value }
      if (record.timestamp !== undefined) {
        if (!Number.isSafeInteger(record.timestamp) || record.timestamp < 0) {
          throw new TributaryError('TRIB_INVALID_ARGUMENT', `send: record ${i} has an invalid timestamp ${record.timestamp}`)
        }
        message.timestamp = BigInt(record.timestamp)
      }
      if (record.headers !== undefined) {
        const headers = toHeaders(record.headers)
        if (headers.length > 0) {
          // Keys are distinct Buffer objects, so repeated header names survive platformatic's Map, in order.
          const map = new Map<Buffer, Buffer>()
          for (const [name, headerValue] of headers) map.set(Buffer.from(name), headerValue)
          message.headers = map
        }
      }
      out.push(message)
    }
  }

  /** Sends messages in size-bounded requests, in order; fills results or fails the affected calls. */
  async #sendMessages(messages: Message[], accepted: AcceptedCall[]): Promise<void> {
    let start = 0
    while (start < messages.length) {
      const end = chunkEnd(messages, start)
      const chunk = start === 0 && end === messages.length ? messages : messages.slice(start, end)
      let offsets: { topic: string; partition: number; offset: bigint }[]
      try {
        const result = await this.#client.send({ messages: chunk })
        offsets = result.offsets ?? []
      } catch (err) {
        const error = toTributaryError(err, { op: 'send', brokers: this.#settings.brokers, security: this.#settings.security })
        for (const entry of accepted) {
          if (entry.end > start && !entry.failed) {
            entry.failed = true
            // A call split over several requests: say which of its records were written before.
            const written = entry.results.slice(0, Math.max(0, start - entry.first))
            entry.call.reject(written.length === 0 ? error : partialSendError(error, written, entry.end - entry.first))
          }
        }
        return
      }
      assignOffsets(messages, start, end, offsets, accepted)
      start = end
    }
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

/** The error of a call whose first records were written before a later request failed. */
function partialSendError(cause: TributaryError, written: RecordMetadata[], total: number): TributaryError {
  return new TributaryError(cause.code, `${cause.message} (the first ${written.length} of the call's ${total} records were written: details.written)`, {
    cause,
    retriable: cause.retriable,
    details: { ...cause.details, written, notWritten: total - written.length },
  })
}

/** The end (exclusive) of the request starting at `start`: bounded per partition and per request. */
function chunkEnd(messages: Message[], start: number): number {
  const perPartition = new Map<string, number[]>()
  let total = 0
  let i = start
  for (; i < messages.length; i++) {
    const m = messages[i]
    let size = RECORD_OVERHEAD + (m.key?.length ?? 0) + (m.value?.length ?? 0)
    if (m.headers !== undefined) for (const [k, v] of m.headers as Map<Buffer, Buffer>) size += k.length + v.length + 4
    let sizes = perPartition.get(m.topic)
    if (sizes === undefined) {
      sizes = []
      perPartition.set(m.topic, sizes)
    }
    const current = sizes[m.partition as number] ?? 0
    if (i > start && (current + size > MAX_PARTITION_BATCH_BYTES || total + size > MAX_REQUEST_BYTES)) break
    sizes[m.partition as number] = current + size
    total += size
  }
  return i
}

/** Per record: base offset of its partition's batch in this request plus its index in that batch. */
function assignOffsets(
  messages: Message[],
  start: number,
  end: number,
  offsets: { topic: string; partition: number; offset: bigint }[],
  accepted: AcceptedCall[],
): void {
  const next = new Map<string, number[]>()
  for (const { topic, partition, offset } of offsets) {
    let arr = next.get(topic)
    if (arr === undefined) {
      arr = []
      next.set(topic, arr)
    }
    arr[partition] = Number(offset)
  }
  let owner = 0
  while (owner < accepted.length && accepted[owner].end <= start) owner++
  for (let i = start; i < end; i++) {
    while (accepted[owner].end <= i) owner++
    const entry = accepted[owner]
    const m = messages[i]
    const partition = m.partition as number
    const arr = next.get(m.topic)
    const base = arr?.[partition]
    if (arr === undefined || base === undefined) {
      if (!entry.failed) {
        entry.failed = true
        entry.call.reject(new TributaryError('TRIB_LOG_KAFKA', `send: the broker did not report an offset for ${m.topic}/${partition}`))
      }
      continue
    }
    arr[partition] = base + 1
    entry.results[i - entry.first] = { topic: m.topic, partition, offset: base }
  }
}
