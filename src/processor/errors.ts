/**
 * Which errors a processor or view survives by restarting (with backoff) and which stop it.
 *
 * Transient: the log says the operation may succeed later (`retriable`), the broker is unreachable,
 * a rebalance or timeout got in the way, a partition moved, or a raw network error surfaced.
 * Everything else — callback errors, `ctx.fail()`, undecodable input, undeclared edges, unknown
 * topics, co-partitioning mismatches, store failures — stops it with the error.
 *
 * @example
 * ```ts
 * if (!isTransient(err)) throw err // otherwise back off and restart the session
 * ```
 * @module
 */
import { isTributaryError, type ErrorCode } from '../core/errors.ts'

const TRANSIENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TRIB_LOG_BROKER_UNREACHABLE',
  'TRIB_LOG_REBALANCE_IN_PROGRESS',
  'TRIB_LOG_NOT_ASSIGNED',
  'TRIB_TIMEOUT',
])

const FATAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TRIB_PROCESSOR_CALLBACK',
  'TRIB_PROCESSOR_FAILED',
  'TRIB_PROCESSOR_UNDECLARED',
  'TRIB_PROCESSOR_GRAPH',
  'TRIB_PROCESSOR_COPARTITIONING',
  'TRIB_CODEC',
  'TRIB_INVALID_ARGUMENT',
  'TRIB_STATE_CORRUPT',
  'TRIB_STATE_LOCKED',
])

const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND)$/

/** Whether restarting may get past `err`. */
export function isTransient(err: unknown): boolean {
  if (isTributaryError(err)) {
    if (FATAL_CODES.has(err.code)) return false
    return err.retriable || TRANSIENT_CODES.has(err.code)
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_CODES.test(code)) return true
    if (/network|timeout|timed out|socket|connection/i.test(`${err.name} ${err.message}`)) return true
    if (err.cause !== undefined && err.cause !== err) return isTransient(err.cause)
  }
  return false
}
