/**
 * An emitter (goka's `Emitter`): writes messages to one topic, encoding them with a codec and
 * partitioning by key (murmur2 by default, `fnv1a` for goka).
 *
 * `emit` returns a promise of where the message landed; you may ignore it — a failed `emit` then
 * makes the next `flush()` or `close()` reject, so nothing fails silently. `emitSync` waits for the
 * acknowledgement before it resolves and rejects on its own failure.
 *
 * @example
 * ```ts
 * const clicks = new Emitter(log, 'clicks', codecs.json<Click>())
 * clicks.emit('alice', { page: '/home' })            // fire and forget, batched
 * await clicks.emitSync('bob', { page: '/cart' })    // acknowledged
 * await clicks.close()                                // flushes; rejects if an emit failed
 * ```
 * @module
 */
import type { Codec } from '../core/codec.ts'
import { TributaryError } from '../core/errors.ts'
import type { ProduceRecord, RecordMetadata } from '../core/record.ts'
import type { Partitioner, PartitionerName } from '../log/partitioner.ts'
import type { Log, LogProducer } from '../log/types.ts'

/** Options of an {@link Emitter}. */
export interface EmitterOptions {
  /** Default `murmur2`; `fnv1a` matches goka/sarama. */
  partitioner?: PartitionerName | Partitioner
  /** Gather emits for up to this long into one batch (ms). Default 0 (same tick). */
  lingerMs?: number
  /**
   * Kafka: bytes of emitted messages that may wait for the broker (default 32 MiB). Beyond it an
   * emit waits for room, up to `maxBlockMs` (default 60 s), then fails with `TRIB_LOG_BUFFER_FULL`.
   */
  bufferMemoryBytes?: number
  /** Kafka: how long an emit may wait for room in the buffer. */
  maxBlockMs?: number
}

/** Options of one emit. */
export interface EmitMessageOptions {
  headers?: ProduceRecord['headers']
  timestamp?: number
}

/** Emits typed messages to one topic. */
export class Emitter<M = unknown> {
  readonly topic: string
  readonly #codec: Codec<M>
  readonly #producer: LogProducer
  readonly #pending = new Set<Promise<unknown>>()
  #error: unknown
  #closed = false

  constructor(log: Log, topic: string, codec: Codec<M>, options: EmitterOptions = {}) {
    if (!log || typeof log.producer !== 'function') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'Emitter: the first argument must be a Log')
    if (typeof topic !== 'string' || topic === '') throw new TributaryError('TRIB_INVALID_ARGUMENT', 'Emitter: topic must be a topic name')
    if (!codec || typeof codec.encode !== 'function') throw new TributaryError('TRIB_INVALID_ARGUMENT', `Emitter of ${topic}: codec must have encode and decode`)
    this.topic = topic
    this.#codec = codec
    this.#producer = log.producer({ partitioner: options.partitioner, lingerMs: options.lingerMs, bufferMemoryBytes: options.bufferMemoryBytes, maxBlockMs: options.maxBlockMs })
  }

  /** Emits `message` (`null` writes a tombstone). The returned promise may be ignored. */
  emit(key: string | null, message: M | null, options: EmitMessageOptions = {}): Promise<RecordMetadata> {
    const sent = this.#send(key, message, options)
    this.#pending.add(sent)
    sent.then(
      () => this.#pending.delete(sent),
      (err: unknown) => {
        this.#pending.delete(sent)
        this.#error ??= err
      },
    )
    return sent
  }

  /** Emits `message` and resolves once it is acknowledged; rejects if it is not. */
  emitSync(key: string | null, message: M | null, options: EmitMessageOptions = {}): Promise<RecordMetadata> {
    return this.#send(key, message, options)
  }

  /** Resolves when every emit so far is acknowledged; rejects with the first failed emit's error. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending])
    await this.#producer.flush()
    if (this.#error !== undefined) {
      const err = this.#error
      this.#error = undefined
      throw err
    }
  }

  /** Flushes and closes (goka's `Finish`). */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
    } finally {
      this.#closed = true
      await this.#producer.close()
    }
  }

  async #send(key: string | null, message: M | null, options: EmitMessageOptions): Promise<RecordMetadata> {
    if (this.#closed) throw new TributaryError('TRIB_CLOSED', `emitter of ${this.topic} is closed`)
    const value = message === null ? null : this.#codec.encode(message)
    const [metadata] = await this.#producer.send({ topic: this.topic, key, value, headers: options.headers, timestamp: options.timestamp })
    return metadata
  }
}
