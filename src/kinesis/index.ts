/**
 * `tributary/kinesis`: a KCL/gokini-style Kinesis consumer over the AWS SDK v3, with leases and
 * fenced checkpoints from `tributary/lease`.
 * @module
 */
export * from './types.ts'
export * from './config.ts'
export * from './worker.ts'
export * from './deaggregate.ts'
export * from './metrics.ts'
export { kinesisClient, dynamoClient } from './clients.ts'
export { listShards, shardParents } from './shards.ts'
export * from './status.ts'
