/**
 * A destination producing to a {@link Log}, mapping records as Conduit's Kafka destination does:
 * key = the record key's bytes (raw as is, structured as JSON), value = the record in the output
 * format (`opencdc/json`: the whole record; `payload`: `payload.after`'s bytes; `template`), topic =
 * a fixed name or a template over the record (Conduit's default: the `opencdc.collection`
 * metadata). With the `payload` format, `kafka.header.<name>` metadata become headers again.
 *
 * A batch is one `send`; the acks come when the log has acknowledged every record (written to the
 * embedded log's files, or acknowledged by all in-sync replicas). A record whose topic cannot be
 * worked out is nacked on its own. A topic that does not exist is created (`partitions`, default 1),
 * as Conduit's destination lets the broker create topics.
 *
 * @example
 * ```ts
 * const dest = new LogDestination({ plugin: 'tributary-log', url: 'memory:demo', topic: fixedTopic('out'), ... }, ctx)
 * await dest.open(signal)
 * await dest.write(records, signal)
 * ```
 * @module
 */
import { TributaryError, isTributaryError } from '../../../core/errors.ts'
import type { ProduceRecord } from '../../../core/record.ts'
import type { LogProducer } from '../../../log/index.ts'
import type { ConnectorContext, Destination, DestinationAck } from '../../connector.ts'
import type { PipelineRecord } from '../../record.ts'
import { conduitDataBytes } from '../opencdc-json.ts'
import type { RecordFormat } from '../record-format.ts'
import type { LogLease } from './log-registry.ts'
import { METADATA_KAFKA_HEADER_PREFIX, acquireConnectorLog } from './source.ts'

/** Works out a record's topic; throws for a record without one. */
export type TopicOf = (record: PipelineRecord) => string

export interface LogDestinationOptions {
  readonly plugin: string
  readonly locationSetting: string
  readonly url: string
  readonly topic: TopicOf
  /** The topic when it is fixed (created on open), else undefined. */
  readonly fixedTopic: string | undefined
  readonly format: RecordFormat
  /** Partitions of topics the destination creates. */
  readonly partitions: number
  readonly clientId: string | undefined
  readonly connectTimeoutMs: number
}

/** The log destination. */
export class LogDestination implements Destination {
  readonly #options: LogDestinationOptions
  readonly #ctx: ConnectorContext
  #lease: LogLease | null = null
  #producer: LogProducer | null = null
  readonly #knownTopics = new Set<string>()

  constructor(options: LogDestinationOptions, ctx: ConnectorContext) {
    this.#options = options
    this.#ctx = ctx
  }

  async open(_signal: AbortSignal): Promise<void> {
    this.#lease = await acquireConnectorLog(this.#options, this.#ctx)
    try {
      if (this.#options.fixedTopic !== undefined) await this.#ensureTopic(this.#options.fixedTopic)
      this.#producer = this.#lease.log.producer()
    } catch (err) {
      await this.#lease.release()
      this.#lease = null
      throw err
    }
  }

  async #ensureTopic(topic: string): Promise<void> {
    if (this.#knownTopics.has(topic)) return
    const admin = this.#lease!.log.admin
    try {
      await admin.describeTopic(topic)
    } catch (err) {
      if (!isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC')) throw err
      try {
        await admin.createTopic({ name: topic, partitions: this.#options.partitions })
        this.#ctx.logger.info({ connector: this.#ctx.connectorId, topic, partitions: this.#options.partitions }, `${this.#options.plugin} destination: created topic ${topic}`)
      } catch (err2) {
        if (!isTributaryError(err2, 'TRIB_LOG_TOPIC_EXISTS')) throw err2
      }
    }
    this.#knownTopics.add(topic)
  }

  async write(records: readonly PipelineRecord[], _signal: AbortSignal): Promise<DestinationAck[]> {
    const producer = this.#producer
    if (producer === null) throw new TributaryError('TRIB_CLOSED', `${this.#options.plugin} destination is not open`)
    const { format, topic: topicOf } = this.#options
    const withHeaders = format.name === 'payload'
    const acks: DestinationAck[] = new Array(records.length)
    const batch: ProduceRecord[] = []
    const topics = new Set<string>()
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      let topic: string
      try {
        topic = topicOf(record)
      } catch (err) {
        acks[i] = { position: record.position, error: err as Error }
        continue
      }
      acks[i] = { position: record.position }
      topics.add(topic)
      const out: ProduceRecord = { topic, key: conduitDataBytes(record.key), value: format.encode(record) }
      if (withHeaders) {
        let headers: [string, Buffer][] | undefined
        for (const name in record.metadata) {
          if (!name.startsWith(METADATA_KAFKA_HEADER_PREFIX)) continue
          ;(headers ??= []).push([name.slice(METADATA_KAFKA_HEADER_PREFIX.length), Buffer.from(record.metadata[name])])
        }
        if (headers !== undefined) out.headers = headers
      }
      batch.push(out)
    }
    if (batch.length > 0) {
      for (const topic of topics) await this.#ensureTopic(topic)
      try {
        await producer.send(batch)
      } catch (err) {
        // A topic deleted since it was seen is created again when the runtime retries the batch.
        if (isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC')) for (const topic of topics) this.#knownTopics.delete(topic)
        throw err
      }
    }
    return acks
  }

  async teardown(): Promise<void> {
    const producer = this.#producer
    this.#producer = null
    try {
      await producer?.close()
    } finally {
      await this.#lease?.release()
      this.#lease = null
    }
  }
}

/** Kafka's rule for topic names (what Conduit checks a fixed `topic` against). */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/

/** A fixed topic. */
export function fixedTopic(name: string): TopicOf {
  return () => name
}

/** Conduit's default topic: the record's `opencdc.collection` metadata. */
export function collectionTopic(setting: string): TopicOf {
  return (record) => {
    const topic = record.metadata['opencdc.collection']
    if (topic === undefined || topic === '') {
      throw new TributaryError('TRIB_CONNECTOR_SETTINGS', `"${setting}" is the record's opencdc.collection, but record ${record.position.toString()} has none`, { details: { setting } })
    }
    return topic
  }
}
