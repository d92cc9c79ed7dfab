/**
 * The Kafka backend of the {@link Log} interface: one platformatic `Admin` client for topics and
 * offsets, one idempotent platformatic `Producer` per producer, and per consumer a platformatic
 * `Consumer` (metadata, fetch, list offsets) plus our own group membership; a reader has the
 * platformatic `Consumer` and no group.
 *
 * @example
 * ```ts
 * const log = await openKafkaLog({ brokers: ['127.0.0.1:9092'] })
 * await log.admin.createTopic({ name: 'clicks', partitions: 3 })
 * await log.producer().send({ topic: 'clicks', key: 'u1', value: '/home' })
 * await log.close()
 * ```
 * @module
 */
import { Admin } from '@platformatic/kafka'
import { TributaryError } from '../../core/errors.ts'
import type { ConsumerOptions, GroupConsumer, Log, LogProducer, LogReader, ProducerOptions, ReaderOptions } from '../types.ts'
import { KafkaAdmin } from './admin.ts'
import { KafkaGroupConsumer } from './consumer.ts'
import { brokerUnreachable, isNetworkError, securityError, toTributaryError } from './errors.ts'
import { clusterMetadata } from './metadata.ts'
import { KafkaOffsets } from './offsets.ts'
import { KafkaProducer } from './producer.ts'
import { KafkaReader } from './reader.ts'
import { delay, withDeadline } from './rpc.ts'
import { clientOptions, resolveSettings, type KafkaLogOptions, type KafkaSettings } from './settings.ts'
import { probeTls } from './tls-probe.ts'

/** A {@link Log} on a Kafka cluster. Create it with {@link openKafkaLog}. */
export class KafkaLog implements Log {
  readonly backend = 'kafka' as const
  readonly admin: KafkaAdmin
  readonly offsets: KafkaOffsets
  readonly settings: KafkaSettings
  readonly #client: Admin
  readonly #producers = new Set<KafkaProducer>()
  readonly #consumers = new Set<KafkaGroupConsumer | KafkaReader>()
  #closed = false

  /** Use {@link openKafkaLog}, which also checks that a broker answers. */
  constructor(settings: KafkaSettings) {
    this.settings = settings
    this.#client = new Admin(clientOptions(settings, 'admin'))
    this.admin = new KafkaAdmin(this.#client, settings)
    this.offsets = new KafkaOffsets(this.#client, settings)
  }

  /**
   * Waits until a broker answers a metadata request, for up to `connectTimeoutMs`; rejects with
   * `TRIB_LOG_BROKER_UNREACHABLE` naming the addresses tried.
   */
  async connect(): Promise<void> {
    const { brokers, connectTimeoutMs, security } = this.settings
    const started = Date.now()
    const deadline = started + connectTimeoutMs
    const ctx = { op: 'connect', brokers, security }
    let lastError: unknown
    let probed = false
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now()
      if (left <= 0) break
      const timedOut = new Error(`no answer within ${connectTimeoutMs} ms`)
      try {
        await withDeadline(clusterMetadata(this.#client, true), left, () => timedOut)
        return
      } catch (err) {
        lastError = err
        // Wrong credentials or certificates: retrying cannot help, say so at once.
        const insecure = err === timedOut ? undefined : securityError(err, ctx)
        if (insecure) throw insecure
        // Refused or dropped connections are retried until the deadline (a broker may be starting).
        if (err !== timedOut && !isNetworkError(err)) throw toTributaryError(err, ctx)
        // A TLS connection dropped after the handshake: ask the broker once why (mTLS refusals).
        if (err !== timedOut && security.connection.tls && !probed) {
          probed = true
          const why = await probeTls(brokers[0], security.connection.tls, Math.min(1_000, Math.max(0, deadline - Date.now())))
          const refused = why && securityError(Object.assign(new Error(`Connection to ${brokers[0]} failed.`), { cause: why }), ctx)
          if (refused) throw refused
        }
      }
      await delay(Math.min(100 * 2 ** attempt, 1_000, Math.max(0, deadline - Date.now())))
    }
    throw brokerUnreachable(brokers, lastError, connectTimeoutMs)
  }

  producer(options?: ProducerOptions): LogProducer {
    this.#ensureOpen()
    const producer = new KafkaProducer(this.settings, options, (p) => this.#producers.delete(p))
    this.#producers.add(producer)
    return producer
  }

  consumer(options: ConsumerOptions): GroupConsumer {
    this.#ensureOpen()
    const consumer = new KafkaGroupConsumer(this.settings, options, (c) => this.#consumers.delete(c))
    this.#consumers.add(consumer)
    return consumer
  }

  reader(options: ReaderOptions): LogReader {
    this.#ensureOpen()
    const reader = new KafkaReader(this.settings, options, (r) => this.#consumers.delete(r))
    this.#consumers.add(reader)
    return reader
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const results = await Promise.allSettled([
      ...[...this.#consumers].map((c) => c.close()),
      ...[...this.#producers].map((p) => p.close()),
    ])
    await this.#client.close().catch((err: unknown) => this.settings.logger.warn({ err }, 'closing the Kafka admin client failed'))
    for (const result of results) {
      if (result.status === 'rejected') this.settings.logger.warn({ err: result.reason }, 'closing a Kafka producer or consumer failed')
    }
  }

  #ensureOpen(): void {
    if (this.#closed) throw new TributaryError('TRIB_CLOSED', 'the Kafka log is closed')
  }
}

/**
 * Opens a {@link Log} on a Kafka cluster and checks that a broker answers within
 * `connectTimeoutMs` (default 10 s); otherwise rejects with `TRIB_LOG_BROKER_UNREACHABLE`, whose
 * message names the addresses tried.
 *
 * @example
 * ```ts
 * const log = await openKafkaLog({ brokers: ['127.0.0.1:9092'], clientId: 'billing' })
 * const consumer = log.consumer({ groupId: 'billing', topics: ['orders'] })
 * ```
 */
export async function openKafkaLog(options: KafkaLogOptions): Promise<Log> {
  const log = new KafkaLog(resolveSettings(options))
  try {
    await log.connect()
  } catch (err) {
    await log.close().catch(() => {})
    throw err
  }
  return log
}
