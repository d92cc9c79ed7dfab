/**
 * `tributary/ingest`: AresDB-style ingestion jobs — job configs, the rules derived from them, and
 * the mapping of messages to table rows.
 * @module
 */
export * from './column-types.ts'
export * from './job-config.ts'
export * from './row-mapper.ts'
export * from './upsert.ts'
export * from './retry-handler.ts'
export * from './rate-limiter.ts'
