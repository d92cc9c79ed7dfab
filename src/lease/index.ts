/**
 * `tributary/lease`: leases and fenced checkpoints over a {@link LeaseStore} (DynamoDB, PostgreSQL,
 * embedded LMDB), and the {@link LeaseCoordinator} that takes, renews, balances and steals them for
 * one worker.
 * @module
 */
export * from './types.ts'
export * from './coordinator.ts'
export * from './dynamo-store.ts'
export * from './embedded-store.ts'
export * from './postgres-store.ts'
export { leaseTimeout } from './rules.ts'
