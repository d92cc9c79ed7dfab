/**
 * Burrow's status codes, in severity order, and the JSON shapes of evaluation results.
 *
 * @example
 * ```ts
 * statusName(Status.WARN)   // 'WARN'
 * parseStatus('err')        // Status.ERR (3)
 * ```
 * @module
 */

/** Status codes (the numbers are Burrow's and appear in `burrow_kafka_consumer_status`). */
export const Status = {
  NOTFOUND: 0,
  OK: 1,
  WARN: 2,
  ERR: 3,
  STOP: 4,
  STALL: 5,
  REWIND: 6,
} as const

/** One of the status codes. */
export type StatusCode = (typeof Status)[keyof typeof Status]

/** One of the status names. */
export type StatusName = keyof typeof Status

const NAMES: readonly StatusName[] = ['NOTFOUND', 'OK', 'WARN', 'ERR', 'STOP', 'STALL', 'REWIND']

/** The name of a status code (`'WARN'`). */
export function statusName(code: StatusCode): StatusName {
  return NAMES[code]
}

/** A status name (any case) or code to its code; undefined when unknown. */
export function parseStatus(value: string | number): StatusCode | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value < NAMES.length ? (value as StatusCode) : undefined
  const at = NAMES.indexOf(value.toUpperCase() as StatusName)
  return at < 0 ? undefined : (at as StatusCode)
}

/** One stored commit, as the API shows it (Burrow's `ConsumerOffset`). */
export interface CommitEntry {
  /** The committed offset (the next record the group will read). */
  offset: number
  /** Commit order: the position of the commit in the offsets log. */
  order: number
  /** Commit time (ms since the epoch), from the commit record. */
  timestamp: number
  /** When the monitor saw the commit (ms since the epoch). */
  observedAt: number
  /** High watermark minus offset when stored; null when it could not be computed. */
  lag: number | null
}

/** The status of one partition of a group (Burrow's `PartitionStatus`). */
export interface PartitionStatus {
  topic: string
  partition: number
  owner: string
  client_id: string
  status: StatusName
  start: PublicOffset | null
  end: PublicOffset | null
  current_lag: number
  complete: number
}

/** A commit in API responses: `{offset, timestamp, observedAt, lag}`. */
export interface PublicOffset {
  offset: number
  timestamp: number
  observedAt: number
  lag: number | null
}

/** The status of a group (Burrow's `ConsumerGroupStatus`). */
export interface GroupStatus {
  cluster: string
  group: string
  status: StatusName
  complete: number
  partitions: PartitionStatus[]
  partition_count: number
  maxlag: PartitionStatus | null
  totallag: number
}

/** A commit without its `order`, as the API shows it. */
export function publicOffset(entry: CommitEntry): PublicOffset {
  return { offset: entry.offset, timestamp: entry.timestamp, observedAt: entry.observedAt, lag: entry.lag }
}
