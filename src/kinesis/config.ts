/**
 * The worker's configuration: gokini's `KinesisConsumer` fields under camelCase names, validated
 * once with zod; errors name the field.
 *
 * | gokini | ours | default |
 * |---|---|---|
 * | `StreamName` | `streamName` | required |
 * | `ShardIteratorType` | `shardIteratorType` (+ `timestamp` for AT_TIMESTAMP) | `TRIM_HORIZON` |
 * | `TableName` | `tableName` | required without `leaseStore` |
 * | `EmptyRecordBackoffMs` | `emptyRecordBackoffMs` | 500 |
 * | `LeaseDuration` (ms) | `leaseDurationMs` | 10,000 |
 * | `DisableAutomaticCheckpoints` | `disableAutomaticCheckpoints` | false |
 * | `IgnoreShardOrdering` | `ignoreShardOrdering` | false |
 * | `Retries` | `retries` (SDK attempts of clients the worker builds) | 5 |
 * | `Monitoring` | `metrics` (`false` turns them off) | prom-client, prefix `tributary_kinesis` |
 * | `DynamoReadCapacityUnits`, `DynamoWriteCapacityUnits`, `DynamoBillingMode` | `readCapacityUnits`, `writeCapacityUnits`, `billingMode` | `PAY_PER_REQUEST` |
 * @module
 */
import { z } from 'zod'
import { TributaryError } from '../core/errors.ts'

const ms = z.number({ error: 'expected a number of milliseconds' }).int('must be an integer').positive('must be greater than 0')

/** The schema of the plain (non-object) worker options. */
export const workerSettingsSchema = z
  .object({
    streamName: z.string({ error: 'expected the stream name' }).min(1, 'must not be empty'),
    tableName: z.string().min(3, 'DynamoDB table names have at least 3 characters').optional(),
    workerId: z.string().min(1, 'must not be empty').optional(),
    shardIteratorType: z.enum(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']).default('TRIM_HORIZON'),
    timestamp: z.date().optional(),
    emptyRecordBackoffMs: ms.default(500),
    leaseDurationMs: ms.default(10_000),
    leaseRenewIntervalMs: ms.optional(),
    balanceIntervalMs: ms.optional(),
    shardSyncIntervalMs: ms.default(60_000),
    maxRecords: z.number().int().min(1).max(10_000, 'Kinesis returns at most 10,000 records per call').default(10_000),
    disableAutomaticCheckpoints: z.boolean().default(false),
    ignoreShardOrdering: z.boolean().default(false),
    enableLeaseStealing: z.boolean().default(true),
    maxLeasesForWorker: z.number().int().positive().optional(),
    retries: z.number().int().min(0).default(5),
    billingMode: z.enum(['PAY_PER_REQUEST', 'PROVISIONED']).optional(),
    readCapacityUnits: z.number().int().positive().optional(),
    writeCapacityUnits: z.number().int().positive().optional(),
    parentPollIntervalMs: ms.default(1_000),
  })
  .superRefine((v, ctx) => {
    if (v.shardIteratorType === 'AT_TIMESTAMP' && v.timestamp === undefined) ctx.addIssue({ code: 'custom', path: ['timestamp'], message: 'is required with shardIteratorType AT_TIMESTAMP' })
  })

/** Validated plain settings. */
export type WorkerSettings = z.output<typeof workerSettingsSchema>
/** Plain settings as given. */
export type WorkerSettingsInput = z.input<typeof workerSettingsSchema>

/** Validates `input`; throws `TRIB_INVALID_ARGUMENT` naming each bad field. */
export function parseWorkerSettings(input: WorkerSettingsInput): WorkerSettings {
  const result = workerSettingsSchema.safeParse(input)
  if (result.success) return result.data
  const lines = result.error.issues.map((issue) => `${issue.path.join('.') || '(options)'}: ${issue.message}`)
  throw new TributaryError('TRIB_INVALID_ARGUMENT', `invalid KinesisWorker options: ${lines.join('; ')}`, { details: { issues: lines } })
}
