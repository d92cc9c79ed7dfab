/**
 * `tributary/core`: records, codecs, errors, backoff, lifecycle, logging and metrics.
 * @module
 */
export * from './errors.ts'
export * from './record.ts'
export * from './codec.ts'
export * from './backoff.ts'
export * from './lifecycle.ts'
export * from './logger.ts'
export * from './metrics.ts'
