/**
 * `tributary/log`: the `Log` interface, partitioners, assignors, and `openLog` to open a backend by URL.
 * @module
 */
export * from './types.ts'
export * from './partitioner.ts'
export { assign, type Assignment, type AssignorMember } from './assignors.ts'
export { openLog, parseLogUrl, type OpenLogOptions, type LogLocation } from './open-log.ts'
export {
  kafkaSecuritySchema,
  mergeSecurity,
  resolveSecurity,
  SASL_MECHANISMS,
  type KafkaSaslOptions,
  type KafkaSecurityOptions,
  type KafkaTlsOptions,
  type PemSource,
  type ResolvedSecurity,
  type SaslMechanism,
  type Secret,
} from './kafka/security.ts'
export { securityError as kafkaSecurityError } from './kafka/errors.ts'
export { openEmbeddedLog, type EmbeddedLog, type EmbeddedLogOptions } from './embedded/index.ts'
