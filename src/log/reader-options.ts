/**
 * Checks of {@link ReaderOptions} shared by every backend's {@link LogReader}: the options are
 * validated when the reader is made, the partitions once the topic's partition count is known.
 *
 * @example
 * ```ts
 * const options = checkReaderOptions(input)            // TRIB_INVALID_ARGUMENT
 * const partitions = readerPartitions(options, 4)      // TRIB_LOG_PARTITION_OUT_OF_RANGE
 * ```
 * @module
 */
import { TributaryError } from '../core/errors.ts'
import type { ReaderOptions } from './types.ts'

/** The default `maxPollRecords` of readers and group consumers. */
export const DEFAULT_MAX_POLL_RECORDS = 10_000

/** Throws `TRIB_INVALID_ARGUMENT` for malformed options; returns them. */
export function checkReaderOptions(options: ReaderOptions): ReaderOptions {
  if (!options || typeof options.topic !== 'string' || options.topic.length === 0) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', 'reader: topic is required')
  }
  const topic = options.topic
  if (options.partitions !== undefined && !Array.isArray(options.partitions)) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `reader of ${topic}: partitions must be an array of partition numbers`)
  }
  const from = options.from
  if (from instanceof Map) {
    for (const [partition, offset] of from) {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new TributaryError('TRIB_INVALID_ARGUMENT', `reader of ${topic}: the start offset of partition ${partition} must be a non-negative integer, got ${offset}`, {
          details: { topic, partition, offset },
        })
      }
    }
  } else if (from !== undefined && from !== 'earliest' && from !== 'latest') {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `reader of ${topic}: from must be "earliest", "latest" or a Map of partition to offset`)
  }
  const max = options.maxPollRecords
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw new TributaryError('TRIB_INVALID_ARGUMENT', `reader of ${topic}: maxPollRecords must be a positive integer, got ${max}`)
  }
  return options
}

/**
 * The partitions a reader reads, sorted and without duplicates: `options.partitions`, or all of the
 * topic's. Throws `TRIB_LOG_PARTITION_OUT_OF_RANGE` for a partition (listed or in `from`) the topic
 * does not have.
 */
export function readerPartitions(options: ReaderOptions, count: number): number[] {
  const listed = options.partitions ?? Array.from({ length: count }, (_, p) => p)
  const check = (p: number): void => {
    if (!Number.isInteger(p) || p < 0 || p >= count) {
      throw new TributaryError(
        'TRIB_LOG_PARTITION_OUT_OF_RANGE',
        `reader: partition ${p} of topic ${options.topic} is out of range: the topic has partitions 0..${count - 1}`,
        { details: { topic: options.topic, partition: p, partitions: count } },
      )
    }
  }
  for (const p of listed) check(p)
  if (options.from instanceof Map) for (const p of options.from.keys()) check(p)
  return [...new Set(listed)].sort((a, b) => a - b)
}

/** `TRIB_LOG_NOT_ASSIGNED` for a partition the reader does not read. */
export function notReadError(topic: string, partition: number, action: string): TributaryError {
  return new TributaryError('TRIB_LOG_NOT_ASSIGNED', `${action}: partition ${topic}/${partition} is not read by this reader`, {
    details: { topic, partition },
  })
}

/** `TRIB_CLOSED` for a closed reader. */
export function readerClosedError(topic: string): TributaryError {
  return new TributaryError('TRIB_CLOSED', `reader of ${topic} is closed`)
}
