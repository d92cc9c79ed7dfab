/**
 * The state of a stream's consumers as the lease table and the stream show it: per shard its owner,
 * how long ago the lease was last renewed (from `LeaseTimeout` minus the lease duration, so it relies
 * on the owner's clock), the checkpoint, and how far the checkpoint is behind the tip
 * (`MillisBehindLatest` of a one-record read after it).
 *
 * @example
 * ```ts
 * for (const s of await kinesisStatus({ kinesis, store, streamName: 'clicks' })) console.log(s.shardId, s.owner, s.millisBehindLatest)
 * ```
 * @module
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis'
import type { LeaseStore } from '../lease/index.ts'
import { kinesisError, listShards } from './shards.ts'
import { SHARD_END } from './types.ts'

/** One shard's row of {@link kinesisStatus}. */
export interface ShardStatus {
  readonly shardId: string
  /** `open` or `closed` (the stream's view), `finished` once checkpointed at SHARD_END. */
  readonly state: 'open' | 'closed' | 'finished'
  readonly owner: string | undefined
  /** ms since the last renewal, judged from `LeaseTimeout` and `leaseDurationMs`; undefined when free. */
  readonly leaseAgeMs: number | undefined
  readonly checkpoint: string | undefined
  readonly parents: readonly string[]
  readonly claim: string | undefined
  /** How far the checkpoint is behind the newest record (ms); undefined for finished shards. */
  readonly millisBehindLatest: number | undefined
}

/** Options of {@link kinesisStatus}. */
export interface KinesisStatusOptions {
  readonly kinesis: KinesisClient
  readonly store: LeaseStore
  readonly streamName: string
  /** The workers' lease duration (ms, default 10,000), to turn `LeaseTimeout` into an age. */
  readonly leaseDurationMs?: number
}

/** Reads every shard's status (the stream's shards joined with the lease rows). */
export async function kinesisStatus(options: KinesisStatusOptions): Promise<ShardStatus[]> {
  const { kinesis, store, streamName } = options
  const duration = options.leaseDurationMs ?? 10_000
  const [shards, leases] = await Promise.all([listShards(kinesis, streamName), store.list()])
  const byKey = new Map(leases.map((l) => [l.key, l]))
  const now = Date.now()
  const rows: ShardStatus[] = []
  for (const shard of shards) {
    const id = shard.ShardId as string
    const lease = byKey.get(id)
    const finished = lease?.closed === true || lease?.checkpoint === SHARD_END
    const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined
    let behind: number | undefined
    if (!finished) {
      try {
        const it = await kinesis.send(
          new GetShardIteratorCommand({ StreamName: streamName, ShardId: id, ShardIteratorType: lease?.checkpoint ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON', StartingSequenceNumber: lease?.checkpoint }),
        )
        behind = (await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1 }))).MillisBehindLatest
      } catch (err) {
        throw kinesisError(err, 'GetRecords', streamName)
      }
    }
    const timeout = lease?.timeout === undefined ? undefined : Date.parse(lease.timeout)
    rows.push({
      shardId: id,
      state: finished ? 'finished' : closed ? 'closed' : 'open',
      owner: lease?.owner,
      leaseAgeMs: lease?.owner !== undefined && timeout !== undefined && !Number.isNaN(timeout) ? Math.max(0, now - (timeout - duration)) : undefined,
      checkpoint: lease?.checkpoint,
      parents: lease?.parents ?? [],
      claim: lease?.claim,
      millisBehindLatest: behind,
    })
  }
  return rows
}

/** Renders {@link ShardStatus} rows as an aligned text table. */
export function formatKinesisStatus(rows: readonly ShardStatus[]): string {
  const cells = rows.map((r) => [
    r.shardId,
    r.state,
    r.owner ?? '-',
    r.leaseAgeMs === undefined ? '-' : `${(r.leaseAgeMs / 1000).toFixed(1)}s`,
    r.checkpoint ?? '-',
    r.millisBehindLatest === undefined ? '-' : `${r.millisBehindLatest}ms`,
    r.parents.join(',') || '-',
  ])
  const header = ['SHARD', 'STATE', 'OWNER', 'LEASE AGE', 'CHECKPOINT', 'BEHIND', 'PARENTS']
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  return [header, ...cells].map((line) => line.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')
}
