/**
 * Tributary: stream processing for TypeScript on an embedded log or Apache Kafka.
 *
 * Subpaths: `tributary/core`, `tributary/log`, `tributary/log/embedded`, `tributary/log/kafka`.
 * @module
 */
export * from './core/index.ts'
export * from './log/index.ts'
