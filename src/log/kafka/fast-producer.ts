/**
 * platformatic's `Producer` with our record-batch encoder behind its Produce API.
 *
 * Everything else stays platformatic's: metadata, leaders, the idempotent producer id and sequence
 * numbers, retries, fencing and the response parser. Only the request body is built here, for the
 * flexible Produce versions (9–11) without compression; any other case goes to platformatic's own
 * encoder. See `record-batch.ts` for why.
 *
 * @example
 * ```ts
 * const client = new FastProducer({ clientId: 'app', bootstrapBrokers: ['127.0.0.1:9092'], idempotent: true })
 * ```
 * @module
 */
import { kGetApi, Producer, produceV10, produceV11, produceV9, Writer, type API, type Callback, type Connection } from '@platformatic/kafka'
import { encodeRecordBatch, type BatchMessage } from './record-batch.ts'

/** A message as platformatic's producer passes it to the Produce API. */
interface ProduceMessage extends BatchMessage {
  topic: string
  partition?: number
}

/** The producer state platformatic passes to the Produce API. */
interface ProduceOptions {
  compression?: string
  producerId?: bigint
  producerEpoch?: number
  sequences?: { getWithDefault(key: string, fallback: number): number }
  transactionalId?: string
}

type ProduceApi = (connection: Connection, acks: number, timeout: number, messages: ProduceMessage[], options: ProduceOptions, callback: Callback<unknown>) => void
type ResponseParser = (typeof produceV11)['parseResponse']

const parsers = new Map<number, ResponseParser>([
  [9, produceV9.parseResponse as ResponseParser],
  [10, produceV10.parseResponse as ResponseParser],
  [11, produceV11.parseResponse],
])

/** The Produce request body (versions 9–11), one record batch per partition. */
export function createProduceRequest(acks: number, timeout: number, messages: readonly ProduceMessage[], options: ProduceOptions): Writer {
  const topics = new Map<string, Map<number, ProduceMessage[]>>()
  for (const message of messages) {
    let partitions = topics.get(message.topic)
    if (partitions === undefined) topics.set(message.topic, (partitions = new Map()))
    const partition = message.partition ?? 0
    let list = partitions.get(partition)
    if (list === undefined) partitions.set(partition, (list = []))
    list.push(message)
  }
  const writer = Writer.create()
    .appendString(options.transactionalId ?? null)
    .appendInt16(acks)
    .appendInt32(timeout)
    .appendArray([...topics], (w, [topic, partitions]) => {
      w.appendString(topic).appendArray([...partitions], (w, [partition, list]) => {
        const batch = encodeRecordBatch(list, {
          producerId: options.producerId,
          producerEpoch: options.producerEpoch ?? 0,
          firstSequence: options.sequences?.getWithDefault(`${topic}:${partition}`, 0) ?? 0,
          transactional: options.transactionalId !== undefined,
        })
        w.appendInt32(partition).appendUnsignedVarInt(batch.length + 1).append(batch)
      })
    })
    .appendTaggedFields()
  if (acks === 0) writer.context.noResponse = true
  return writer
}

function fastProduceApi(api: ProduceApi & { key: number; version: number }): ProduceApi {
  const parse = parsers.get(api.version)
  if (parse === undefined) return api
  return (connection, acks, timeout, messages, options, callback) => {
    if (options.compression !== undefined && options.compression !== 'none') return api(connection, acks, timeout, messages, options, callback)
    connection.send(api.key, api.version, () => createProduceRequest(acks, timeout, messages, options), parse, true, true, callback)
  }
}

/** platformatic's `Producer`, encoding record batches with {@link encodeRecordBatch}. */
export class FastProducer<Key = Buffer, Value = Buffer, HeaderKey = Buffer, HeaderValue = Buffer> extends Producer<Key, Value, HeaderKey, HeaderValue> {
  readonly #fast = new Map<unknown, ProduceApi>()

  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(name: string, callback: Callback<API<RequestArguments, ResponseType>>): void {
    if (name !== 'Produce') return super[kGetApi](name, callback)
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      if (error || api === undefined) return callback(error, api)
      let fast = this.#fast.get(api)
      if (fast === undefined) this.#fast.set(api, (fast = fastProduceApi(api as unknown as ProduceApi & { key: number; version: number })))
      callback(null, fast as unknown as API<RequestArguments, ResponseType>)
    })
  }
}
