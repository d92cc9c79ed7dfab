/**
 * The Produce request (versions 9–11, flexible) and its response, for the pipelined sender.
 *
 * The request carries one record batch per partition, each encoded by {@link encodeRecordBatch}
 * and appended to the writer as is (the connection copies everything once into the frame). The
 * response parser never throws on a partition's error code: the sender decides per partition what
 * an error means (retry in sequence, fail the batch, reset the producer id).
 *
 * ```
 * request  := transactional_id:compact_nullable_string acks:i16 timeout_ms:i32
 *             [name:compact_string [index:i32 records:compact_bytes _tags] _tags] _tags
 * response := [name [index error_code:i16 base_offset:i64 log_append_time:i64 log_start_offset:i64
 *             [batch_index error_message] error_message _tags] _tags] throttle_time_ms:i32 _tags
 * ```
 *
 * @example
 * ```ts
 * const writer = encodeProduceRequest(-1, 30_000, [{ topic: 't', partitions: [{ partition: 0, records }] }])
 * ```
 * @module
 */
import { Writer, type Reader } from '@platformatic/kafka'

/** One topic's partitions and their encoded record batches. */
export interface TopicRecords {
  readonly topic: string
  readonly partitions: readonly { readonly partition: number; readonly records: Buffer }[]
}

/** What the broker answered for one partition. */
export interface PartitionResponse {
  readonly errorCode: number
  /** The offset of the batch's first record (-1 on errors). */
  readonly baseOffset: number
  readonly errorMessage: string | null
}

/** Per topic, per partition index. */
export type ProduceResponse = Map<string, Map<number, PartitionResponse>>

/** Lowest and highest Produce version this encoder speaks. */
export const PRODUCE_MIN_VERSION = 9
export const PRODUCE_MAX_VERSION = 11

/** The body of a Produce request (no transactional id). */
export function encodeProduceRequest(acks: number, timeoutMs: number, topics: readonly TopicRecords[]): Writer {
  const writer = Writer.create().appendUnsignedVarInt(0).appendInt16(acks).appendInt32(timeoutMs).appendUnsignedVarInt(topics.length + 1)
  for (const { topic, partitions } of topics) {
    writer.appendString(topic).appendUnsignedVarInt(partitions.length + 1)
    for (const { partition, records } of partitions) {
      writer.appendInt32(partition).appendUnsignedVarInt(records.length + 1).append(records).appendUnsignedVarInt(0)
    }
    writer.appendUnsignedVarInt(0)
  }
  return writer.appendUnsignedVarInt(0)
}

/** Parses a Produce response (versions 9–11); partition errors are returned, not thrown. */
export function parseProduceResponse(_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): ProduceResponse {
  const out: ProduceResponse = new Map()
  reader.readArray((r) => {
    const name = r.readString()
    const partitions = new Map<number, PartitionResponse>()
    out.set(name, partitions)
    r.readArray((r) => {
      const index = r.readInt32()
      const errorCode = r.readInt16()
      const baseOffset = Number(r.readInt64())
      r.readInt64() // log_append_time_ms
      r.readInt64() // log_start_offset
      r.readArray((r) => {
        r.readInt32()
        r.readNullableString()
      })
      const errorMessage = r.readNullableString()
      partitions.set(index, { errorCode, baseOffset, errorMessage })
    })
  })
  return out
}
