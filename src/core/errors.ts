/**
 * Typed errors with stable codes.
 *
 * Every error Tributary throws on purpose is a {@link TributaryError} whose `code` comes from the
 * closed {@link ErrorCodes} list, so callers can branch on `err.code` instead of parsing messages.
 * `retriable` says whether trying the same operation again may succeed (broker down, rebalance).
 *
 * @example
 * ```ts
 * try { await log.admin.describeTopic('nope') }
 * catch (err) { if (isTributaryError(err, 'TRIB_LOG_UNKNOWN_TOPIC')) console.log(err.message) }
 * ```
 * @module
 */

/** The closed list of error codes. Codes are never reused for another meaning. */
export const ErrorCodes = {
  /** A caller passed an invalid argument or option. */
  TRIB_INVALID_ARGUMENT: 'TRIB_INVALID_ARGUMENT',
  /** A topic does not exist (and auto-creation is off). */
  TRIB_LOG_UNKNOWN_TOPIC: 'TRIB_LOG_UNKNOWN_TOPIC',
  /** A topic that should be created already exists. */
  TRIB_LOG_TOPIC_EXISTS: 'TRIB_LOG_TOPIC_EXISTS',
  /** A partition number is outside `0 .. partitions-1` of its topic. */
  TRIB_LOG_PARTITION_OUT_OF_RANGE: 'TRIB_LOG_PARTITION_OUT_OF_RANGE',
  /** An offset is outside the partition's retained range. */
  TRIB_LOG_OFFSET_OUT_OF_RANGE: 'TRIB_LOG_OFFSET_OUT_OF_RANGE',
  /** No broker could be reached within the connect timeout. */
  TRIB_LOG_BROKER_UNREACHABLE: 'TRIB_LOG_BROKER_UNREACHABLE',
  /** A commit named a partition the member does not own (any more). */
  TRIB_LOG_NOT_ASSIGNED: 'TRIB_LOG_NOT_ASSIGNED',
  /** A group is rebalancing; the operation can be retried after it settles. */
  TRIB_LOG_REBALANCE_IN_PROGRESS: 'TRIB_LOG_REBALANCE_IN_PROGRESS',
  /** Stored data failed its checksum or could not be parsed. */
  TRIB_LOG_CORRUPT: 'TRIB_LOG_CORRUPT',
  /** Another process holds the embedded log directory. */
  TRIB_LOG_LOCKED: 'TRIB_LOG_LOCKED',
  /** A write to an embedded log opened read-only. */
  TRIB_LOG_READ_ONLY: 'TRIB_LOG_READ_ONLY',
  /** The client, producer or consumer was already closed. */
  TRIB_CLOSED: 'TRIB_CLOSED',
  /** An operation did not finish within its timeout. */
  TRIB_TIMEOUT: 'TRIB_TIMEOUT',
  /** A codec could not decode or encode a value. */
  TRIB_CODEC: 'TRIB_CODEC',
  /** The Kafka broker answered with an error. */
  TRIB_LOG_KAFKA: 'TRIB_LOG_KAFKA',
  /** A log URL or backend name is not understood. */
  TRIB_LOG_BAD_URL: 'TRIB_LOG_BAD_URL',
  /** A local state store is corrupt and could not be rebuilt. */
  TRIB_STATE_CORRUPT: 'TRIB_STATE_CORRUPT',
  /** A local state store directory is already open in this process. */
  TRIB_STATE_LOCKED: 'TRIB_STATE_LOCKED',
  /** A processor group graph breaks a rule (no input, two tables, a reused table or loop topic, ...). */
  TRIB_PROCESSOR_GRAPH: 'TRIB_PROCESSOR_GRAPH',
  /** The input, join and group-table topics of a processor have different partition counts. */
  TRIB_PROCESSOR_COPARTITIONING: 'TRIB_PROCESSOR_COPARTITIONING',
  /** A processor callback used an edge its group graph does not declare. */
  TRIB_PROCESSOR_UNDECLARED: 'TRIB_PROCESSOR_UNDECLARED',
  /** A processor callback threw; the processor stopped. */
  TRIB_PROCESSOR_CALLBACK: 'TRIB_PROCESSOR_CALLBACK',
  /** A processor callback called `ctx.fail()`; the processor stopped. */
  TRIB_PROCESSOR_FAILED: 'TRIB_PROCESSOR_FAILED',
  /** A key's partition is not held (or not yet recovered) by this processor instance. */
  TRIB_PROCESSOR_NOT_OWNED: 'TRIB_PROCESSOR_NOT_OWNED',
  /** A view was read before it opened its local stores (call `run()` first). */
  TRIB_VIEW_NOT_READY: 'TRIB_VIEW_NOT_READY',
  /** A monitor configuration is invalid; the message names the file and the field. */
  TRIB_MONITOR_CONFIG: 'TRIB_MONITOR_CONFIG',
  /** A monitor notification could not be delivered after its retries. */
  TRIB_MONITOR_NOTIFY: 'TRIB_MONITOR_NOTIFY',
  // ingest/
  /** An ingestion job config is invalid; the message names the file, the line and the field. */
  TRIB_INGEST_CONFIG: 'TRIB_INGEST_CONFIG',
  /** A message could not become a row of its job's table (not JSON, a null primary key, a missing event time, a value that does not fit); it goes to the job's DLQ. */
  TRIB_INGEST_ROW: 'TRIB_INGEST_ROW',
  // pipeline runtime (src/pipeline)
  /** A pipeline file is invalid; the message names the file, the line and the field. */
  TRIB_PIPELINE_CONFIG: 'TRIB_PIPELINE_CONFIG',
  // pipeline processors (src/pipeline/processors, references, templates)
  /** A processor could not process one record; the message names the processor, the field and the record's position. */
  TRIB_PIPELINE_RECORD: 'TRIB_PIPELINE_RECORD',
  // pipeline connectors
  /** A connector's settings are invalid; the message names each bad setting. */
  TRIB_CONNECTOR_SETTINGS: 'TRIB_CONNECTOR_SETTINGS',
  /** A source's stored position does not fit its input (bad format, past the end of a file, another consumer group). */
  TRIB_CONNECTOR_POSITION: 'TRIB_CONNECTOR_POSITION',
  /** A connector could not read or write its data (corrupt or vanished input, a failed write); the message names the file and the byte offset. */
  TRIB_CONNECTOR_IO: 'TRIB_CONNECTOR_IO',
  /** The dead-letter queue refused a nack: more nacks in its window than `window-nack-threshold`. */
  TRIB_PIPELINE_NACK: 'TRIB_PIPELINE_NACK',
  /** A write to the dead-letter queue failed; the pipeline is degraded. */
  TRIB_PIPELINE_DLQ: 'TRIB_PIPELINE_DLQ',
  /** A connector broke the ack protocol: acks not matching the written positions, or an empty position to ack. */
  TRIB_PIPELINE_ACK: 'TRIB_PIPELINE_ACK',
  /** A pipeline processor threw, or returned no outcomes, too many, or an invalid one. */
  TRIB_PIPELINE_PROCESSOR: 'TRIB_PIPELINE_PROCESSOR',
  /** Records marked for retry were retried more often than allowed (attempts or stalls). */
  TRIB_PIPELINE_RETRY: 'TRIB_PIPELINE_RETRY',
  // pipeline: PostgreSQL connectors
  /** A PostgreSQL connector setting is wrong, or the server does not allow what it asks for; the message names the setting. */
  TRIB_POSTGRES_CONFIG: 'TRIB_POSTGRES_CONFIG',
  /** The PostgreSQL server could not be reached, or went away and did not come back within the retries. */
  TRIB_POSTGRES_UNAVAILABLE: 'TRIB_POSTGRES_UNAVAILABLE',
  /** A record could not be written by the PostgreSQL destination (a nack); details carry PostgreSQL's error code. */
  TRIB_POSTGRES_WRITE: 'TRIB_POSTGRES_WRITE',
  /** The logical replication stream of the PostgreSQL source failed or sent something it cannot decode. */
  TRIB_POSTGRES_REPLICATION: 'TRIB_POSTGRES_REPLICATION',
  // lease/ and kinesis/
  /** A lease was lost (expired and taken, or handed to a claimer): a fenced write by its old owner changed nothing. */
  TRIB_LEASE_LOST: 'TRIB_LEASE_LOST',
  /** A lease store (DynamoDB, PostgreSQL, embedded) failed or refused an operation. */
  TRIB_LEASE_STORE: 'TRIB_LEASE_STORE',
  /** A lease table exists with another schema (gokini's `ErrInvalidDynamoDBSchema`). */
  TRIB_LEASE_SCHEMA: 'TRIB_LEASE_SCHEMA',
  /** A Kinesis call failed: missing stream, access denied, or another service error. */
  TRIB_KINESIS: 'TRIB_KINESIS',
  /** A KPL aggregated record could not be de-aggregated (bad protobuf or checksum). */
  TRIB_KINESIS_AGGREGATE: 'TRIB_KINESIS_AGGREGATE',
  // Kafka in production (TLS, SASL, bounded producer memory)
  /** SASL authentication with a Kafka broker failed (wrong user or password, mechanism not enabled). */
  TRIB_LOG_AUTH_FAILED: 'TRIB_LOG_AUTH_FAILED',
  /** A TLS connection to a Kafka broker failed: untrusted certificate, host name mismatch, client certificate refused, or not a TLS listener. */
  TRIB_LOG_TLS: 'TRIB_LOG_TLS',
  /** A producer's buffer stayed full (records waiting for the broker) for longer than it may wait. */
  TRIB_LOG_BUFFER_FULL: 'TRIB_LOG_BUFFER_FULL',
  // newcomer (readers never lock)
  /** A read-only open found no embedded log in the directory (it does not exist or holds no topics). */
  TRIB_LOG_NOT_FOUND: 'TRIB_LOG_NOT_FOUND',
  // ingest/: controller
  /** The ingestion controller (AresDB's `/assignment/...` protocol) could not be reached or answered something unusable; the message names the URL. */
  TRIB_INGEST_CONTROLLER: 'TRIB_INGEST_CONTROLLER',
} as const

/** One of the stable error codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** Options for {@link TributaryError}. */
export interface TributaryErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
  /** Whether retrying the operation may succeed. Defaults to `false`. */
  retriable?: boolean
  /** Structured details (topic, partition, offset, file, ...) for logs and callers. */
  details?: Record<string, unknown>
}

/** The one error class of Tributary: a stable `code`, a message that says what to fix, and details. */
export class TributaryError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TributaryError'
    this.code = code
    this.retriable = options.retriable ?? false
    this.details = options.details ?? {}
  }
}

/** True when `err` is a {@link TributaryError}, optionally with the given code. */
export function isTributaryError(err: unknown, code?: ErrorCode): err is TributaryError {
  return err instanceof TributaryError && (code === undefined || err.code === code)
}
