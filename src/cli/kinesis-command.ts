/**
 * `tributary kinesis status --stream S --table T`: each shard's owner, lease age, checkpoint and how
 * far it is behind, from the lease table (DynamoDB, or PostgreSQL / embedded with `--lease-store`).
 * @module
 */
import { Command } from 'commander'
import { dynamoClient, formatKinesisStatus, kinesisClient, kinesisStatus } from '../kinesis/index.ts'
import { dynamoLeaseStore, embeddedLeaseStore, postgresLeaseStore, type LeaseStore } from '../lease/index.ts'
import { positiveInt } from './options.ts'

interface StatusOptions {
  stream: string
  table: string
  region?: string
  endpoint?: string
  dynamoEndpoint?: string
  leaseStore?: string
  leaseDuration: number
  json?: boolean
}

/** Builds the `kinesis` command group. */
export function kinesisCommand(): Command {
  const kinesis = new Command('kinesis').description('Kinesis consumers: leases and checkpoints')
  kinesis
    .command('status')
    .description("print each shard's owner, lease age, checkpoint and how far it is behind")
    .requiredOption('--stream <name>', 'the Kinesis stream')
    .requiredOption('--table <name>', 'the lease table (gokini / vmware-go-kcl / tributary)')
    .option('--region <region>', 'AWS region (default from the environment)')
    .option('--endpoint <url>', 'Kinesis endpoint override (e.g. a local kinesalite)')
    .option('--dynamo-endpoint <url>', 'DynamoDB endpoint override (e.g. a local dynalite)')
    .option('--lease-store <url>', 'lease table elsewhere: postgres://… or file:<dir> (embedded) instead of DynamoDB')
    .option('--lease-duration <ms>', "the workers' lease duration, to compute lease age", positiveInt, 10_000)
    .option('--json', 'print one JSON object per shard')
    .action(async (opts: StatusOptions) => {
      const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1'
      const client = kinesisClient({ region, endpoint: opts.endpoint })
      const dynamo = dynamoClient({ region, endpoint: opts.dynamoEndpoint })
      let store: LeaseStore
      if (opts.leaseStore?.startsWith('postgres')) store = postgresLeaseStore({ connectionString: opts.leaseStore, tableName: opts.table })
      else if (opts.leaseStore?.startsWith('file:')) store = embeddedLeaseStore({ dir: opts.leaseStore.slice('file:'.length) })
      else store = dynamoLeaseStore({ client: dynamo, tableName: opts.table })
      try {
        await store.init()
        const rows = await kinesisStatus({ kinesis: client, store, streamName: opts.stream, leaseDurationMs: opts.leaseDuration })
        if (opts.json) for (const row of rows) console.log(JSON.stringify(row))
        else console.log(formatKinesisStatus(rows))
      } finally {
        await store.close()
        client.destroy()
        dynamo.destroy()
      }
    })
  return kinesis
}
