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
export * from './driver.ts'
export * from './controller.ts'
export * from './directory-source.ts'
export * from './http-source.ts'
export * from './sinks/sink.ts'
export * from './sinks/postgres-sink.ts'
export * from './sinks/log-sink.ts'
export * from './map-processor.ts'
export * from './batching-source.ts'
export * from './sharding.ts'
export * from './http-routes.ts'
export * from './metrics.ts'
export * from './spread.ts'
