/**
 * The log sink: mapped rows as JSON objects (column → value; 64-bit integers as strings) on a topic
 * of a Tributary `Log` (embedded or Kafka), keyed by the row's primary-key bytes. A sharded job
 * (`numShards` > 1) writes each row to the partition of its shard (AresDB's rule, fixed; see
 * `sharding.ts`); the topic is created with `numShards` partitions when missing.
 *
 * @example
 * ```ts
 * const sink = new LogSink(job, log, { topic: 'trips-rows' })
 * ```
 * @module
 */
import type { Log, LogProducer } from '../../log/index.ts'
import type { JobConfig } from '../job-config.ts'
import type { Row } from '../row-mapper.ts'
import { primaryKeyBytes, shardFunction } from '../sharding.ts'
import type { IngestSink } from './sink.ts'

/** Settings of a {@link LogSink}. */
export interface LogSinkOptions {
  /** Default `<table>-rows`. */
  topic?: string
}

const toJson = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value)

/** Writes rows to a topic. */
export class LogSink implements IngestSink {
  readonly description: string
  readonly #job: JobConfig
  readonly #log: Log
  readonly #topic: string
  readonly #shardOf: ((row: Row) => number) | null
  #producer: LogProducer | null = null

  constructor(job: JobConfig, log: Log, options: LogSinkOptions = {}) {
    this.#job = job
    this.#log = log
    this.#topic = options.topic ?? `${job.rules.table}-rows`
    this.#shardOf = shardFunction(job)
    this.description = `topic ${this.#topic}`
  }

  async open(): Promise<void> {
    const partitions = Math.max(1, this.#job.numShards)
    const existing = await this.#log.admin.listTopics()
    if (!existing.includes(this.#topic)) {
      await this.#log.admin.createTopic({ name: this.#topic, partitions }).catch((err: { code?: string }) => {
        if (err.code !== 'TRIB_LOG_TOPIC_EXISTS') throw err
      })
    }
    this.#producer = this.#log.producer()
  }

  async save(rows: readonly Row[]): Promise<void> {
    const producer = this.#producer
    if (!producer) throw new Error(`log sink ${this.#topic}: not open`)
    const columns = this.#job.rules.columns
    await producer.send(
      rows.map((row) => {
        const value: { [column: string]: unknown } = {}
        for (let c = 0; c < columns.length; c++) value[columns[c].name] = row[c]
        return {
          topic: this.#topic,
          key: primaryKeyBytes(this.#job, row),
          value: JSON.stringify(value, toJson),
          ...(this.#shardOf ? { partition: this.#shardOf(row) } : {}),
        }
      }),
    )
  }

  async close(): Promise<void> {
    const producer = this.#producer
    this.#producer = null
    await producer?.close()
  }
}
