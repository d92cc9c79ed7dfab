/**
 * The embedded log's producer. Appends happen synchronously inside `send`, one batch per partition
 * per call, so a resolved `send` means the records are in the log's files (or memory).
 * @module
 */
import { TributaryError } from '../../core/errors.ts'
import { toBytes, toHeaders, type ProduceRecord, type RecordMetadata } from '../../core/record.ts'
import { resolvePartitioner, type Partitioner } from '../partitioner.ts'
import type { LogProducer, ProducerOptions } from '../types.ts'
import type { StoredInput } from './batch-codec.ts'
import type { EmbeddedBroker } from './broker.ts'
import type { PartitionLog } from './partition.ts'

/** Appends records to an embedded log. */
export class EmbeddedProducer implements LogProducer {
  readonly #broker: EmbeddedBroker
  readonly #partitioner: Partitioner
  readonly #roundRobin = new Map<string, number>()
  #closed = false

  constructor(broker: EmbeddedBroker, options: ProducerOptions = {}) {
    this.#broker = broker
    this.#partitioner = resolvePartitioner(options.partitioner)
  }

  async send(input: ProduceRecord | ProduceRecord[]): Promise<RecordMetadata[]> {
    if (this.#closed || this.#broker.closed) throw new TributaryError('TRIB_CLOSED', 'producer is closed')
    const records = Array.isArray(input) ? input : [input]
    const now = Date.now()
    // Validate and place every record first, so a bad record appends nothing of the call.
    const targets: PartitionLog[] = new Array(records.length)
    const stored: StoredInput[] = new Array(records.length)
    const groups = new Map<PartitionLog, StoredInput[]>()
    let lastTopic = ''
    let lastPartitions = 0
    let compacted = false
    for (let i = 0; i < records.length; i++) {
      const r = records[i]
      if (r.topic !== lastTopic) {
        const config = this.#broker.requireTopic(r.topic)
        lastTopic = r.topic
        lastPartitions = config.partitions
        compacted = config.cleanupPolicy === 'compact'
      }
      const key = toBytes(r.key)
      if (key === null && compacted) {
        throw new TributaryError('TRIB_INVALID_ARGUMENT', `topic ${r.topic} is compacted: every record needs a key (record ${i} of the call has none)`, {
          details: { topic: r.topic, index: i },
        })
      }
      let partition: number
      if (r.partition !== undefined) partition = r.partition
      else if (key !== null) partition = this.#partitioner(key, lastPartitions)
      else partition = this.#nextRoundRobin(r.topic, lastPartitions)
      const target = this.#broker.partition(r.topic, partition)
      const entry: StoredInput = { offset: 0, timestamp: r.timestamp ?? now, key, value: toBytes(r.value), headers: toHeaders(r.headers) }
      targets[i] = target
      stored[i] = entry
      let group = groups.get(target)
      if (!group) groups.set(target, (group = []))
      group.push(entry)
    }
    for (const [partition, group] of groups) partition.append(group, now)
    this.#broker.notifyAppended()
    const result: RecordMetadata[] = new Array(records.length)
    for (let i = 0; i < records.length; i++) {
      result[i] = { topic: targets[i].topic, partition: targets[i].partition, offset: stored[i].offset }
    }
    return result
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true
    this.#broker.forget(this)
  }

  #nextRoundRobin(topic: string, partitions: number): number {
    const next = this.#roundRobin.get(topic) ?? 0
    this.#roundRobin.set(topic, next + 1)
    return next % partitions
  }
}
