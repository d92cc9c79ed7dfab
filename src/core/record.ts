/**
 * Records: what a log stores and returns.
 *
 * Keys and values are bytes at the log layer; codecs ({@link ./codec.ts}) turn them into typed values
 * in the layers above. Offsets and timestamps are plain numbers (safe up to 2^53).
 *
 * @example
 * ```ts
 * const rec: ProduceRecord = { topic: 'clicks', key: 'user-1', value: JSON.stringify({ page: '/' }) }
 * ```
 * @module
 */

/** Record headers: ordered name/value pairs; a name may repeat, as in Kafka. A null value read from Kafka becomes an empty Buffer. */
export type Headers = ReadonlyArray<readonly [string, Buffer]>

/** A shared empty header list, so records without headers allocate nothing. */
export const NO_HEADERS: Headers = Object.freeze([]) as Headers

/** A partition of a topic. */
export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

/** A partition and an offset in it (for commits: the offset of the next record to read). */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: number
}

/** A record as stored in and read from a log. */
export interface Record {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** Milliseconds since the epoch; set by the producer, or at append time when it did not. */
  readonly timestamp: number
  readonly key: Buffer | null
  /** `null` is a tombstone: on a compacted topic it deletes the key. */
  readonly value: Buffer | null
  readonly headers: Headers
}

/** A record to append. Strings are encoded as UTF-8. */
export interface ProduceRecord {
  topic: string
  key?: Buffer | string | null
  value: Buffer | string | null
  /** Explicit partition; otherwise chosen by the producer's partitioner from the key. */
  partition?: number
  /** Milliseconds since the epoch; defaults to the time of the send. */
  timestamp?: number
  headers?: Headers | { readonly [name: string]: Buffer | string }
}

/** Where a record was appended. */
export interface RecordMetadata {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** Turns a string, Buffer or null into Buffer or null. */
export function toBytes(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null
  return typeof value === 'string' ? Buffer.from(value) : value
}

/** Normalises the two accepted header forms into the ordered list form. */
export function toHeaders(headers: ProduceRecord['headers']): Headers {
  if (headers === undefined) return NO_HEADERS
  if (Array.isArray(headers)) return headers as Headers
  const out: [string, Buffer][] = []
  for (const [name, value] of Object.entries(headers)) {
    out.push([name, typeof value === 'string' ? Buffer.from(value) : (value as Buffer)])
  }
  return out
}

/** `topic/partition`, the key used for per-partition maps. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`
}
