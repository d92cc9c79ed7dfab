/**
 * Fatal and non-fatal pipeline errors. A fatal error (DLQ write failed, nack threshold exceeded, a
 * connector breaking the ack protocol) stops the pipeline in state `degraded`; any other error
 * restarts it with backoff (state `recovering`), as Conduit does from v0.14 on.
 *
 * @example
 * ```ts
 * throw markFatal(new TributaryError('TRIB_PIPELINE_DLQ', 'dlq write failed'))
 * isFatal(err) // true
 * ```
 * @module
 */

const fatal = new WeakSet<object>()

/** Marks `err` fatal and returns it. */
export function markFatal<E extends Error>(err: E): E {
  fatal.add(err)
  return err
}

/** True when `err` was marked fatal. */
export function isFatal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && fatal.has(err)
}

/** `value` as an Error (things thrown that are not Errors are wrapped). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(typeof value === 'string' ? value : JSON.stringify(value))
}
